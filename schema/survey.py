"""GraphQL of the household survey (入户排查登记): campaigns, visits, person records, coverage.

Person records' travel and health answers (``db.survey`` says which and why) are shown
through ``personal_field``: in clear where the viewer holds ``survey read_pii``, masked
otherwise (free text ****, health answers null). Coverage comes from the counters only, and
only to readers of the aggregates of the whole area asked for.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET, relay

from db import survey as rows
from db.base import aware
from db.counters import local_day
from db.errors import InvalidField
from db.returnee import DEFAULT_FOLLOW_UP_DAYS
from db.survey import CampaignStatus, ContactMethod, VisitOutcome
from resolvers import survey as work
from resolvers.global_ids import decode_id
from schema.direct import row_field
from schema.extend import fields_of
from schema.mutations import Result, VERSION_SENT, input_mutation
from schema.nodes import RowNode, version_field
from schema.paging import listing_field
from schema.personal import personal_field
from schema.registry.mutations import NewResidentInput
from schema.registry.references import resident_field
from schema.returnee import ReturneeType, TransportEnum
from schema.timeline import register_timeline_source

CampaignStatusEnum = strawberry.enum(CampaignStatus, name="SurveyCampaignStatus",
                                     description="Open (visits are recorded) or closed.")
ContactMethodEnum = strawberry.enum(ContactMethod, name="ContactMethod", description=(
    "How the household was contacted: door visit (上门), phone (电话), WeChat/QQ group (微信群/QQ群), "
    "intercom (对讲), form through the door (门缝登记表)."))
VisitOutcomeEnum = strawberry.enum(VisitOutcome, name="VisitOutcome",
                                   description="Reached (已排查), nobody home (无人) or refused (拒绝).")
#: Longest range of days one ``surveyDays`` answers.
MAX_DAYS = 92


@strawberry.type(description="Survey figures of one area, from the counters.")
class SurveyFigures:
    households_surveyed: int = strawberry.field(description="Households reached (a household counts once).")
    visits: int = strawberry.field(description="Visits recorded, whatever their outcome.")
    people_surveyed: int = strawberry.field(description="Person records (one per resident reached).")
    from_key_area: int = strawberry.field(description="People who came from one of the campaign's key areas.")
    with_fever: int = strawberry.field(description="People with a fever.")
    under_observation: int = strawberry.field(description="People under home medical observation.")

    @classmethod
    def from_sums(cls, sums: dict, prefix: str) -> "SurveyFigures":
        return cls(households_surveyed=sums[f"{prefix}_households"], visits=sums[f"{prefix}_visits"],
                   people_surveyed=sums[f"{prefix}_people"], from_key_area=sums[f"{prefix}_from_key_area"],
                   with_fever=sums[f"{prefix}_fevers"], under_observation=sums[f"{prefix}_under_observation"])


@strawberry.type(description="One local day of survey work in an area, all campaigns together.")
class SurveyDay(SurveyFigures):
    day: date


@strawberry.type(description="A campaign's progress in one area under it: coverage and who is left.")
class SurveyProgress:
    """Each part is loaded only when asked for: a grid worker's walk list (``householdsNotReached``)
    used to cost the two sums of the figures as well."""

    campaign_id: strawberry.Private[int]
    #: Whether the viewer may read the aggregates of the whole area (the figures' gate).
    aggregates: strawberry.Private[bool]
    area_code: str = strawberry.field(description="Code of the area.")

    @strawberry.field(description="Households of the registry in the area; null unless you may read its aggregates.")
    async def households_known(self, info: strawberry.Info) -> int | None:
        if not self.aggregates:
            return None
        return (await info.context.loaders.stats.load(self.area_code))["households"]

    @strawberry.field(description="What the campaign counted in the area; null unless you may read its aggregates.")
    async def figures(self, info: strawberry.Info) -> SurveyFigures | None:
        if not self.aggregates:
            return None
        sums = await info.context.loaders.part_stats("campaign_id").load((self.campaign_id, self.area_code))
        return SurveyFigures.from_sums(sums, "campaign")

    households_not_reached = listing_field(
        work.NOT_REACHED, Annotated["HouseholdType", strawberry.lazy("schema.registry.types")],
        "Households of the area no visit of this campaign has reached yet (the grid worker's next walk), "
        "ordered by grid, then household; empty unless you may read the survey there.",
        parent=lambda self: self.area_code, filters_of=lambda self: work.NotReached(self.campaign_id),
        to_node=lambda row: _household(row))


def _household(row):
    from schema.registry.types import HouseholdType

    return HouseholdType.from_row(row)


@strawberry.type(name="SurveyCampaign", description="A household survey campaign (入户排查) of an area, reaching every grid below it.")
class SurveyCampaignType(RowNode):
    row_model = rows.SurveyCampaign
    id: relay.NodeID[int]
    row: strawberry.Private[rows.SurveyCampaign]
    area_code: str = strawberry.field(description="Code of the area holding the campaign.")
    name = row_field(rows.SurveyCampaign.name, str, "Name, up to 100 characters.")
    starts_on = row_field(rows.SurveyCampaign.starts_on, date, "First day of visits.")
    ends_on = row_field(rows.SurveyCampaign.ends_on, Optional[date], "Last day of visits, if set.")
    status = row_field(rows.SurveyCampaign.status, CampaignStatusEnum, "Open or closed.", convert=CampaignStatus)
    version = version_field(rows.SurveyCampaign)

    @classmethod
    def from_row(cls, r: rows.SurveyCampaign) -> "SurveyCampaignType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    @strawberry.field(description="Places whose travellers count as from a key area (重点地区), e.g. 湖北省, 武汉市.")
    def key_areas(self) -> list[str]:
        return rows.key_area_list(self.row.key_areas)

    @strawberry.field(description="The campaign's progress in an area it reaches (default: its own area).")
    def progress(self, info: strawberry.Info, area_code: str | None = None) -> SurveyProgress:
        code = area_code or self.row.area_code
        if not code.startswith(self.row.area_code):
            raise InvalidField("areaCode", f"the campaign reaches {self.row.area_code} and the areas below it only")
        return SurveyProgress(campaign_id=self.id, area_code=code,
                              aggregates=info.context.may("aggregate", "read", code))


@strawberry.type(name="SurveyVisit", description="A visit (入户) to a household in a campaign; recorded by who made it.")
class SurveyVisitType(RowNode):
    row_model = rows.SurveyVisit
    id: relay.NodeID[int]
    row: strawberry.Private[rows.SurveyVisit]
    area_code: str = strawberry.field(description="Code of the household's grid.")
    visited_at = row_field(rows.SurveyVisit.visited_at, datetime, "When the visit was made.", convert=aware)
    on = row_field(rows.SurveyVisit.on, date, "The local day of the visit, the day it is counted on.")
    method = row_field(rows.SurveyVisit.method, ContactMethodEnum, "How the household was contacted.", convert=ContactMethod)
    outcome = row_field(rows.SurveyVisit.outcome, VisitOutcomeEnum, "What came of it.", convert=VisitOutcome)
    first_reach = row_field(rows.SurveyVisit.first_reach, bool, "The visit that first reached the household in this campaign.")
    #: The person records of a visit just recorded, when its writer may read them (``recorded``).
    recorded_people: strawberry.Private[Optional[tuple]] = None

    @classmethod
    def from_row(cls, r: rows.SurveyVisit) -> "SurveyVisitType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    @classmethod
    def recorded(cls, info: strawberry.Info, done: work.RecordedVisit) -> "SurveyVisitType":
        """The payload's visit with the records the command wrote, not read back (a statement
        and a transaction less): shown when the writer may read the survey in the visit's grid,
        the gate's own condition for these rows; otherwise loaded as for any visit."""
        visit = cls.from_row(done.visit)
        if info.context.may("survey", "read", done.visit.area_code):
            visit.recorded_people = tuple(sorted(done.people, key=lambda r: r.id))
        return visit

    @strawberry.field(description="The campaign (null if you may not see it).")
    async def campaign(self, info: strawberry.Info) -> SurveyCampaignType | None:
        found = await info.context.loaders.of(rows.SurveyCampaign).load(self.row.campaign_id)
        return SurveyCampaignType.from_row(found) if found else None

    @strawberry.field(description="The person records of this visit.")
    async def people(self, info: strawberry.Info) -> list["SurveyPersonType"]:
        found = self.recorded_people
        if found is None:
            found = await info.context.loaders.grouped(rows.SurveyPerson.visit_id, rows.SurveyPerson.id).load(self.id)
        return [SurveyPersonType.from_row(r) for r in found]


