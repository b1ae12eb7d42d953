"""What each registry mutation does: check the input, find the records, authorise, write.

Every operation follows the same order, so every refusal comes before any write:

1. validate the input alone (``BAD_USER_INPUT``, every bad field at once);
2. load the records it names through the scoped session (``NOT_FOUND``: a record outside
   the user's view is indistinguishable from one that does not exist);
3. ``require`` the permission at every area involved (``FORBIDDEN``);
4. compare the client's ``version`` (``CONFLICT``), then the rules that depend on the
   record's current state (``BAD_USER_INPUT``);
5. write the row, the grid counters and the audit row (``resolvers.registry_writes``).

Area codes are never taken from the client for households and residents: a household
lies in its building's grid, a resident in its household's.
"""

from __future__ import annotations

import enum

from strawberry import UNSET

from db.codes import Level, validate_code
from db.errors import InvalidField
from db.registry import Building, Household, PopulationKind, Resident, ResidentStatus
from resolvers.registry_validation import decode_id
from resolvers.registry_writes import Write, snapshot

MAX_UNITS, MAX_FLOORS = 99, 200
BUILDING_FIELDS = ("area_code", "name", "address", "units", "floors")
HOUSEHOLD_FIELDS = ("area_code", "building_id", "unit", "room", "address", "kind")
RESIDENT_FIELDS = ("area_code", "household_id", "name", "gender", "id_number", "birth_date", "phone",
                   "relation_to_head", "population_kind", "moved_in_on")
ACTIVE = ResidentStatus.ACTIVE.value
FLOATING = PopulationKind.FLOATING.value


def _given(**values) -> dict:
    """The update's fields the client sent (``UNSET`` means: leave unchanged)."""
    return {k: v for k, v in values.items() if v is not UNSET}


def _value(e):
    """The stored string of a GraphQL enum input (Strawberry may hand over member or value)."""
    return e.value if isinstance(e, enum.Enum) else e


# -- buildings ----------------------------------------------------------------------

async def create_building(w: Write, inp) -> Building:
    c = w.checker()
    area = c.run(validate_code, inp.area_code, "areaCode", Level.GRID)
    name = c.text(inp.name, "name", 100, required=True)
    address = c.text(inp.address, "address", 200, required=False)
    units = c.number(inp.units, "units", 1, MAX_UNITS, required=True)
    floors = c.number(inp.floors, "floors", 1, MAX_FLOORS, required=False)
    c.done()
    w.require(area, "building", "create", "areaCode")
    await w.grid(area, "areaCode")
    row = Building(area_code=area, name=name, address=address, units=units, floors=floors)
    await w.add(row)
    w.count(area, buildings=1)
    w.audit("building.create", row, {"after": snapshot(row, BUILDING_FIELDS)})
    return row


async def update_building(w: Write, inp) -> Building:
    c = w.checker()
    building_id = decode_id(inp.id, "Building", "id", c)
    changes = _given(name=c.text(inp.name, "name", 100, required=True),
                     address=c.text(inp.address, "address", 200, required=False),
                     units=c.number(inp.units, "units", 1, MAX_UNITS, required=True),
                     floors=c.number(inp.floors, "floors", 1, MAX_FLOORS, required=False))
    c.done()
    row = await w.load(Building, building_id, "id")
    w.require(row.area_code, "building", "update", "id")
    w.check_version(row, inp.version)
    diff = await w.change(row, inp.version, changes)
    if diff:
        w.audit("building.update", row, diff)
    return row


# -- households ---------------------------------------------------------------------

