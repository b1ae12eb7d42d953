"""Fields that domains add to shared types (``Area``, ``Resident``, ``Household``).

The isolation workflow adds ``area { isolations }``, the ledgers ``resident { timeline }``;
if ``schema.area`` imported every domain to list their fields, each new domain would edit
it and every domain would import every other. Instead a domain declares a small
``@strawberry.type`` class of its fields for a shared type::

    @fields_of("Area")
    @strawberry.type
    class IsolationAreaFields:
        isolations: ... = listing_field(...)

and the shared type is assembled from its own fields plus every class declared for it
(``mixins``). A declaration that comes after the type was assembled would be silently
lost, so it is refused: import the domain's schema module first (``schema/__init__`` does,
domains before shared types). References back to shared types from a domain's module use
``strawberry.lazy`` so the order can hold.
"""

from __future__ import annotations

from collections import defaultdict

_DECLARED: dict[str, list[type]] = defaultdict(list)
_ASSEMBLED: set[str] = set()


def fields_of(type_name: str):
    """Class decorator: the strawberry type's fields are added to the shared ``type_name``."""

    def declare(cls: type) -> type:
        if type_name in _ASSEMBLED:
            raise RuntimeError(f"{type_name} was already assembled when {cls.__module__}.{cls.__name__} declared "
                               f"fields for it: import that module before the one defining {type_name}")
        if not hasattr(cls, "__strawberry_definition__"):
            raise TypeError(f"{cls.__name__} must be a @strawberry.type to add fields to {type_name}")
        _DECLARED[type_name].append(cls)
        return cls

    return declare


def mixins(type_name: str) -> tuple[type, ...]:
    """The classes declared for ``type_name``, as bases of the type being assembled (once)."""
    _ASSEMBLED.add(type_name)
    return tuple(_DECLARED[type_name])
