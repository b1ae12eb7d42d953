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

from sqlalchemy import Integer, Select, func, literal, select, union_all
from sqlalchemy.orm import aliased

from db.errors import InvalidField

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
    return base64.urlsafe_b64encode(json.dumps(["k", key]).encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> Any:
    try:
        tag, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if tag != "k" or not isinstance(key, (int, str)) or isinstance(key, bool):
            raise ValueError
        return key
    except Exception:  # noqa: BLE001 - any malformed cursor is the same user error
        raise InvalidField(field, "not a cursor returned by this API") from None


@dataclass
class Page:
    rows: list[Any]
    has_next: bool
    has_previous: bool


def _page_stmt(base: Select, key_col, args: PageArgs) -> Select:
    stmt = base
    if args.after is not None:
        stmt = stmt.where(key_col > decode_cursor(args.after, "after"))
    if args.before is not None:
        stmt = stmt.where(key_col < decode_cursor(args.before, "before"))
    order = key_col.desc() if args.backward else key_col.asc()
    return stmt.order_by(order).limit(args.size + 1)


async def fetch_pages(run, model, key_name: str, bases: Sequence[Select], args: PageArgs) -> list[Page]:
    """One page per base statement (each a ``select(model).where(...)``), in few statements.

    ``run`` executes a statement on the request's session (serialised per request).
    """
    if args.size == 0:
        return [Page([], False, False) for _ in bases]
    pages: list[Page] = []
    for start in range(0, len(bases), MAX_UNION):
        chunk = bases[start:start + MAX_UNION]
        key_col = getattr(model, key_name)
        if len(chunk) == 1:
            rows = (await run(_page_stmt(chunk[0], key_col, args))).scalars().all()
            grouped = {0: list(rows)}
        else:
            parts = []
            for i, base in enumerate(chunk):
                inner = _page_stmt(base.add_columns(literal(i, Integer).label("batch_no")), key_col, args)
                parts.append(select(inner.subquery()))
            union = union_all(*parts).subquery()
            entity = aliased(model, union)
            result = await run(select(entity, union.c.batch_no))
            grouped = {i: [] for i in range(len(chunk))}
            for row, batch_no in result.all():
                grouped[batch_no].append(row)
            order = (lambda r: getattr(r, key_name))
            for rows in grouped.values():
                rows.sort(key=order, reverse=args.backward)
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