@strawberry.type(name="SurveyPerson", description="What one resident reached in a campaign said (排查登记).")
class SurveyPersonType(RowNode):
    row_model = rows.SurveyPerson
    id: relay.NodeID[int]
    row: strawberry.Private[rows.SurveyPerson]
    area_code: str = strawberry.field(description="Code of the household's grid.")
    on = row_field(rows.SurveyPerson.on, date, "The local day of the visit.")
    from_key_area = row_field(rows.SurveyPerson.from_key_area, bool, "Came from one of the campaign's key areas (重点地区).")
    departed_on = row_field(rows.SurveyPerson.departed_on, Optional[date], "When they left where they came from, if they travelled.")
    arrived_on = row_field(rows.SurveyPerson.arrived_on, Optional[date], "When they arrived, if they travelled.")
    transport = row_field(rows.SurveyPerson.transport, Optional[TransportEnum], "How they travelled, if they did.",
                          convert=lambda v: rows.Transport(v) if v else None)
    version = version_field(rows.SurveyPerson)
    came_from = personal_field(rows.SurveyPerson.came_from, "Where they came from (province/city); masked unless you may read personal data here.")
    transport_number = personal_field(rows.SurveyPerson.transport_number, "Train, flight or coach number, or plate; masked unless you may read personal data here.")
    fever = personal_field(rows.SurveyPerson.fever, "Has a fever; null unless you may read personal data here.")
    temperature = personal_field(rows.SurveyPerson.temperature, "Body temperature in °C, if measured; null unless you may read personal data here.")
    cough = personal_field(rows.SurveyPerson.cough, "Has a cough; null unless you may read personal data here.")
    close_contact = personal_field(rows.SurveyPerson.close_contact, "Close contact with a confirmed or suspected case; null unless you may read personal data here.")
    under_observation = personal_field(rows.SurveyPerson.under_observation, "Under home medical observation; null unless you may read personal data here.")

    @classmethod
    def from_row(cls, r: rows.SurveyPerson) -> "SurveyPersonType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    resident = resident_field("The resident of the registry this record is about (null if you may not see them).")


