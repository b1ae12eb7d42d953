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
    node: NodeT
    #: The cursor is encoded only when asked for (most pages are read without them).
    cursor_of: strawberry.Private[Callable[[], str]]

    @strawberry.field
    def cursor(self) -> str:
        return self.cursor_of()


#: What a page resolves to: its edges and its PageInfo.
PageParts = tuple[list, PageInfo]


@strawberry.type(description="A page of a list, Relay style: pass `endCursor` as `after` for the next page.")
class Connection(Generic[NodeT]):
    """``edges``/``pageInfo`` and ``totalCount`` each load only when selected.

    ``residents(first: 0) { totalCount }`` used to fetch a page nobody asked for besides
    the count; now the page is fetched only for ``edges`` or ``pageInfo`` (once for both).
    """

    page_thunk: strawberry.Private[Callable[[], Awaitable[PageParts]]]
    count_thunk: strawberry.Private[Callable[[], Awaitable[int]]]

    @classmethod
    def ready(cls, edges: list, page_info: PageInfo, count_thunk) -> "Connection":
        """A connection over a page already loaded."""
        async def page() -> PageParts:
            return edges, page_info

        return cls(page_thunk=page, count_thunk=count_thunk)

    @strawberry.field
    async def edges(self) -> list[Edge[NodeT]]:
        return (await self.page_thunk())[0]

    @strawberry.field
    async def page_info(self) -> PageInfo:
        return (await self.page_thunk())[1]

    @strawberry.field(description="Number of items in the whole list under the same filters (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_thunk()


def page_info_of(edges: list[Edge], has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(has_next_page=has_next, has_previous_page=has_previous,
                    start_cursor=edges[0].cursor() if edges else None,
                    end_cursor=edges[-1].cursor() if edges else None)
