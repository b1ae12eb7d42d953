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