@strawberry.input(description="Filters for the campaigns reaching an area.")
class SurveyCampaignFilterInput:
    status: CampaignStatusEnum | None = strawberry.field(default=None, description="Only campaigns with this status.")

    def to_filter(self) -> work.CampaignFilter:
        return work.CampaignFilter(status=CampaignStatus(self.status).value if self.status else None)


def _campaign_id(value, field: str = "campaignId") -> int | None:
    return decode_id(value, "SurveyCampaign", field) if value is not None else None


@strawberry.input(description="Filters for survey visits.")
class SurveyVisitFilterInput:
    campaign_id: strawberry.ID | None = strawberry.field(default=None, description="Only visits of this SurveyCampaign.")
    outcome: VisitOutcomeEnum | None = strawberry.field(default=None, description="Only visits with this outcome.")
    first_reach: bool | None = strawberry.field(default=None, description="true: only the visits that first reached a household; false: the others.")

    def to_filter(self) -> work.VisitFilter:
        return work.VisitFilter(campaign_id=_campaign_id(self.campaign_id),
                                outcome=VisitOutcome(self.outcome).value if self.outcome else None,
                                reached=self.first_reach)


@strawberry.input(description="Filters for person records.")
class SurveyPersonFilterInput:
    campaign_id: strawberry.ID | None = strawberry.field(default=None, description="Only records of this SurveyCampaign.")
    from_key_area: bool | None = strawberry.field(default=None, description="Only people from (true) or not from (false) a key area.")

    def to_filter(self) -> work.PersonFilter:
        return work.PersonFilter(campaign_id=_campaign_id(self.campaign_id), from_key_area=self.from_key_area)


