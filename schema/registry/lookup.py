"""GraphQL side of ``lookupResident`` (the rule and its reasons: ``resolvers.registry.lookup``).

A mutation, not a query: every call writes an audit row and uses up one of the caller's
daily lookups, and mutations run one after another, so aliases cannot race the quota.
"""

from __future__ import annotations

import strawberry

from resolvers.registry.lookup import lookup_resident
from schema.extend import fields_of
from schema.mutations import Result, mutation
from schema.registry.types import ResidentType


@strawberry.input(description="The national ID number of the one person you look for.")
class LookupResidentInput:
    id_number: str = strawberry.field(description="18-character resident ID number (身份证号), exactly as on the card.")


def _resident(info, answer):
    return ResidentType.from_row(answer.resident) if answer.resident else None


@fields_of("Mutation")
@strawberry.type
class RegistryLookupMutation:
    lookup_resident = mutation(
        lookup_resident, "Find one resident by full national ID number. Audited (the number is kept only as a keyed "
        "hash) and limited per user and day; searches and filters never match ID numbers or phones where you may "
        "not read personal data.",
        arguments={"input": LookupResidentInput},
        results=(Result("resident", ResidentType, "the resident", convert=_resident,
                        field_description="The resident with this ID number in your areas; null when there is none (or on failure)."),
                 Result("lookups_left_today", int, "the lookups left", convert=lambda _info, answer: answer.lookups_left,
                        field_description="How many lookups you have left today; null on failure.")),
        payload_description="The answer of a lookup: the resident (masked as usual) or none in your areas.")
