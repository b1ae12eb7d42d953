"""Turning a loaded page into a Connection, the one place that knows both shapes."""

from __future__ import annotations

from functools import partial
from typing import Callable, Optional

import strawberry

from resolvers.listing import Listing, listing_named
from resolvers.loaders import ListKey
from resolvers.pagination import PageArgs, encode_cursor, row_key
from schema.connection import Connection, Edge, page_info_of


def page_args(info, first, after, last, before) -> PageArgs:
    s = info.context.settings
    return PageArgs(first, after, last, before).validated(s.default_page_size, s.max_page_size)


async def connection(info, key: ListKey, args: PageArgs, to_node: Callable) -> Connection:
    """The connection of one list; its page is loaded (batched) only if edges or pageInfo are asked for."""
    loaders = info.context.loaders
    key_names = listing_named(key.kind).order
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


def listing_field(listing: Listing, node, description: str, *, parent: Callable = lambda self: self.code,
                  filter_input: type | None = None, filters_of: Callable | None = None, to_node: Callable | None = None):
    """A connection field over a registered listing, with ``first/after/last/before``
    (and ``filter`` when the listing has a filter input): the one way to expose a list.

    ``parent`` gives the listing's parent from the object the field is on (an area's code
    by default); ``to_node`` (default ``node.from_row``) turns each row into its GraphQL
    type; ``node`` may be a ``strawberry.lazy`` annotation, then ``to_node`` is needed. Page arguments are
    validated before anything is loaded; ``filter_input.to_filter()`` validates the filter.
    ``filters_of`` gives the filters from the object the field is on instead (a campaign's
    households not reached: the campaign).
    """

    convert = to_node or node.from_row
    if filters_of is not None and filter_input is not None:
        raise TypeError("a listing's filters come from the client (filter_input) or from its object (filters_of)")

    async def resolve(self, info, filter=None, first=None, after=None, last=None, before=None):
        filters = filter.to_filter() if filter is not None else (filters_of(self) if filters_of else None)
        return await connection(info, ListKey(listing.name, parent(self), filters),
                                page_args(info, first, after, last, before), convert)

    hints = {"info": strawberry.Info}
    if filter_input is not None:
        hints["filter"] = Optional[filter_input]
    else:
        resolve = _without_filter(resolve)
    hints.update(first=Optional[int], after=Optional[str], last=Optional[int], before=Optional[str])
    hints["return"] = Connection[node]
    resolve.__annotations__ = hints
    resolve.listing = listing  # found by the generated scope tests through the schema
    return strawberry.field(resolver=resolve, description=description)


def _without_filter(resolve):
    async def resolve_plain(self, info, first=None, after=None, last=None, before=None):
        return await resolve(self, info, None, first, after, last, before)

    return resolve_plain
