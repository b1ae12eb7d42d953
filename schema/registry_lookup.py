"""GraphQL side of ``lookupResident`` (the rule and its reasons: ``resolvers.registry_lookup``).

A mutation, not a query: every call writes an audit row and uses up one of the caller's
daily lookups, and mutations run one after another, so aliases cannot race the quota.
"""

from __future__ import annotations

import strawberry

from resolvers.registry_lookup import lookup_resident
from resolvers.registry_writes import run_mutation
from schema.errors import UserError
from schema.registry import ResidentType


@strawberry.input(description="The national ID number of the one person you look for.")
class LookupResidentInput:
    id_number: str = strawberry.field(description="18-character resident ID number (身份证号), exactly as on the card.")


@strawberry.type(description="The answer of a lookup: the resident (masked as usual) or none in your areas.")
class LookupResidentPayload:
    resident: ResidentType | None = strawberry.field(description="The resident with this ID number in your areas; null when there is none (or on failure).")
    lookups_left_today: int | None = strawberry.field(description="How many lookups you have left today; null on failure.")
    errors: list[UserError] = strawberry.field(description="Empty on success; BAD_USER_INPUT, FORBIDDEN or QUOTA_EXCEEDED otherwise.")


@strawberry.type
class RegistryLookupMutation:
    @strawberry.mutation(description=(
        "Find one resident by full national ID number. Audited (the number is kept only as a keyed hash) "
        "and limited per user and day; searches and filters never match ID numbers or phones where you "
        "may not read personal data."))
    async def lookup_resident(self, info: strawberry.Info, input: LookupResidentInput) -> LookupResidentPayload:
        out = await run_mutation(info.context, lookup_resident, input)
        if out.row is None:
            return LookupResidentPayload(resident=None, lookups_left_today=None, errors=out.errors)
        found = out.row.resident
        return LookupResidentPayload(resident=ResidentType.from_row(found) if found else None,
                                     lookups_left_today=out.row.lookups_left, errors=[])
