"""GraphQL of isolation (居家隔离 / 集中隔离): sites, records, readings, alerts, deliveries.

Personal columns (``db.isolation`` says which and why) are shown through ``personal_field``:
in clear where the viewer holds ``isolation read_pii``, masked otherwise (reasons and
temperatures null, free text ****).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Optional

import strawberry
from strawberry import UNSET, relay

from db import isolation as rows
from db.base import aware
from db.isolation import DoorSeal, IsolationKind, IsolationReason, IsolationStatus, ReadingWindow
from resolvers import isolation as work
from resolvers.global_ids import decode_id
from schema.direct import row_field
from schema.extend import fields_of
from schema.mutations import Result, VERSION_SENT, input_mutation
from schema.nodes import RowNode, version_field
from schema.paging import listing_field
from schema.personal import personal_field
from schema.registry.references import resident_field
from schema.timeline import register_timeline_source

KindEnum = strawberry.enum(IsolationKind, name="IsolationKind", description="At home (居家) or at a central site (集中).")
ReasonEnum = strawberry.enum(IsolationReason, name="IsolationReason", description=(
    "Close contact (密切接触者), returnee from a key area (重点地区返乡), fever follow-up (发热随访), other."))
SealEnum = strawberry.enum(DoorSeal, name="DoorSeal", description="Door seal: none, paper seal (封条), electronic (电子门磁).")
StatusEnum = strawberry.enum(IsolationStatus, name="IsolationStatus", description=(
    "Active, released (解除隔离), moved to hospital (转送医院) or moved to another site."))
WindowEnum = strawberry.enum(ReadingWindow, name="ReadingWindow", description="The morning or the evening reading.")


@strawberry.enum(description="How an isolation ends.")
class IsolationEnding(enum.Enum):
    RELEASED = IsolationStatus.RELEASED.value
    HOSPITAL = IsolationStatus.HOSPITAL.value
    MOVED_SITE = IsolationStatus.MOVED_SITE.value


@strawberry.type(name="IsolationSite", description="A central isolation site (集中隔离点) of an area.")
class IsolationSiteType(RowNode):
    row_model = rows.IsolationSite
    id: relay.NodeID[int]
    row: strawberry.Private[rows.IsolationSite]
    area_code: str = strawberry.field(description="Code of the area the site belongs to.")
    name = row_field(rows.IsolationSite.name, str, "Name, up to 100 characters.")
    address = row_field(rows.IsolationSite.address, str, "Address of the site (a place, not a person's).")
    capacity = row_field(rows.IsolationSite.capacity, int, "Places.")
    active = row_field(rows.IsolationSite.active, bool, "Takes people now.")
    version = version_field(rows.IsolationSite)

    @classmethod
    def from_row(cls, r: rows.IsolationSite) -> "IsolationSiteType":
        return cls(id=r.id, row=r, area_code=r.area_code)


@strawberry.type(name="TemperatureReading", description="A temperature reading (体温监测) of a person in isolation.")
class ReadingType(RowNode):
    row_model = rows.TemperatureReading
    id: relay.NodeID[int]
    row: strawberry.Private[rows.TemperatureReading]
    area_code: str = strawberry.field(description="Code of the person's grid.")
    at = row_field(rows.TemperatureReading.at, datetime, "When it was taken.", convert=aware)
    on = row_field(rows.TemperatureReading.on, date, "Its local day.")
    window = row_field(rows.TemperatureReading.window, Optional[WindowEnum], "The reading window it fell in, if any.",
                       convert=lambda v: ReadingWindow(v) if v else None)
    alert = row_field(rows.TemperatureReading.alert, bool, "It raised a fever alert (37.3 °C or more).")
    acknowledged_at = row_field(rows.TemperatureReading.acknowledged_at, Optional[datetime], "When its alert was acknowledged.", convert=aware)
    celsius = personal_field(rows.TemperatureReading.celsius, "°C; null unless you may read personal data here.")
    symptoms = personal_field(rows.TemperatureReading.symptoms, "Symptoms noted; masked unless you may read personal data here.")
    acknowledgement = personal_field(rows.TemperatureReading.acknowledgement, "What was done about the alert; masked unless you may read personal data here.")
    version = version_field(rows.TemperatureReading)

    @classmethod
    def from_row(cls, r: rows.TemperatureReading) -> "ReadingType":
        return cls(id=r.id, row=r, area_code=r.area_code)


@strawberry.type(name="SupplyDelivery", description="Supplies brought to a person in isolation (生活物资保障).")
class DeliveryType(RowNode):
    row_model = rows.SupplyDelivery
    id: relay.NodeID[int]
    row: strawberry.Private[rows.SupplyDelivery]
    area_code: str = strawberry.field(description="Code of the person's grid.")
    at = row_field(rows.SupplyDelivery.at, datetime, "When they were delivered.", convert=aware)
    items = personal_field(rows.SupplyDelivery.items, "What was delivered; masked unless you may read personal data here.")

    @classmethod
    def from_row(cls, r: rows.SupplyDelivery) -> "DeliveryType":
        return cls(id=r.id, row=r, area_code=r.area_code)


@strawberry.type(name="Isolation", description="An isolation record (隔离) of a person, at home or at a central site.")
class IsolationType(RowNode):
    row_model = rows.Isolation
    id: relay.NodeID[int]
    row: strawberry.Private[rows.Isolation]
    area_code: str = strawberry.field(description="Code of the person's grid.")
    kind = row_field(rows.Isolation.kind, KindEnum, "Home or central.", convert=IsolationKind)
    starts_on = row_field(rows.Isolation.starts_on, date, "First day.")
    planned_end = row_field(rows.Isolation.planned_end, date, "Last planned day.")
    seal = row_field(rows.Isolation.seal, SealEnum, "Door seal.", convert=DoorSeal)
    sealed_at = row_field(rows.Isolation.sealed_at, Optional[datetime], "When the seal was applied.", convert=aware)
    status = row_field(rows.Isolation.status, StatusEnum, "Where it stands.", convert=IsolationStatus)
    ended_at = row_field(rows.Isolation.ended_at, Optional[datetime], "When it ended.", convert=aware)
    alert_open = row_field(rows.Isolation.alert_open, bool, "A fever alert waits to be acknowledged.")
    reason = personal_field(rows.Isolation.reason, "Why (close contact, returnee from a key area...); null unless you may read personal data here.",
                            graphql_type=Optional[ReasonEnum], convert=lambda v: IsolationReason(v) if v else None)
    end_reason = personal_field(rows.Isolation.end_reason, "Why it ended early, or where they went; masked unless you may read personal data here.")
    version = version_field(rows.Isolation)

    @classmethod
    def from_row(cls, r: rows.Isolation) -> "IsolationType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    resident = resident_field("The person isolated (null if you may not see them).")

    @strawberry.field(description="The central site, for a central isolation (null if none or not visible).")
    async def site(self, info: strawberry.Info) -> IsolationSiteType | None:
        if self.row.site_id is None:
            return None
        found = await info.context.loaders.of(rows.IsolationSite).load(self.row.site_id)
        return IsolationSiteType.from_row(found) if found else None

    @strawberry.field(description="Temperature readings, newest first.")
    async def readings(self, info: strawberry.Info) -> list[ReadingType]:
        found = await info.context.loaders.grouped(rows.TemperatureReading.isolation_id,
                                                   rows.TemperatureReading.at.desc()).load(self.id)
        return [ReadingType.from_row(r) for r in found]

    @strawberry.field(description="Supply deliveries, newest first.")
    async def deliveries(self, info: strawberry.Info) -> list[DeliveryType]:
        found = await info.context.loaders.grouped(rows.SupplyDelivery.isolation_id,
                                                   rows.SupplyDelivery.at.desc()).load(self.id)
        return [DeliveryType.from_row(r) for r in found]


@strawberry.input(description="Filters for isolation records.")
class IsolationFilterInput:
    status: StatusEnum | None = strawberry.field(default=None, description="Only records with this status.")
    kind: KindEnum | None = None
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Only records at this IsolationSite.")
    alert_open: bool | None = strawberry.field(default=None, description="Only records with (true) or without (false) an open fever alert.")
    due_now: bool | None = strawberry.field(default=None, description="true: only active records due a reading in the window open now (none when no window is open).")
    missed: bool | None = strawberry.field(default=None, description="true: only active records with no reading in the last window that closed.")

    def to_filter(self) -> work.IsolationFilter:
        return work.IsolationFilter(
            status=IsolationStatus(self.status).value if self.status else None,
            kind=IsolationKind(self.kind).value if self.kind else None,
            site_id=decode_id(self.site_id, "IsolationSite", "siteId") if self.site_id is not None else None,
            alert_open=self.alert_open, due_now=self.due_now, missed=self.missed)


@fields_of("Area")
@strawberry.type
class IsolationAreaFields:
    isolations = listing_field(work.ISOLATIONS, IsolationType, "Isolation records anywhere in this area, filtered; ordered by grid, then record.",
                               filter_input=IsolationFilterInput)
    isolation_sites = listing_field(work.SITES, IsolationSiteType, "Central isolation sites of this area, of the areas above it and inside it.")

    @strawberry.field(description="People isolated now in the whole area (home, central) and open fever alerts, from its grids' "
                                  "counters; null unless you may read aggregates for all of it.")
    async def isolation_counts(self, info: strawberry.Info) -> Optional["IsolationCounts"]:
        if not info.context.may("aggregate", "read", self.code):
            return None
        sums = await info.context.loaders.stats.load(self.code)
        return IsolationCounts(home=sums["isolated_home"], central=sums["isolated_central"],
                               alerts_open=sums["isolation_alerts_open"])


@strawberry.type(description="People in isolation now, and open fever alerts.")
class IsolationCounts:
    home: int
    central: int
    alerts_open: int


# -- mutations ----------------------------------------------------------------------------

@strawberry.input(description="Open a central isolation site for an area.")
class OpenIsolationSiteInput:
    area_code: str = strawberry.field(description="Code of the area the site belongs to (usually a district).")
    name: str = strawberry.field(description="Up to 100 characters.")
    address: str = strawberry.field(description="Up to 200 characters.")
    capacity: int = strawberry.field(description="Places, 1-5000.")


@strawberry.input(description="Changes to a site; fields left out stay as they are.")
class UpdateIsolationSiteInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the IsolationSite.")
    version: int = strawberry.field(description=VERSION_SENT)
    name: str | None = UNSET
    address: str | None = UNSET
    capacity: int | None = strawberry.field(default=UNSET, description="Not below the people placed there now.")
    active: bool | None = strawberry.field(default=UNSET, description="false: takes no one new.")


@strawberry.input(description="Put a resident into isolation.")
class StartIsolationInput:
    resident_id: strawberry.ID = strawberry.field(description="Global ID of the Resident; one active isolation per person.")
    kind: KindEnum
    reason: ReasonEnum
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of the IsolationSite, for a central isolation; it must have a free place.")
    starts_on: date | None = strawberry.field(default=None, description="Not in the future; today when left out.")
    planned_end: date | None = strawberry.field(default=None, description="Not before the start, at most 60 days after; 14 days after the start when left out.")
    seal: SealEnum = DoorSeal.NONE
    sealed_at: datetime | None = strawberry.field(default=None, description="When the seal was applied; now when left out (a seal other than none).")


@strawberry.input(description="A temperature reading of a person in isolation.")
class RecordReadingInput:
    isolation_id: strawberry.ID = strawberry.field(description="Global ID of the Isolation.")
    celsius: float = strawberry.field(description="34.0-43.0; 37.3 or more raises an alert.")
    symptoms: str | None = strawberry.field(default=None, description="Up to 200 characters.")
    at: datetime | None = strawberry.field(default=None, description="Not in the future, inside the isolation; now when left out.")


@strawberry.input(description="Acknowledge a fever alert, saying what was done.")
class AcknowledgeAlertInput:
    reading_id: strawberry.ID = strawberry.field(description="Global ID of the TemperatureReading that raised it.")
    note: str = strawberry.field(description="Up to 200 characters.")


@strawberry.input(description="Supplies brought to a person in isolation.")
class RecordDeliveryInput:
    isolation_id: strawberry.ID = strawberry.field(description="Global ID of the Isolation.")
    items: str = strawberry.field(description="What was brought, up to 300 characters.")
    at: datetime | None = strawberry.field(default=None, description="Not in the future; now when left out.")


@strawberry.input(description="End an isolation.")
class EndIsolationInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Isolation.")
    version: int = strawberry.field(description=VERSION_SENT)
    status: IsolationEnding
    reason: str | None = strawberry.field(default=None, description="Needed to release before the planned end, and for hospital or another site; up to 200 characters.")


@fields_of("Mutation")
@strawberry.type
class IsolationMutation:
    open_isolation_site = input_mutation(work.open_isolation_site, "Open a central isolation site (集中隔离点).", OpenIsolationSiteInput,
                                     Result("site", IsolationSiteType, "the new site"))
    update_isolation_site = input_mutation(work.update_isolation_site, "Change a site's name, address, capacity or whether it takes people.",
                                       UpdateIsolationSiteInput, Result("site", IsolationSiteType, "the site as changed"))
    start_isolation = input_mutation(work.start_isolation, "Put a resident into home or central isolation (居家/集中隔离).",
                                 StartIsolationInput, Result("isolation", IsolationType, "the new record"))
    record_reading = input_mutation(work.record_reading, "Record a temperature reading (体温监测) of a person in isolation.",
                                RecordReadingInput, Result("reading", ReadingType, "the reading"))
    acknowledge_alert = input_mutation(work.acknowledge_alert, "Acknowledge a fever alert with a note.", AcknowledgeAlertInput,
                                   Result("reading", ReadingType, "the reading, its alert acknowledged"))
    record_delivery = input_mutation(work.record_delivery, "Record supplies brought to a person in isolation (生活物资保障).",
                                 RecordDeliveryInput, Result("delivery", DeliveryType, "the delivery"))
    end_isolation = input_mutation(work.end_isolation, "End an isolation: released, moved to hospital or to another site.",
                               EndIsolationInput, Result("isolation", IsolationType, "the record, now ended"))


register_timeline_source("isolation", rows.Isolation, lambda resident_id: rows.Isolation.resident_id == resident_id,
                         IsolationType)