@fields_of("Area")
@strawberry.type
class SurveyAreaFields:
    survey_campaigns = listing_field(work.CAMPAIGNS, SurveyCampaignType, "Survey campaigns reaching this area (held here or above) "
                                     "and those held inside it; ordered by area, then campaign.", filter_input=SurveyCampaignFilterInput)
    survey_visits = listing_field(work.VISITS, SurveyVisitType, "Survey visits to households anywhere in this area; ordered by grid, then visit.",
                                  filter_input=SurveyVisitFilterInput)
    survey_people = listing_field(work.PEOPLE, SurveyPersonType, "Survey person records anywhere in this area; ordered by grid, then record.",
                                  filter_input=SurveyPersonFilterInput)

    @strawberry.field(description=f"The survey work of each day from `from` to `to` (at most {MAX_DAYS} days), all "
                                  "campaigns together, from the counters; null unless you may read aggregates for all of the area.")
    async def survey_days(self, info: strawberry.Info, from_: Annotated[date, strawberry.argument(name="from")],
                          to: date | None = None) -> list[SurveyDay] | None:
        to = to or local_day(info.context.settings.timezone)
        if to < from_:
            raise InvalidField("to", f"{to.isoformat()} is before from ({from_.isoformat()})")
        if (to - from_).days >= MAX_DAYS:
            raise InvalidField("from", f"at most {MAX_DAYS} days at once")
        if not info.context.may("aggregate", "read", self.code):
            return None
        names = [f"survey_{k}" for k in ("households", "visits", "people", "from_key_area", "fevers", "under_observation")]
        by_day = await info.context.loaders.day_stats(names).load((self.code, from_, to))
        days = [from_ + timedelta(days=i) for i in range((to - from_).days + 1)]
        return [SurveyDay(day=d, **vars(SurveyFigures.from_sums({n: by_day.get((d, n), 0) for n in names}, "survey")))
                for d in days]


# -- mutations ----------------------------------------------------------------------------

@strawberry.input(description="Open a survey campaign for an area; it reaches every grid below it.")
class OpenSurveyCampaignInput:
    area_code: str = strawberry.field(description="Code of the area holding the campaign (any level).")
    name: str = strawberry.field(description="Up to 100 characters.")
    starts_on: date | None = strawberry.field(default=None, description="First day of visits; today when left out.")
    ends_on: date | None = strawberry.field(default=None, description="Last day of visits, not before the start; open-ended when left out.")
    key_areas: list[str] | None = strawberry.field(default=None, description="Places whose travellers count as from a key area (e.g. 湖北省, 武汉市): at most 20, each up to 30 characters.")


@strawberry.input(description="Changes to an open campaign; fields left out stay as they are.")
class UpdateSurveyCampaignInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the SurveyCampaign.")
    version: int = strawberry.field(description=VERSION_SENT)
    name: str | None = UNSET
    ends_on: date | None = strawberry.field(default=UNSET, description="null makes it open-ended.")
    key_areas: list[str] | None = strawberry.field(default=UNSET, description="Replaces the list; applies to records written from now on.")


@strawberry.input(description="Close a campaign: no more visits; it ends today unless it ended earlier.")
class CloseSurveyCampaignInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the SurveyCampaign.")
    version: int = strawberry.field(description=VERSION_SENT)