async def create_household(w: Write, inp) -> Household:
    c = w.checker()
    area = c.run(validate_code, inp.area_code, "areaCode", Level.GRID) if inp.area_code is not None else None
    building_id = decode_id(inp.building_id, "Building", "buildingId", c) if inp.building_id is not None else None
    if inp.area_code is None and inp.building_id is None:
        c.fail("areaCode", "give the household's grid (areaCode) or its building (buildingId)")
    unit = c.text(inp.unit, "unit", 20, required=False)
    room = c.text(inp.room, "room", 20, required=False)
    address = c.text(inp.address, "address", 200, required=True)
    c.done()
    where = "areaCode"
    if building_id is not None:
        building = await w.load(Building, building_id, "buildingId")
        if area is not None and area != building.area_code:
            raise InvalidField("areaCode", f"must be the building's grid ({building.area_code}) or left out")
        area, where = building.area_code, "buildingId"
    w.require(area, "household", "create", where)
    await w.grid(area, where)
    row = Household(area_code=area, building_id=building_id, unit=unit, room=room, address=address,
                    kind=_value(inp.kind))
    await w.add(row)
    w.count(area, households=1)
    w.audit("household.create", row, {"after": snapshot(row, HOUSEHOLD_FIELDS)})
    return row


async def update_household(w: Write, inp) -> Household:
    c = w.checker()
    household_id = decode_id(inp.id, "Household", "id", c)
    building_id = decode_id(inp.building_id, "Building", "buildingId", c) if inp.building_id is not None else None
    changes = _given(unit=c.text(inp.unit, "unit", 20, required=False),
                     room=c.text(inp.room, "room", 20, required=False),
                     address=c.text(inp.address, "address", 200, required=True),
                     kind=c.required(_value(inp.kind), "kind"))
    c.done()
    row = await w.load(Household, household_id, "id")
    w.require(row.area_code, "household", "update", "id")
    w.check_version(row, inp.version)
    if inp.building_id is not UNSET:
        if building_id is not None:
            building = await w.load(Building, building_id, "buildingId")
            if building.area_code != row.area_code:
                raise InvalidField("buildingId", f"that building is in grid {building.area_code}, the household in "
                                                 f"{row.area_code}; a household cannot change grid (move its residents)")
        changes["building_id"] = building_id
    diff = await w.change(row, inp.version, changes)
    if diff:
        w.audit("household.update", row, diff)
    return row


# -- residents ----------------------------------------------------------------------

async def create_resident(w: Write, inp) -> Resident:
    c = w.checker()
    household_id = decode_id(inp.household_id, "Household", "householdId", c)
    name = c.text(inp.name, "name", 50, required=True)
    id_number = c.id_number(inp.id_number)
    gender, birth_date = c.identity(id_number, inp.gender, inp.birth_date)
    phone = c.phone(inp.phone)
    relation = c.relation(inp.relation_to_head)
    c.not_future(inp.moved_in_on, "movedInOn")
    c.not_before(inp.moved_in_on, birth_date, "movedInOn", "birth date")
    c.done()
    household = await w.load(Household, household_id, "householdId")
    w.require(household.area_code, "resident", "create", "householdId")
    await w.unique_id_number(id_number)
    row = Resident(area_code=household.area_code, household_id=household.id, name=name, gender=gender,
                   id_number=id_number, birth_date=birth_date, phone=phone, relation_to_head=relation,
                   population_kind=_value(inp.population_kind), moved_in_on=inp.moved_in_on)
    await w.add(row)
    w.count(row.area_code, residents=1, floating_residents=int(row.population_kind == FLOATING))
    w.audit("resident.create", row, {"after": snapshot(row, RESIDENT_FIELDS)})
    return row


