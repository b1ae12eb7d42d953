"""One person, one file (一人一档): ``Resident.timeline``, everything recorded about a person.

Each domain that keeps records about residents registers a source here (its table, how
its rows belong to a resident, its GraphQL type), and the timeline lists them together,
newest first: a survey record, a ledger entry, a follow-up, and (with the next workflows)
isolations, samples and services. No domain imports another for it, and the registry's
``Resident`` does not import this module: the field is added with ``schema.extend``.

Every source is read through the request's gate, one statement each, so an entry the
viewer may not read is not there (an analyst's timeline is empty) and one they may read
only masked comes with its personal fields masked, by the same mechanism as anywhere.

Order: by when the entry was recorded (``created_at``, newest first), then by kind and id,
so the order is total and a cursor ``(at, kind, id)`` continues it. Each source fetches at
most one page from after the cursor; the pages are merged, so a page costs one statement
per source, whatever the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable

import strawberry
from sqlalchemy import and_, func, or_, select

from db.accounts import User
from db.base import aware
from db.errors import InvalidField
from resolvers.pagination import decode_cursor, encode_cursor
from schema.connection import Connection, Edge, page_info_of
from schema.extend import fields_of
from schema.paging import page_args


@dataclass(frozen=True)
class TimelineSource:
    kind: str
    model: type
    #: The SQL condition "this row is about resident ``resident_id``".
    about: Callable[[int], Any]
    #: The GraphQL type of an entry (``from_row``), a Relay node.
    node: Any


_SOURCES: dict[str, TimelineSource] = {}


def register_timeline_source(kind: str, model: type, about: Callable[[int], Any], node: Any) -> TimelineSource:
    """Add ``model``'s rows about a resident to every resident's timeline, as entries of ``kind``."""
    if kind in _SOURCES and _SOURCES[kind].model is not model:
        raise ValueError(f"a timeline source named {kind!r} is already registered")
    source = _SOURCES[kind] = TimelineSource(kind, model, about, node)
    return source


def timeline_sources() -> tuple[TimelineSource, ...]:
    return tuple(sorted(_SOURCES.values(), key=lambda s: s.kind))


@strawberry.type(description="One entry of a person's file: what was recorded, when, by whom.")
class TimelineEntry:
    at: datetime = strawberry.field(description="When it was recorded.")
    kind: str = strawberry.field(description="Which record: key_person, returnee, follow_up, ...")
    record: strawberry.relay.Node = strawberry.field(description="The record itself (a KeyPerson, a Returnee, a FollowUp, ...), masked as anywhere.")
    recorded_by_id: strawberry.Private[int | None]

    @strawberry.field(description="Who recorded it (the staff member's display name).")
    async def recorded_by(self, info: strawberry.Info) -> str | None:
        if self.recorded_by_id is None:
            return None
        user = await info.context.loaders.of(User).load(self.recorded_by_id)
        return user.display_name if user else None


def _after(source: TimelineSource, key: tuple[datetime, str, int]):
    """Rows of ``source`` that come after the cursor in (at desc, kind, id desc) order."""
    at, kind, row_id = key
    model = source.model
    if source.kind > kind:
        return model.created_at <= at
    if source.kind < kind:
        return model.created_at < at
    return or_(model.created_at < at, and_(model.created_at == at, model.id < row_id))


def _cursor_key(cursor: str) -> tuple[datetime, str, int]:
    key = decode_cursor(cursor, "after")
    try:
        at, kind, row_id = key
        moment = datetime.fromisoformat(at)
        if not isinstance(kind, str) or not isinstance(row_id, int) or kind not in _SOURCES:
            raise ValueError
    except (TypeError, ValueError):
        raise InvalidField("after", "not a cursor of this list") from None
    return aware(moment).astimezone(timezone.utc), kind, row_id


def _sort_key(entry: TimelineEntry) -> tuple:
    # newest first, then kind ascending, then id descending: as _after continues it
    return (-entry.at.timestamp(), entry.kind, -entry.record.row.id)


async def timeline(info, resident_id: int, first: int | None, after: str | None) -> Connection[TimelineEntry]:
    args = page_args(info, first, after, None, None)
    key = _cursor_key(after) if after is not None else None
    ctx, size = info.context, args.size
    sources = timeline_sources()
    ctx.charge(len(sources) * max(size, 1))  # one page per source, merged
    entries: list[TimelineEntry] = []
    for source in sources:
        stmt = select(source.model).where(source.about(resident_id))
        if key is not None:
            stmt = stmt.where(_after(source, key))
        stmt = stmt.order_by(source.model.created_at.desc(), source.model.id.desc()).limit(size + 1)
        for row in (await ctx.run(stmt)).scalars().all():
            entries.append(TimelineEntry(at=aware(row.created_at), kind=source.kind, record=source.node.from_row(row),
                                         recorded_by_id=row.created_by))
    entries.sort(key=_sort_key)
    page, more = entries[:size], len(entries) > size
    edges = [Edge(node=e, cursor_of=partial(encode_cursor, (e.at.isoformat(), e.kind, e.record.row.id))) for e in page]

    async def count() -> int:
        ctx.charge(len(sources))
        total = 0
        for source in sources:
            total += (await ctx.run(select(func.count()).select_from(source.model)
                                    .where(source.about(resident_id)))).scalar_one()
        return total

    return Connection.ready(edges, page_info_of(edges, more, after is not None), count)


@fields_of("Resident")
@strawberry.type
class TimelineResidentFields:
    @strawberry.field(description="One person, one file (一人一档): everything recorded about the person that you may "
                                  "read, newest first (ledger entries and follow-ups; more kinds with each workflow).")
    async def timeline(self, info: strawberry.Info, first: int | None = None,
                       after: str | None = None) -> Connection[TimelineEntry]:
        return await timeline(info, self.row.id, first, after)

