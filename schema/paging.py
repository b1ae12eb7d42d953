"""Turning a loaded page into a Connection, the one place that knows both shapes."""

from __future__ import annotations

from functools import partial
from typing import Callable

from resolvers.loaders import LIST_MODEL, ListKey
from resolvers.pagination import PageArgs, encode_cursor, row_key
from schema.connection import Connection, Edge, page_info_of


def page_args(info, first, after, last, before) -> PageArgs:
    s = info.context.settings
    return PageArgs(first, after, last, before).validated(s.default_page_size, s.max_page_size)


async def connection(info, key: ListKey, args: PageArgs, to_node: Callable) -> Connection:
    """The connection of one list; its page is loaded (batched) only if edges or pageInfo are asked for."""
    loaders = info.context.loaders
    key_names = LIST_MODEL[key.kind][1]
    parts = None

    async def page():
        nonlocal parts
        if parts is None:
            loaded = await loaders.page.load((key, args))
            edges = [Edge(node=to_node(row), cursor_of=partial(_cursor, row, key_names)) for row in loaded.rows]
            parts = edges, page_info_of(edges, loaded.has_next, loaded.has_previous)
        return parts

    return Connection(page_thunk=page, count_thunk=lambda: loaders.count.load(key))


def _cursor(row, key_names) -> str:
    return encode_cursor(row_key(row, key_names))