async def update_resident(w: Write, inp) -> Resident:
    c = w.checker()
    resident_id = decode_id(inp.id, "Resident", "id", c)
    changes = _given(name=c.text(inp.name, "name", 50, required=True), id_number=c.id_number(inp.id_number),
                     phone=c.phone(inp.phone), relation_to_head=c.relation(inp.relation_to_head),
                     population_kind=c.required(_value(inp.population_kind), "populationKind"),
                     moved_in_on=inp.moved_in_on)
    c.not_future(inp.moved_in_on, "movedInOn")
    if inp.gender is None or inp.birth_date is None:
        c.fail("gender" if inp.gender is None else "birthDate", "cannot be cleared")
    c.done()
    row = await w.load(Resident, resident_id, "id")
    w.require(row.area_code, "resident", "update", "id")
    w.check_version(row, inp.version)
    c = w.checker()
    gender, birth_date = c.identity(changes.get("id_number", row.id_number), inp.gender, inp.birth_date)
    changes.update(gender=gender, birth_date=birth_date)
    moved_in = changes.get("moved_in_on", row.moved_in_on)
    c.not_before(moved_in, birth_date, "movedInOn", "birth date")
    if row.removed_on is not None and moved_in is not None and moved_in > row.removed_on:
        c.fail("movedInOn", f"{moved_in.isoformat()} is after the removal date ({row.removed_on.isoformat()})")
    c.done()
    if changes.get("id_number", row.id_number) != row.id_number:
        await w.unique_id_number(changes["id_number"], except_id=row.id)
    was_floating = row.population_kind == FLOATING
    diff = await w.change(row, inp.version, changes)
    if diff:
        if row.status == ACTIVE and was_floating != (row.population_kind == FLOATING):
            w.count(row.area_code, floating_residents=1 if row.population_kind == FLOATING else -1)
        w.audit("resident.update", row, diff)
    return row


async def move_resident(w: Write, inp) -> Resident:
    c = w.checker()
    resident_id = decode_id(inp.id, "Resident", "id", c)
    household_id = decode_id(inp.household_id, "Household", "householdId", c)
    relation = c.relation(inp.relation_to_head)
    moved_in_on = inp.moved_in_on or w.today
    c.not_future(moved_in_on, "movedInOn")
    c.done()
    row = await w.load(Resident, resident_id, "id")
    w.require(row.area_code, "resident", "update", "id")
    target = await w.load(Household, household_id, "householdId")
    w.require(target.area_code, "resident", "update", "householdId")
    w.check_version(row, inp.version)
    if row.status != ACTIVE:
        raise InvalidField("id", f"only an active resident can be moved; this one is {row.status}")
    if target.id == row.household_id:
        raise InvalidField("householdId", "the resident already belongs to this household")
    c = w.checker()
    c.not_before(moved_in_on, row.birth_date, "movedInOn", "birth date")
    c.done()
    source = row.area_code
    diff = await w.change(row, inp.version, _given(household_id=target.id, area_code=target.area_code,
                                                   moved_in_on=moved_in_on, relation_to_head=relation))
    if source != row.area_code:
        floating = int(row.population_kind == FLOATING)
        w.count(source, residents=-1, floating_residents=-floating)
        w.count(row.area_code, residents=1, floating_residents=floating)
        w.audit("resident.move", row, diff, area_code=source)  # each grid's trail shows the move
    w.audit("resident.move", row, diff)
    return row


async def remove_resident(w: Write, inp) -> Resident:
    c = w.checker()
    resident_id = decode_id(inp.id, "Resident", "id", c)
    reason = c.text(inp.reason, "reason", 200, required=True)
    removed_on = inp.removed_on or w.today
    c.not_future(removed_on, "removedOn")
    c.done()
    row = await w.load(Resident, resident_id, "id")
    w.require(row.area_code, "resident", "update", "id")
    w.require(row.area_code, "resident", "delete", "id")
    w.check_version(row, inp.version)
    if row.status != ACTIVE:
        raise InvalidField("id", f"this resident is already recorded as {row.status}")
    c = w.checker()
    c.not_before(removed_on, row.moved_in_on, "removedOn", "moved-in date")
    c.not_before(removed_on, row.birth_date, "removedOn", "birth date")
    c.done()
    diff = await w.change(row, inp.version, {"status": _value(inp.status), "removed_reason": reason,
                                             "removed_on": removed_on})
    w.count(row.area_code, residents=-1, floating_residents=-int(row.population_kind == FLOATING))
    w.audit("resident.remove", row, diff)
    return row
