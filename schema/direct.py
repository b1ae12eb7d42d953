"""Fields graphql-core resolves directly, without strawberry's wrapper around each call.

Strawberry wraps every field that has a resolver: it converts the arguments, builds an
``Info``, runs the field-extension chain and the exception handlers, then calls the
resolver. That is several microseconds per call, and a page of 50 residents in clear
calls the personal fields 150 times: in a profile of that page (``bench/``, story c) the
wrapper was about 14% of the server's CPU. A field marked here takes no arguments and has
no field extension, so all the wrapper does is overhead; once the schema is built,
:func:`install` replaces its graphql-core ``resolve`` by the marked function, which is
called as ``function(source, context)``.

The replacement is checked, not assumed: a marked field that has arguments or extensions
is refused at start-up.
"""

from __future__ import annotations

from typing import Any, Callable

import strawberry
from graphql import GraphQLObjectType, GraphQLSchema

#: The key strawberry keeps its field under in a graphql-core field's ``extensions``.
STRAWBERRY_FIELD = "strawberry-definition"


def direct(resolver: Callable, function: Callable[[Any, Any], Any]) -> Callable:
    """Mark ``resolver`` (a strawberry resolver) to be resolved by ``function(source, context)``."""
    resolver.direct = function
    return resolver


def install(graphql_schema: GraphQLSchema) -> int:
    """Resolve every marked field directly; the number of fields changed."""
    changed = 0
    for type_ in graphql_schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, gql_field in type_.fields.items():
            field = (gql_field.extensions or {}).get(STRAWBERRY_FIELD)
            resolver = getattr(field, "base_resolver", None)
            function = getattr(getattr(resolver, "wrapped_func", None), "direct", None)
            if function is None:
                continue
            if gql_field.args or field.extensions:
                raise TypeError(f"{type_.name}.{name} is marked direct but has arguments or extensions")
            gql_field.resolve = _calling(function)
            changed += 1
    return changed


def _calling(function: Callable[[Any, Any], Any]):
    def resolve(source, info):
        return function(source, info.context)

    return resolve


def row_field(column, graphql_type, description: str, *, convert: Callable[[Any], Any] | None = None):
    """A field read from ``self.row`` (the table row a type wraps), resolved directly.

    ``Model.column`` names what is read; ``convert`` (an enum class, say) turns a stored
    value that is not None into what the field answers. Types used to copy every such
    value into their own attributes when built (``from_row``), for every row of a page,
    whether the query asked for it or not: 7% of the server's CPU on a page of 50.
    """
    name = column.key

    def read(row):
        value = getattr(row, name)
        return convert(value) if convert is not None and value is not None else value

    def resolve(self):
        return read(self.row)

    resolve.__annotations__ = {"return": graphql_type}
    resolve.__name__ = name
    direct(resolve, lambda source, _ctx: read(source.row))
    return strawberry.field(resolver=resolve, description=description)
