"""Keyset (cursor) pagination, batched across parents.

Offset pagination reads and discards every row before the page; on a city's residents
that is hundreds of thousands of rows. Here a page is ``WHERE key > cursor ORDER BY key
LIMIT n + 1`` (the extra row answers ``hasNextPage``), and the pages of many parents (the
residents of every grid in a nested query) are fetched in one statement, a UNION ALL of
per-parent pages, so a nested query costs a fixed number of statements.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import Integer, Select, func, literal, select, tuple_, union_all
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import aliased

from db.errors import InvalidField
from db.validators import MAX_DB_ID, has_unstorable_chars

#: SQLite's default limit on the members of one compound SELECT is 500.
MAX_UNION = 400


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated(self, default_size: int, max_size: int) -> "PageArgs":
        """Refuse what no page can answer; fill in the default size."""
        if self.first is not None and self.last is not None:
            raise InvalidField("first", "give either first or last, not both")
        for name in ("first", "last"):
            n = getattr(self, name)
            if n is not None and n < 0:
                raise InvalidField(name, "must not be negative")
            if n is not None and n > max_size:
                raise InvalidField(name, f"at most {max_size} items per page")
        for name in ("after", "before"):
            if getattr(self, name) is not None:
                decode_cursor(getattr(self, name), name)
        if self.first is None and self.last is None:
            return PageArgs(default_size, self.after, None, self.before)
        return self

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        return self.last if self.backward else self.first  # type: ignore[return-value]


def encode_cursor(key: Any) -> str:
    if isinstance(key, tuple):
        key = list(key)
    return base64.urlsafe_b64encode(json.dumps(["k", key]).encode()).decode()


def row_key(row: Any, key_names: tuple[str, ...]) -> Any:
    """A row's position in its listing: one value, or a tuple for a composite key."""
    if len(key_names) == 1:
        return getattr(row, key_names[0])
    return tuple(getattr(row, k) for k in key_names)


def _is_key_part(v: Any) -> bool:
    return isinstance(v, (int, str)) and not isinstance(v, bool)


def decode_cursor(cursor: str, field: str = "after") -> Any:
    """The key a cursor stands for: an int or str, or a list of them (a composite key)."""
    try:
        tag, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if tag != "k":
            raise ValueError
        if isinstance(key, list):
            if not key or not all(_is_key_part(v) for v in key):
                raise ValueError
            return tuple(key)
        if not _is_key_part(key):
            raise ValueError
        return key
    except Exception:  # noqa: BLE001 - any malformed cursor is the same user error
        raise InvalidField(field, "not a cursor returned by this API") from None


@dataclass
class Page:
    rows: list[Any]
    has_next: bool
    has_previous: bool


#: Longest string key part a cursor may carry (area codes have 15 characters).
MAX_STR_KEY = 64


def _fits(col, value: Any) -> bool:
    """Whether ``value`` can be compared with ``col``: same kind, storable, in range.

    A crafted cursor's key is compared with the listing's columns in SQL. A string against
    an integer column (or the reverse), an integer past the column's range, or a string
    with NUL failed in the driver or PostgreSQL and came back as INTERNAL_SERVER_ERROR.
    """
    if col.type.python_type is int:
        return isinstance(value, int) and 0 <= value <= MAX_DB_ID
    return isinstance(value, str) and len(value) <= MAX_STR_KEY and not has_unstorable_chars(value)


def cursor_key(cursor: str, field: str, cols: list) -> Any:
    """The key of a cursor of the listing ordered by ``cols``, checked against those columns.

    Every keyset listing (registry, users, audit) decodes its cursors here, so a crafted
    cursor is the same BAD_USER_INPUT everywhere instead of an error in SQL.
    """
    key = decode_cursor(cursor, field)
    parts = key if isinstance(key, tuple) else (key,)
    if len(parts) != len(cols) or (len(cols) == 1 and isinstance(key, tuple)) \
            or not all(_fits(c, v) for c, v in zip(cols, parts)):
        raise InvalidField(field, "not a cursor of this list")
    return key


def _bound(cols: list, cursor: str, field: str):
    """The cursor's key as SQL: a value, or a row value ``(a, b)`` for a composite key."""
    key = cursor_key(cursor, field, cols)
    if len(cols) == 1:
        return cols[0], key
    return tuple_(*cols), tuple_(*(literal(v, c.type) for c, v in zip(cols, key)))


