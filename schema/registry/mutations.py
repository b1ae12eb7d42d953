"""GraphQL write side of the registry: inputs, payloads and the ``Mutation`` fields.

Each mutation is declared with ``schema.mutations.mutation``: its payload carries the
object (``null`` on failure) and ``errors: [UserError!]!`` (empty on success), and its
description states the rights it requires. Expected failures never come back as GraphQL
errors: the codes are
``BAD_USER_INPUT`` (``field`` names the input), ``NOT_FOUND``, ``FORBIDDEN``, ``CONFLICT``
(stale ``version``: reload and retry) and ``UNAUTHENTICATED``. The object is returned
through the read types of ``schema.registry.types``, so the usual masking applies to it.

Update inputs distinguish a field left out (unchanged) from an explicit ``null`` (cleared,
for the fields that may be empty). What each mutation checks and in which order is
documented in ``resolvers.registry.people``.
"""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry import UNSET

from db.registry import HouseholdKind, PopulationKind, ResidentStatus
from resolvers.registry import people, places
from schema.extend import fields_of
from schema.mutations import Result, VERSION_SENT, input_mutation
from schema.registry.types import BuildingType, HouseholdType, ResidentType
from schema.scalars import GenderEnum, HouseholdKindEnum, PopulationKindEnum



@strawberry.enum(description="How a resident left the registry (removal is soft: the record stays).")
class RemovalStatus(enum.Enum):
    MOVED_AWAY = ResidentStatus.MOVED_AWAY.value
    DECEASED = ResidentStatus.DECEASED.value


# -- inputs -------------------------------------------------------------------------

@strawberry.input(description="A new building (楼栋) in a grid.")
class CreateBuildingInput:
    area_code: str = strawberry.field(description="Code of the grid (15 digits).")
    name: str = strawberry.field(description="Up to 100 characters, e.g. 3号楼.")
    address: str | None = strawberry.field(default=None, description="Up to 200 characters.")
    units: int = strawberry.field(default=1, description="Units/entrances (单元), 1-99.")
    floors: int | None = strawberry.field(default=None, description="1-200.")


@strawberry.input(description="Changes to a building; fields left out stay as they are.")
class UpdateBuildingInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Building.")
    version: int = strawberry.field(description=VERSION_SENT)
    name: str | None = UNSET
    address: str | None = UNSET
    units: int | None = UNSET
    floors: int | None = UNSET


@strawberry.input(description="A new household (户). It lies in its building's grid; without a building, give the grid.")
class CreateHouseholdInput:
    address: str = strawberry.field(description="Exact address, up to 200 characters.")
    building_id: strawberry.ID | None = strawberry.field(default=None, description="The Building it is in.")
    area_code: str | None = strawberry.field(default=None, description="Grid code; required without buildingId, must be the building's grid with it.")
    unit: str | None = None
    room: str | None = None
    kind: HouseholdKindEnum = HouseholdKind.OWNER


@strawberry.input(description="Changes to a household; fields left out stay as they are. A household stays in its grid.")
class UpdateHouseholdInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Household.")
    version: int = strawberry.field(description=VERSION_SENT)
    building_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Another building of the same grid, or null for none.")
    unit: str | None = UNSET
    room: str | None = UNSET
    address: str | None = UNSET
    kind: HouseholdKindEnum | None = UNSET


@strawberry.input(description="A person to register in the registry, checked as createResident checks.")
class NewResidentInput:
    name: str = strawberry.field(description="Up to 50 characters.")
    id_number: str = strawberry.field(description="18-character resident ID number (身份证号), last character a digit or uppercase X; unique nationwide.")
    gender: GenderEnum | None = strawberry.field(default=None, description="Derived from the ID number when left out; must agree with it when given.")
    birth_date: date | None = strawberry.field(default=None, description="Derived from the ID number when left out; must agree with it when given.")
    phone: str | None = strawberry.field(default=None, description="Mainland mobile or landline with area code; stored in canonical form.")
    relation_to_head: str = strawberry.field(default="head", description="head, spouse, child, parent or other.")
    population_kind: PopulationKindEnum = PopulationKind.REGISTERED
    moved_in_on: date | None = strawberry.field(default=None, description="Not in the future, not before the birth date.")


@strawberry.input(description="A new resident (人) of a household; the grid is the household's.")
class CreateResidentInput(NewResidentInput):
    household_id: strawberry.ID = strawberry.field(description="Global ID of the Household.")


@strawberry.input(description="Corrections to a resident; fields left out stay as they are. Use moveResident and removeResident to move or remove.")
class UpdateResidentInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Resident.")
    version: int = strawberry.field(description=VERSION_SENT)
    name: str | None = UNSET
    id_number: str | None = strawberry.field(default=UNSET, description="A new ID number also re-derives gender and birth date.")
    gender: GenderEnum | None = strawberry.field(default=UNSET, description="Must agree with the ID number.")
    birth_date: date | None = strawberry.field(default=UNSET, description="Must agree with the ID number.")
    phone: str | None = strawberry.field(default=UNSET, description="null or empty clears it.")
    relation_to_head: str | None = UNSET
    population_kind: PopulationKindEnum | None = UNSET
    moved_in_on: date | None = UNSET


@strawberry.input(description="Move an active resident to another household, possibly in another grid (both must be yours to edit).")
class MoveResidentInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Resident.")
    version: int = strawberry.field(description=VERSION_SENT)
    household_id: strawberry.ID = strawberry.field(description="The household the resident moves to.")
    moved_in_on: date | None = strawberry.field(default=None, description="Defaults to today.")
    relation_to_head: str | None = strawberry.field(default=UNSET, description="Relation to the new head; unchanged when left out.")


@strawberry.input(description="Record that an active resident moved away or died. The record stays, no longer counted.")
class RemoveResidentInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the Resident.")
    version: int = strawberry.field(description=VERSION_SENT)
    status: RemovalStatus
    reason: str = strawberry.field(description="Up to 200 characters, e.g. where to.")
    removed_on: date | None = strawberry.field(default=None, description="Defaults to today; not in the future, not before moving in.")


# -- mutations ----------------------------------------------------------------------

BUILDING, HOUSEHOLD, RESIDENT = "building", "household", "resident"


@fields_of("Mutation")
@strawberry.type
class RegistryMutation:
    create_building = input_mutation(places.create_building, "Register a building in a grid.", CreateBuildingInput,
                                Result(BUILDING, BuildingType, "the new building"))
    update_building = input_mutation(places.update_building, "Correct a building.", UpdateBuildingInput,
                                Result(BUILDING, BuildingType, "the building as changed"))
    create_household = input_mutation(places.create_household, "Register a household.", CreateHouseholdInput,
                                 Result(HOUSEHOLD, HouseholdType, "the new household"))
    update_household = input_mutation(places.update_household, "Correct a household.", UpdateHouseholdInput,
                                 Result(HOUSEHOLD, HouseholdType, "the household as changed"))
    create_resident = input_mutation(people.create_resident, "Register a resident in a household.", CreateResidentInput,
                                Result(RESIDENT, ResidentType, "the new resident"))
    update_resident = input_mutation(people.update_resident, "Correct a resident's details.", UpdateResidentInput,
                                Result(RESIDENT, ResidentType, "the resident as changed"))
    move_resident = input_mutation(people.move_resident, "Move a resident to another household, possibly in another grid.",
                              MoveResidentInput, Result(RESIDENT, ResidentType, "the resident in their new household"))
    remove_resident = input_mutation(people.remove_resident, "Record that a resident moved away or died (soft removal).",
                                RemoveResidentInput, Result(RESIDENT, ResidentType, "the resident, now no longer active"))
