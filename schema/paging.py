"""Turning a loaded page into a Connection, the one place that knows both shapes."""

from __future__ import annotations

from typing import Callable

from resolvers.loaders import LIST_MODEL, ListKey
from resolvers.pagination import PageArgs, encode_cursor, row_key
from schema.connection import Connection, Edge, PageInfo


def page_args(info, first, after, last, before) -> PageArgs:
    s = info.context.settings
    return PageArgs(first, after, last, before).validated(s.default_page_size, s.max_page_size)


async def connection(info, key: ListKey, args: PageArgs, to_node: Callable) -> Connection:
    loaders = info.context.loaders
    page = await loaders.page.load((key, args))
    key_names = LIST_MODEL[key.kind][1]
    edges = [Edge(cursor=encode_cursor(row_key(row, key_names)), node=to_node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_thunk=lambda: loaders.count.load(key),
    )
