"""Global IDs checked before ``node``/``nodes`` look anything up.

Strawberry resolves a global ID's type by name and accepts any type that subclasses
``relay.Node`` — including the ``Node`` interface itself, whose ``resolve_nodes`` is not
implemented: ``node(id: "Tm9kZTox")`` (``Node:1``) answered INTERNAL_SERVER_ERROR with
three chained tracebacks in the log. Every crafted ID is the client's mistake: an ID that
does not name an object type implementing ``Node`` is BAD_USER_INPUT naming the argument.
(An ID of a real type whose key cannot exist answers null, as for a missing object; that
is each type's ``resolve_nodes``.)
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.relay import GlobalID, Node
from strawberry.types.base import StrawberryObjectDefinition

from db.errors import InvalidField


def check_node_type(info, gid: GlobalID, argument: str) -> None:
    type_def = info.schema.get_type_by_name(gid.type_name)
    origin = getattr(type_def, "origin", None)
    if (not isinstance(type_def, StrawberryObjectDefinition) or type_def.is_interface
            or not isinstance(origin, type) or not issubclass(origin, Node)):
        raise InvalidField(argument, "not a valid ID")


class ValidNodeIds(FieldExtension):
    """Refuses ``id``/``ids`` naming no concrete node type, before strawberry resolves them."""

    def _check(self, info, kwargs: dict[str, Any]) -> None:
        if "id" in kwargs:
            check_node_type(info, kwargs["id"], "id")
        for gid in kwargs.get("ids") or ():
            check_node_type(info, gid, "ids")

    def resolve(self, next_, source, info, **kwargs):
        self._check(info, kwargs)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info, **kwargs):
        self._check(info, kwargs)
        result = next_(source, info, **kwargs)
        return await result if hasattr(result, "__await__") else result
