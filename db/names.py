"""How a Python name is written in the API: ``area_code`` is ``areaCode``.

Layers below the API name inputs in Python style now and then (``InvalidField("age_min", ...)``);
the client sees the argument's GraphQL name. One rule for the schema's payload errors, the
names of declared mutations and the resolvers' field errors, which had one each (and two
differed on ``foo_bAR``).
"""

from __future__ import annotations


def camel(name: str | None) -> str | None:
    """``area_code`` -> ``areaCode``; a name without ``_`` (or None) unchanged.

    Only the first letter of each later part is raised, as Strawberry names fields
    (``id_number`` -> ``idNumber``), so a name already in camelCase stays as it is.
    """
    if not name or "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
