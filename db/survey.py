"""The household survey (入户排查登记): campaigns, visits to households, and what each person said.

A **campaign** is held by an area at any level (a city, a district, a street...) and reaches
every grid below it: its grid workers walk their households "no household missed, no person
missed" (不漏一户、不漏一人). Campaigns name no one, and every grid worker the campaign reaches
must read it, so the table is declared ``seen_from_below``: it is read from the areas under
the campaign's area as areas are, while only its own area's office may change it.

A **visit** is one attempt at one household (door, phone, group chat, intercom, a form through
the door) with its outcome; a household may be visited many times and counts as surveyed
once reached. The first reached visit of a household in a campaign is marked ``first_reach``
(unique per campaign and household), so "households surveyed" is a plain count of rows.

A **person record** is what one resident reached said, once per campaign and resident:
travel (came from, whether that is one of the campaign's key areas, dates, transport) and
health (fever, temperature, cough, close contact, home medical observation).

Which columns are personal, and why (``db.registration.personal``):

- ``came_from`` and ``transport_number`` pinpoint one trip and so one person: withheld (****).
- the health answers (``fever``, ``temperature``, ``cough``, ``close_contact``,
  ``under_observation``) are health data: hidden (null), as a fixed mask would not be a
  value of a yes/no or a number.
- Not personal: ``from_key_area`` is the category the survey is planned and counted by (as
  in the returnee ledger), dates and the transport mode are not a person. An officer sees a
  record's existence, day and key-area mark, and the counts; never an answer about health.

Visits and person records copy their household's grid (``area_code``) when written: they
are counted, scoped and listed where they were recorded.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.base import AreaCode, Stamped
from db.counters import counted_per, declare
from db.registration import personal, place_bound
from db.returnee import Transport  # noqa: F401 - one list of transport modes: a person found returning opens a returnee entry


class CampaignStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class ContactMethod(str, enum.Enum):
    DOOR = "door"  # 上门
    PHONE = "phone"  # 电话
    GROUP_CHAT = "group_chat"  # 微信群/QQ群
    INTERCOM = "intercom"  # 对讲
    FORM = "form"  # 门缝/门口登记表


class VisitOutcome(str, enum.Enum):
    REACHED = "reached"  # 已排查
    NOBODY_HOME = "nobody_home"  # 无人
    REFUSED = "refused"  # 拒绝


#: Most key areas a campaign lists, and the longest name of one.
MAX_KEY_AREAS, MAX_KEY_AREA_LENGTH = 20, 30


@place_bound("survey_campaign", seen_from_below=True)
class SurveyCampaign(Stamped, table=True):
    __tablename__ = "survey_campaign"
    __table_args__ = (sa.Index("ix_survey_campaign_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    name: str = Field(sa_type=sa.String(100), nullable=False)
    starts_on: date = Field(nullable=False)
    ends_on: date | None = Field(default=None)
    status: str = Field(default=CampaignStatus.OPEN.value, sa_type=sa.String(8), nullable=False)
    #: Places (province or city names, e.g. 湖北省, 武汉市) whose travellers count as "from
    #: a key area", one per line: a person record's ``came_from`` naming one of them is marked.
    key_areas: str = Field(default="", sa_type=sa.String(700), nullable=False)


def key_area_list(stored: str) -> list[str]:
    """A campaign's key areas from its stored ``key_areas`` (a plain row has no methods)."""
    return [k for k in stored.split("\n") if k]


@place_bound("survey")
class SurveyVisit(Stamped, table=True):
    """One visit to one household in one campaign; ``created_by`` is who visited."""

    __tablename__ = "survey_visit"
    __table_args__ = (
        sa.Index("ix_survey_visit_area_id", "area_code", "id"),
        sa.Index("ix_survey_visit_household", "household_id", "campaign_id"),
        # at most one first reach per household and campaign; a concurrent second loses here
        sa.Index("uq_survey_visit_first_reach", "campaign_id", "household_id", unique=True,
                 sqlite_where=sa.text("first_reach"), postgresql_where=sa.text("first_reach")),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="survey_campaign.id", nullable=False)
    household_id: int = Field(foreign_key="household.id", nullable=False)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    visited_at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    #: The local day of ``visited_at`` (``WANGGE_TIMEZONE``), the day it is counted on.
    on: date = Field(nullable=False)
    method: str = Field(sa_type=sa.String(12), nullable=False)
    outcome: str = Field(sa_type=sa.String(12), nullable=False)
    first_reach: bool = Field(default=False, nullable=False)