@strawberry.input(description="What one person at the household said.")
class SurveyPersonInput:
    resident_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of a Resident of the household; or give newResident.")
    new_resident: NewResidentInput | None = strawberry.field(default=None, description="A person found there who is not registered: registered into the household.")
    came_from: str | None = strawberry.field(default=None, description="Where they came from (province/city), up to 100 characters, if they travelled.")
    departed_on: date | None = strawberry.field(default=None, description="Not in the future.")
    arrived_on: date | None = strawberry.field(default=None, description="Not in the future, not before the departure.")
    transport: TransportEnum | None = None
    transport_number: str | None = strawberry.field(default=None, description="Train or flight number, or plate; up to 20 characters.")
    fever: bool = strawberry.field(default=False, description="Has a fever (also set by a temperature of 37.3 °C or more).")
    temperature: float | None = strawberry.field(default=None, description="°C, 34.0-43.0, when measured.")
    cough: bool = False
    close_contact: bool = strawberry.field(default=False, description="Close contact with a confirmed or suspected case.")
    under_observation: bool = strawberry.field(default=False, description="Under home medical observation.")


@strawberry.input(description="A visit to a household in a campaign, with the people reached.")
class RecordHouseholdVisitInput:
    campaign_id: strawberry.ID = strawberry.field(description="Global ID of the SurveyCampaign; it must reach the household.")
    household_id: strawberry.ID = strawberry.field(description="Global ID of the Household.")
    method: ContactMethodEnum
    outcome: VisitOutcomeEnum
    visited_at: datetime | None = strawberry.field(default=None, description="Not in the future, inside the campaign; now when left out (without a zone: local time).")
    people: list[SurveyPersonInput] | None = strawberry.field(default=None, description="Only with outcome reached: up to 30 people, each once.")


@strawberry.input(description="Corrections to a person record; fields left out stay as they are.")
class UpdateSurveyPersonInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the SurveyPerson.")
    version: int = strawberry.field(description=VERSION_SENT)
    came_from: str | None = strawberry.field(default=UNSET, description="null or empty clears it; re-derives fromKeyArea.")
    departed_on: date | None = UNSET
    arrived_on: date | None = UNSET
    transport: TransportEnum | None = UNSET
    transport_number: str | None = UNSET
    fever: bool | None = UNSET
    temperature: float | None = UNSET
    cough: bool | None = UNSET
    close_contact: bool | None = UNSET
    under_observation: bool | None = UNSET


@strawberry.input(description="Open a returnee entry from a survey's person record (origin, dates and transport from the record).")
class OpenReturneeFromSurveyInput:
    survey_person_id: strawberry.ID = strawberry.field(description="Global ID of the SurveyPerson; it must say where they came from.")
    follow_up_days: int = strawberry.field(default=DEFAULT_FOLLOW_UP_DAYS, description="1-60 days of follow-up from arrival.")


@fields_of("Mutation")
@strawberry.type
class SurveyMutation:
    open_survey_campaign = input_mutation(work.open_survey_campaign, "Open a household survey campaign (入户排查) for an area.",
                                   OpenSurveyCampaignInput, Result("campaign", SurveyCampaignType, "the new campaign"))
    update_survey_campaign = input_mutation(work.update_survey_campaign, "Change an open campaign's name, end or key areas.",
                                     UpdateSurveyCampaignInput, Result("campaign", SurveyCampaignType, "the campaign as changed"))
    close_survey_campaign = input_mutation(work.close_survey_campaign, "Close a campaign.", CloseSurveyCampaignInput,
                                    Result("campaign", SurveyCampaignType, "the campaign, now closed"))
    record_household_visit = input_mutation(work.record_household_visit, "Record a visit to a household (入户排查登记), with what each person reached said.",
                                            RecordHouseholdVisitInput, Result("visit", SurveyVisitType, "the visit recorded, with its person records",
                                                                              convert=SurveyVisitType.recorded))
    update_survey_person = input_mutation(work.update_survey_person, "Correct a survey person record.", UpdateSurveyPersonInput,
                                   Result("person", SurveyPersonType, "the record as changed"))
    open_returnee_from_survey = input_mutation(work.open_returnee_from_survey, "Open a returnee entry (返乡登记) for a person the survey found back from elsewhere.",
                                        OpenReturneeFromSurveyInput, Result("returnee", ReturneeType, "the new ledger entry"))


register_timeline_source("survey_person", rows.SurveyPerson,
                         lambda resident_id: rows.SurveyPerson.resident_id == resident_id, SurveyPersonType)