def _page_stmt(base: Select, cols: list, args: PageArgs) -> Select:
    stmt = base
    if args.after is not None:
        lhs, rhs = _bound(cols, args.after, "after")
        stmt = stmt.where(lhs > rhs)
    if args.before is not None:
        lhs, rhs = _bound(cols, args.before, "before")
        stmt = stmt.where(lhs < rhs)
    order = [c.desc() for c in cols] if args.backward else [c.asc() for c in cols]
    return stmt.order_by(*order).limit(args.size + 1)


async def fetch_pages(run, model, key_names: tuple[str, ...], bases: Sequence[Select], args: PageArgs,
                      *, read_only: bool = False) -> list[Page]:
    """One page per base statement (each a ``select(model).where(...)``), in few statements.

    ``key_names`` is the listing's order, unique per row. Registry lists are ordered by
    ``(area_code, id)``: the order of their index, so that a district's first page reads
    51 index entries instead of walking the primary key past every row registered before
    the district's (``bench/``: 50-76 ms became ~1 ms). ``run`` executes a statement on
    the request's session (serialised per request).

    ``read_only``: a single page comes back as plain rows (attribute access by column
    name) instead of ORM objects. Nothing on a page is ever written, and building 50
    tracked objects was 8% of the server's CPU on a page of residents (``bench/``, story
    c). The statement selects the model's columns, so the gate filters it as before; the
    batched path (pages of many parents) keeps ORM objects, whose union the gate filters
    through the aliased entity.
    """
    cols = [getattr(model, k) for k in key_names]
    for field in ("after", "before"):  # checked even for an empty page
        if getattr(args, field) is not None:
            cursor_key(getattr(args, field), field, cols)
    if args.size == 0:
        return [Page([], False, False) for _ in bases]
    pages: list[Page] = []
    for start in range(0, len(bases), MAX_UNION):
        chunk = bases[start:start + MAX_UNION]
        if len(chunk) == 1 and read_only:
            rows = (await run(_page_stmt(chunk[0], cols, args).with_only_columns(*_columns(model)))).all()
            grouped = {0: list(rows)}
        elif len(chunk) == 1:
            rows = (await run(_page_stmt(chunk[0], cols, args))).scalars().all()
            grouped = {0: list(rows)}
        else:
            parts = []
            for i, base in enumerate(chunk):
                inner = _page_stmt(base.add_columns(literal(i, Integer).label("batch_no")), cols, args)
                parts.append(select(inner.subquery()))
            union = union_all(*parts).subquery()
            entity = aliased(model, union)
            result = await run(select(entity, union.c.batch_no))
            grouped = {i: [] for i in range(len(chunk))}
            for row, batch_no in result.all():
                grouped[batch_no].append(row)
            for rows in grouped.values():
                rows.sort(key=lambda r: row_key(r, key_names), reverse=args.backward)
        for i in range(len(chunk)):
            rows = grouped.get(i, [])
            more = len(rows) > args.size
            rows = rows[: args.size]
            if args.backward:
                rows.reverse()
                pages.append(Page(rows, has_next=args.before is not None, has_previous=more))
            else:
                pages.append(Page(rows, has_next=more, has_previous=args.after is not None))
    return pages


def _columns(model) -> list:
    """Every mapped column of ``model``, as ORM attributes (so the statement stays gated)."""
    return [getattr(model, attr.key) for attr in sa_inspect(model).column_attrs]


async def count_many(run, bases: Sequence[Select]) -> list[int]:
    """``count(*)`` of each base statement, in one statement per chunk."""
    counts: list[int] = []
    for start in range(0, len(bases), MAX_UNION):
        chunk = bases[start:start + MAX_UNION]
        parts = [
            select(literal(i, Integer).label("batch_no"), select(func.count()).select_from(b.subquery())
                   .scalar_subquery().label("n"))
            for i, b in enumerate(chunk)
        ]
        result = await run(parts[0] if len(parts) == 1 else union_all(*parts))
        found = {batch_no: n for batch_no, n in result.all()}
        counts.extend(found.get(i, 0) for i in range(len(chunk)))
    return counts
