"""How a workflow's record points at the registry's resident: one field, for every domain.

A ledger entry, a survey record, an isolation: each is about a resident, and each answers
``resident`` the same way, through the request's loader (so through the gate: null if the
viewer may not see the person) and masked as the registry masks. Importing this module
assembles nothing, so a domain listed before the registry in ``schema.root.DOMAINS`` may
use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from db.registry import Resident

if TYPE_CHECKING:
    from schema.registry.types import ResidentType


def resident_field(description: str = "The resident of the registry this record is about (null if you may not "
                                      "see them), masked as the registry masks them."):
    """A ``resident`` field for a type whose ``row`` has a ``resident_id``."""

    async def resident(self, info: strawberry.Info) -> Annotated["ResidentType", strawberry.lazy("schema.registry.types")] | None:
        from schema.registry.types import ResidentType

        found = await info.context.loaders.of(Resident).load(self.row.resident_id)
        return ResidentType.from_row(found) if found else None

    return strawberry.field(resolver=resident, description=description)
