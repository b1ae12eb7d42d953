"""GraphQL of the returnee ledger (返乡人员台账): types, the list under ``Area``, mutations.

The personal columns (``db.returnee`` says which and why) are shown through
``personal_field``: in clear where the viewer holds ``returnee read_pii``, masked otherwise
(free text ****, health answers null). ``Returnee.resident`` is the registry's ``Resident``,
referenced lazily so this module comes before the registry's in ``schema.root.DOMAINS``
and the registry never imports the ledger.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Optional

import strawberry
from sqlalchemy import select
from strawberry import UNSET, relay

from db import returnee as rows
from db.base import aware
from db.returnee import DEFAULT_FOLLOW_UP_DAYS, Health, ReturneeStatus, Transport
from resolvers import returnee as ledger
from schema.direct import row_field
from schema.extend import fields_of
from schema.mutations import Result, VERSION_SENT, input_mutation
from schema.nodes import RowNode, version_field
from schema.paging import listing_field
from schema.personal import personal_field
from schema.registry.references import resident_field
from schema.timeline import register_timeline_source


ReturneeStatusEnum = strawberry.enum(ReturneeStatus, name="ReturneeStatus",
                                     description="Being followed up (随访中), completed (期满解除) or moved away (已离开).")
TransportEnum = strawberry.enum(Transport, name="Transport", description="How the returnee travelled back.")
HealthEnum = strawberry.enum(Health, name="FollowUpHealth",
                             description="What a follow-up found: well (无异常), fever (发热), other symptoms (其他症状).")


@strawberry.enum(description="How a returnee's follow-up ended.")
class ReturneeClosing(enum.Enum):
    COMPLETED = ReturneeStatus.COMPLETED.value
    MOVED_AWAY = ReturneeStatus.MOVED_AWAY.value


#: A returnee's follow-ups, newest first (one loader key, so every returnee of a page batches).
NEWEST_FIRST = rows.FollowUp.on.desc()


@strawberry.type(name="FollowUp", description="One day's follow-up (随访) of a returnee.")
class FollowUpType(RowNode):
    row_model = rows.FollowUp
    id: relay.NodeID[int]
    row: strawberry.Private[rows.FollowUp]
    area_code: str = strawberry.field(description="Code of the returnee's grid (网格).")
    on = row_field(rows.FollowUp.on, date, "The local day of the follow-up.")
    health = personal_field(rows.FollowUp.health, "What the follow-up found (well, fever, other_symptoms); null unless you may read personal data here.")
    temperature = personal_field(rows.FollowUp.temperature, "Body temperature in °C, if taken; null unless you may read personal data here.")
    note = personal_field(rows.FollowUp.note, "Free-text note, up to 200 characters; masked unless you may read personal data here.")

    @classmethod
    def from_row(cls, r: rows.FollowUp) -> "FollowUpType":
        return cls(id=r.id, row=r, area_code=r.area_code)


@strawberry.type(name="Returnee", description="An entry of the returnee ledger (返乡人员台账).")
class ReturneeType(RowNode):
    row_model = rows.Returnee
    id: relay.NodeID[int]
    row: strawberry.Private[rows.Returnee]
    area_code: str = strawberry.field(description="Code of the grid (网格) the returnee lives in.")
    from_key_area = row_field(rows.Returnee.from_key_area, bool, "Came back from a key area (重点地区).")
    departed_on = row_field(rows.Returnee.departed_on, date, "The day they left where they came from.")
    arrived_on = row_field(rows.Returnee.arrived_on, date, "The day they arrived back.")
    transport = row_field(rows.Returnee.transport, TransportEnum, "How they travelled.", convert=Transport)
    follow_up_days = row_field(rows.Returnee.follow_up_days, int, "Days of follow-up from arrival (default 14).")
    follow_up_until = row_field(rows.Returnee.follow_up_until, date, "Last day of the follow-up period (arrival plus followUpDays).")
    status = row_field(rows.Returnee.status, ReturneeStatusEnum, "Where the follow-up stands.", convert=ReturneeStatus)
    removed_at = row_field(rows.Returnee.removed_at, Optional[datetime], "When the entry was removed from the ledger, if it was.", convert=aware)
    version = version_field(rows.Returnee)
    origin = personal_field(rows.Returnee.origin, "Where they came from (province/city); masked unless you may read personal data here.")
    transport_number = personal_field(rows.Returnee.transport_number, "Train, flight or coach number, or plate; masked unless you may read personal data here.")
    removed_reason = personal_field(rows.Returnee.removed_reason, "Why the entry was removed, if it was; masked unless you may read personal data here.")

    @classmethod
    def from_row(cls, r: rows.Returnee) -> "ReturneeType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    resident = resident_field("The resident of the registry this entry is about (null if you may not see them).")

    @strawberry.field(description="The follow-ups (随访) recorded, newest first.")
    async def follow_ups(self, info: strawberry.Info) -> list[FollowUpType]:
        found = await info.context.loaders.grouped(rows.FollowUp.returnee_id, NEWEST_FIRST).load(self.id)
        return [FollowUpType.from_row(r) for r in found]


@strawberry.input(description="Filters for the returnee ledger; removed entries are left out unless asked for.")
class ReturneeFilterInput:
    status: ReturneeStatusEnum | None = strawberry.field(default=None, description="Only entries with this status.")
    from_key_area: bool | None = strawberry.field(default=None, description="Only entries from (true) or not from (false) a key area.")
    due_today: bool | None = strawberry.field(default=None, description="true: only entries due a follow-up today (following up, today inside the period, none recorded today); false: the others.")
    overdue: bool | None = strawberry.field(default=None, description="true: only entries that missed yesterday's follow-up inside their period; false: the others.")
    include_removed: bool = strawberry.field(default=False, description="Also list entries removed from the ledger.")

    def to_filter(self) -> ledger.ReturneeFilter:
        return ledger.ReturneeFilter(status=ReturneeStatus(self.status).value if self.status else None,
                                     from_key_area=self.from_key_area, due_today=self.due_today,
                                     overdue=self.overdue, include_removed=self.include_removed)


@fields_of("Area")
@strawberry.type
class ReturneeAreaFields:
    returnees = listing_field(ledger.RETURNEES, ReturneeType, "The returnee ledger (返乡人员台账) anywhere in this area, filtered; ordered by grid, then entry.",
                              filter_input=ReturneeFilterInput)

    @strawberry.field(description="Returnees being followed up in the whole area, from its grids' counters; null "
                                  "unless you may read aggregates for all of it.")
    async def returnees_following(self, info: strawberry.Info) -> int | None:
        if not info.context.may("aggregate", "read", self.code):
            return None
        return (await info.context.loaders.stats.load(self.code))["returnees_following"]


# -- mutations ----------------------------------------------------------------------------

@strawberry.input(description="Open a returnee entry for a resident; it lies in the resident's grid.")
class OpenReturneeInput:
    resident_id: strawberry.ID = strawberry.field(description="Global ID of the Resident.")
    origin: str = strawberry.field(description="Where they came from (province/city), up to 100 characters.")
    transport: TransportEnum
    arrived_on: date | None = strawberry.field(default=None, description="Not in the future, not before the birth date; today when left out.")
    departed_on: date | None = strawberry.field(default=None, description="Not after the arrival; the arrival day when left out.")
    from_key_area: bool = strawberry.field(default=False, description="Came back from a key area (重点地区).")
    transport_number: str | None = strawberry.field(default=None, description="Up to 20 characters.")
    follow_up_days: int = strawberry.field(default=DEFAULT_FOLLOW_UP_DAYS, description="1-60 days of follow-up from arrival.")


@strawberry.input(description="Corrections to a returnee entry; fields left out stay as they are.")
class UpdateReturneeInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Returnee.")
    version: int = strawberry.field(description=VERSION_SENT)
    origin: str | None = UNSET
    from_key_area: bool | None = UNSET
    departed_on: date | None = UNSET
    arrived_on: date | None = strawberry.field(default=UNSET, description="Not after a follow-up already recorded.")
    transport: TransportEnum | None = UNSET
    transport_number: str | None = strawberry.field(default=UNSET, description="null or empty clears it.")
    follow_up_days: int | None = strawberry.field(default=UNSET, description="1-60; the period must still hold every follow-up recorded.")


@strawberry.input(description="Today's follow-up of a returnee being followed up (one per day).")
class RecordFollowUpInput:
    returnee_id: strawberry.ID = strawberry.field(description="Global ID of the Returnee.")
    health: HealthEnum
    temperature: float | None = strawberry.field(default=None, description="°C, 34.0-43.0.")
    note: str | None = strawberry.field(default=None, description="Up to 200 characters.")


@strawberry.input(description="End a returnee's follow-up.")
class CloseReturneeInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Returnee.")
    version: int = strawberry.field(description=VERSION_SENT)
    status: ReturneeClosing


@strawberry.input(description="Remove an entry from the ledger (soft: it stays in history, no longer listed or counted).")
class RemoveReturneeInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Returnee.")
    version: int = strawberry.field(description=VERSION_SENT)
    reason: str = strawberry.field(description="Up to 200 characters.")


@fields_of("Mutation")
@strawberry.type
class ReturneeMutation:
    open_returnee = input_mutation(ledger.open_returnee, "Open a returnee entry (返乡登记) for a resident.", OpenReturneeInput,
                            Result("returnee", ReturneeType, "the new entry"))
    update_returnee = input_mutation(ledger.update_returnee, "Correct a returnee entry.", UpdateReturneeInput,
                              Result("returnee", ReturneeType, "the entry as changed"))
    record_follow_up = input_mutation(ledger.record_follow_up, "Record today's follow-up (随访) of a returnee.",
                               RecordFollowUpInput, Result("followUp", FollowUpType, "the follow-up recorded"))
    close_returnee = input_mutation(ledger.close_returnee, "End a returnee's follow-up: completed or moved away.",
                             CloseReturneeInput, Result("returnee", ReturneeType, "the entry, now closed"))
    remove_returnee = input_mutation(ledger.remove_returnee, "Remove an entry from the ledger (soft removal, with a reason).",
                              RemoveReturneeInput, Result("returnee", ReturneeType, "the entry, now removed"))


register_timeline_source("returnee", rows.Returnee, lambda resident_id: rows.Returnee.resident_id == resident_id,
                         ReturneeType)
register_timeline_source("follow_up", rows.FollowUp, lambda resident_id: rows.FollowUp.returnee_id.in_(
    select(rows.Returnee.id).where(rows.Returnee.resident_id == resident_id)), FollowUpType)