@place_bound("survey")
class SurveyPerson(Stamped, table=True):
    """What one resident reached in a campaign said; one per campaign and resident."""

    __tablename__ = "survey_person"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "resident_id", name="uq_survey_person_resident"),
        sa.Index("ix_survey_person_area_id", "area_code", "id"),
        sa.Index("ix_survey_person_resident", "resident_id"),
        sa.Index("ix_survey_person_visit", "visit_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="survey_campaign.id", nullable=False)
    visit_id: int = Field(foreign_key="survey_visit.id", nullable=False)
    resident_id: int = Field(foreign_key="resident.id", nullable=False)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    #: The visit's local day: the day the person is counted on.
    on: date = Field(nullable=False)
    came_from: str | None = Field(default=None, sa_type=sa.String(100), sa_column_kwargs=personal("withheld"))
    from_key_area: bool = Field(default=False, nullable=False)
    departed_on: date | None = Field(default=None)
    arrived_on: date | None = Field(default=None)
    transport: str | None = Field(default=None, sa_type=sa.String(8))
    transport_number: str | None = Field(default=None, sa_type=sa.String(20), sa_column_kwargs=personal("withheld"))
    fever: bool = Field(default=False, nullable=False, sa_column_kwargs=personal("hidden"))
    temperature: float | None = Field(default=None, sa_type=sa.Float(), sa_column_kwargs=personal("hidden"))
    cough: bool = Field(default=False, nullable=False, sa_column_kwargs=personal("hidden"))
    close_contact: bool = Field(default=False, nullable=False, sa_column_kwargs=personal("hidden"))
    under_observation: bool = Field(default=False, nullable=False, sa_column_kwargs=personal("hidden"))


@counted_per("campaign_id")
@place_bound("aggregate", bookkeeping="a campaign's counters, moved in the same transaction as a visit or a "
                                      "person record that passed the gate")
class CampaignGridStats(SQLModel, table=True):
    """A campaign's coverage in one grid: one column per counter declared ``per="campaign_id"``.

    Keyed (campaign, grid): a campaign's figure for a city is one range of the key, a few
    thousand rows however many people were surveyed.
    """

    __tablename__ = "survey_grid_stats"

    campaign_id: int = Field(foreign_key="survey_campaign.id", primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", primary_key=True)
    campaign_households: int = Field(default=0, nullable=False)
    campaign_visits: int = Field(default=0, nullable=False)
    campaign_people: int = Field(default=0, nullable=False)
    campaign_from_key_area: int = Field(default=0, nullable=False)
    campaign_fevers: int = Field(default=0, nullable=False)
    campaign_under_observation: int = Field(default=0, nullable=False)


# -- counters (db.counters) ---------------------------------------------------------------
# Per campaign and grid, in total; and per grid and local day, whatever the campaign (the
# day's survey work, as the daily statistics form counts it). Households known are the
# registry's ``households``.

PEOPLE = {
    "people": None,
    "from_key_area": SurveyPerson.from_key_area.is_(True),
    "fevers": SurveyPerson.fever.is_(True),
    "under_observation": SurveyPerson.under_observation.is_(True),
}
declare("campaign_households", SurveyVisit, SurveyVisit.first_reach.is_(True), per="campaign_id")
declare("campaign_visits", SurveyVisit, per="campaign_id")
declare("survey_households", SurveyVisit, SurveyVisit.first_reach.is_(True), day="on")
declare("survey_visits", SurveyVisit, day="on")
for _name, _where in PEOPLE.items():
    declare(f"campaign_{_name}", SurveyPerson, _where, per="campaign_id")
    declare(f"survey_{_name}", SurveyPerson, _where, day="on")


def person_counts(row: SurveyPerson, sign: int = 1) -> dict[str, int]:
    """The counter moves of one person record (``sign=-1``: taking it back), named without
    the ``campaign_``/``survey_`` prefix."""
    return {"people": sign, "from_key_area": sign * int(row.from_key_area), "fevers": sign * int(row.fever),
            "under_observation": sign * int(row.under_observation)}
