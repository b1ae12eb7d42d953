"""Relay cursor connections with a ``totalCount`` that costs nothing unless asked for."""

from __future__ import annotations

from typing import Awaitable, Callable, Generic, TypeVar

import strawberry

NodeT = TypeVar("NodeT")


@strawberry.type(description="Where this page sits in the whole list (Relay PageInfo).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One item of a page, with the cursor to continue from it.")
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type(description="A page of a list, Relay style: pass `endCursor` as `after` for the next page.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count_thunk: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of items in the whole list under the same filters (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_thunk()
