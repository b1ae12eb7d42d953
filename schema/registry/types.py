"""GraphQL types of the population registry: Building (楼栋), Household (户), Resident (人).

Personal fields (names, ID numbers, phones, exact addresses) are the columns declared
personal in ``db.registry``, exposed through ``schema.personal.personal_field``: in clear
only where the viewer holds ``read_pii`` on the record's area, masked otherwise, and every
clear value shown is noted for the audit trail. Workflows add fields to these types (a
resident's timeline, a household's visits) with ``schema.extend.fields_of``.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

import strawberry
from strawberry import relay

from db import registry as rows
from db.counters import local_day
from db.registry import PopulationKind, ResidentStatus
from resolvers.registry import listings
from resolvers.registry.filters import ResidentFilter
from schema.direct import row_field
from schema.extend import fields_of, mixins
from schema.nodes import RowNode, grid_field, version_field
from schema.paging import listing_field
from schema.personal import personal_field
from schema.scalars import GenderEnum, HouseholdKindEnum, PopulationKindEnum, ResidentStatusEnum


@strawberry.type(name="Building", description="A building (楼栋) in a grid.")
class BuildingType(*mixins("Building"), RowNode):
    row_model = rows.Building
    id: relay.NodeID[int]
    row: strawberry.Private[rows.Building]
    area_code: str = strawberry.field(description="Code of the grid (网格) the building is in.")
    name = row_field(rows.Building.name, str, "Name as posted on the building, e.g. 3号楼.")
    units = row_field(rows.Building.units, int, "Number of units/entrances (单元).")
    floors = row_field(rows.Building.floors, Optional[int], "Number of floors, if known.")

    @classmethod
    def from_row(cls, r: rows.Building) -> "BuildingType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    address = personal_field(rows.Building.address, "Street address of the building; masked unless you may read personal data here.")
    version = version_field(rows.Building)

    grid = grid_field("The grid (网格) the building belongs to.")


@strawberry.type(name="Household", description="A household (户): the people living at one address.")
class HouseholdType(*mixins("Household"), RowNode):
    row_model = rows.Household
    id: relay.NodeID[int]
    row: strawberry.Private[rows.Household]
    area_code: str = strawberry.field(description="Code of the grid (网格) the household is in.")
    kind = row_field(rows.Household.kind, HouseholdKindEnum, "Owner-occupied (自住), rented (租住) or collective (集体户).",
                     convert=rows.HouseholdKind)

    @classmethod
    def from_row(cls, r: rows.Household) -> "HouseholdType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    # Unit and room are part of the exact address: shown in clear next to the building's
    # address ("乡政社区1号楼" + "2单元" + "403"), they rebuilt the masked ``address``
    # ("乡政社区1号楼2单元403室") for any viewer without read_pii. Masked alike.
    unit = personal_field(rows.Household.unit, "Unit/entrance (单元).")
    room = personal_field(rows.Household.room, "Room number (室), e.g. 301.")
    address = personal_field(rows.Household.address, "Exact address; masked unless you may read personal data here.")
    version = version_field(rows.Household)

    @strawberry.field(description="The building (楼栋), if the household is in one.")
    async def building(self, info: strawberry.Info) -> BuildingType | None:
        if self.row.building_id is None:
            return None
        b = await info.context.loaders.of(rows.Building).load(self.row.building_id)
        return BuildingType.from_row(b) if b else None

    @strawberry.field(description="The people of the household (家庭成员), head first by registration order.")
    async def members(self, info: strawberry.Info) -> list["ResidentType"]:
        return [ResidentType.from_row(r) for r in await info.context.loaders.grouped(rows.Resident.household_id, rows.Resident.id).load(self.id)]

    grid = grid_field("The grid (网格) the household belongs to.")


@strawberry.type(name="Resident", description="A person (人) registered in a household.")
class ResidentType(*mixins("Resident"), RowNode):
    row_model = rows.Resident
    id: relay.NodeID[int]
    row: strawberry.Private[rows.Resident]
    area_code: str = strawberry.field(description="Code of the grid (网格) the person lives in.")
    gender = row_field(rows.Resident.gender, GenderEnum, "Gender (性别), as the ID number says.", convert=rows.Gender)
    relation_to_head = row_field(rows.Resident.relation_to_head, str,
                                 "Relation to the head of household (与户主关系): head, spouse, child, parent, other.")
    population_kind = row_field(rows.Resident.population_kind, PopulationKindEnum,
                                "Registered (户籍人口) or floating (流动人口) population.", convert=rows.PopulationKind)
    status = row_field(rows.Resident.status, ResidentStatusEnum, "Living here, moved away (迁出) or deceased (死亡).",
                       convert=rows.ResidentStatus)
    moved_in_on = row_field(rows.Resident.moved_in_on, Optional[date], "Date the person moved in.")
    removed_on = row_field(rows.Resident.removed_on, Optional[date], "Date the person moved away or died, if they did.")

    @classmethod
    def from_row(cls, r: rows.Resident) -> "ResidentType":
        return cls(id=r.id, row=r, area_code=r.area_code)

    removed_reason = personal_field(rows.Resident.removed_reason, "Why the person was removed from the registry, if they were (free text: masked unless you may read personal data here).")

    name = personal_field(rows.Resident.name, "Full name (姓名); masked (张**) unless you may read personal data here.")

    id_number = personal_field(rows.Resident.id_number, "National ID number (身份证号); masked unless you may read personal data here.")

    phone = personal_field(rows.Resident.phone, "Phone number; masked unless you may read personal data here.")

    birth_date = personal_field(rows.Resident.birth_date, "Birth date; null unless you may read personal data here.")

    @strawberry.field(description="Age in whole years today (in the deployment's zone, as the age filter).")
    def age(self, info: strawberry.Info) -> int:
        today, b = local_day(info.context.settings.timezone), self.row.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))

    version = version_field(rows.Resident)

    @strawberry.field(description="The household (户) the person belongs to.")
    async def household(self, info: strawberry.Info) -> HouseholdType | None:
        h = await info.context.loaders.of(rows.Household).load(self.row.household_id)
        return HouseholdType.from_row(h) if h else None

    grid = grid_field("The grid (网格) the person lives in.")


@strawberry.type(description="Counts for an area, summed from its grids' counters (汇总).")
class AreaStats:
    buildings: int = strawberry.field(description="Buildings (楼栋) registered.")
    households: int = strawberry.field(description="Households (户) registered.")
    residents: int = strawberry.field(description="Residents (居民) currently living here (status active).")
    floating_residents: int = strawberry.field(description="Floating population (流动人口).")


@strawberry.input(description="Filters for a list of residents.")
class ResidentFilterInput:
    search: str | None = strawberry.field(default=None, description="Name, or the start of an ID number or phone. Matches only where you may read personal data; elsewhere nothing matches (to find one person there, use lookupResident).")
    status: ResidentStatusEnum | None = strawberry.field(default=None, description="Only residents with this status.")
    population_kind: PopulationKindEnum | None = strawberry.field(default=None, description="Only registered (户籍) or only floating (流动) residents.")
    age_min: int | None = strawberry.field(default=None, description="Age band: at least this old.")
    age_max: int | None = strawberry.field(default=None, description="Age band: at most this old.")

    def to_filter(self) -> ResidentFilter:
        return ResidentFilter(
            search=self.search, status=ResidentStatus(self.status).value if self.status else None,
            population_kind=PopulationKind(self.population_kind).value if self.population_kind else None,
            age_min=self.age_min, age_max=self.age_max,
        ).validated()


@fields_of("Area")
@strawberry.type
class RegistryAreaFields:
    """What the registry adds to every ``Area``: its records and their counts."""

    buildings = listing_field(listings.BUILDINGS, BuildingType, "Buildings (楼栋) anywhere in this area.")
    households = listing_field(listings.HOUSEHOLDS, HouseholdType, "Households (户) anywhere in this area.")
    residents = listing_field(listings.RESIDENTS, ResidentType, "Residents (居民) anywhere in this area, filtered.",
                              filter_input=ResidentFilterInput)

    @strawberry.field(description="Counts for the whole area (汇总); null unless you may read aggregates for all of it.")
    async def stats(self, info: strawberry.Info) -> AreaStats | None:
        if not info.context.may("aggregate", "read", self.code):
            return None
        s = await info.context.loaders.stats.load(self.code)
        return AreaStats(buildings=s["buildings"], households=s["households"], residents=s["residents"],
                         floating_residents=s["floating_residents"])
