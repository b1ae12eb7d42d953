"""The core of the root Query: entry points into the tree; everything else is reached by walking it.

Domains add their own root fields (``schema.extend.fields_of("Query")``); ``schema.root``
assembles them.
"""

from __future__ import annotations

import strawberry
from strawberry import relay

from db.codes import Level, validate_code
from db.errors import InvalidField
from db.validators import has_unstorable_chars
from resolvers import area as area_listings
from resolvers.loaders import ListKey
from resolvers.listing import MAX_SEARCH
from schema.area import AreaType
from schema.connection import Connection
from schema.node_ids import ValidNodeIds
from schema.paging import connection, page_args
from schema.scalars import AreaLevel


@strawberry.type
class AreaQuery:
    node: relay.Node | None = relay.node(
        description="Any object by its global ID; null if it does not exist or is outside your area.",
        extensions=[ValidNodeIds()])
    nodes: list[relay.Node | None] = relay.node(
        description="Objects by global IDs; null for each one that does not exist or is outside your area.",
        extensions=[ValidNodeIds()])

    @strawberry.field(description="One area by its statistical code; null if unknown or outside your view.")
    async def area(self, info: strawberry.Info, code: str) -> AreaType | None:
        a = await info.context.loaders.area.load(validate_code(code, "code"))
        return AreaType.from_row(a) if a else None

    @strawberry.field(description="Areas you may see, filtered by level, parent or name.")
    async def areas(self, info: strawberry.Info, level: AreaLevel | None = None, parent_code: str | None = None,
                    search: str | None = None, first: int | None = None, after: str | None = None,
                    last: int | None = None, before: str | None = None) -> Connection[AreaType]:
        if parent_code is not None:
            validate_code(parent_code, "parentCode")
        search = (search or "").strip() or None
        # Bounded and printable: a 100,000-character pattern failed SQLite's LIKE, and NUL
        # PostgreSQL, both as INTERNAL_SERVER_ERROR.
        if search is not None and len(search) > MAX_SEARCH:
            raise InvalidField("search", f"at most {MAX_SEARCH} characters")
        if search is not None and has_unstorable_chars(search):
            raise InvalidField("search", "must not contain control characters")
        key = ListKey(area_listings.AREAS.name, None, (Level(level).value if level else None, parent_code, search))
        return await connection(info, key, page_args(info, first, after, last, before), AreaType.from_row)
