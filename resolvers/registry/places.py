"""Registry mutations of places: buildings (楼栋) and households (户).

They are commands (``resolvers.unit_of_work``) and follow its order (validate, load
through the scope, authorise, check the version, write row + counters + audit); the
registry's own rules are in ``resolvers.registry.people``.
"""

from __future__ import annotations

from strawberry import UNSET

from db.codes import Level, validate_code
from db.errors import InvalidField
from db.registry import Building, Household
from resolvers.unit_of_work import Requires, UnitOfWork, command, enum_value, given, snapshot

MAX_UNITS, MAX_FLOORS = 99, 200
BUILDING_FIELDS = ("area_code", "name", "address", "units", "floors")
HOUSEHOLD_FIELDS = ("area_code", "building_id", "unit", "room", "address", "kind")


# -- buildings ----------------------------------------------------------------------

@command(Requires("building", "create", "areaCode"))
async def create_building(w: UnitOfWork, inp) -> Building:
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


@command(Requires("building", "update", "id"))
async def update_building(w: UnitOfWork, inp) -> Building:
    c = w.checker()
    building_id = c.global_id(inp.id, "Building", "id")
    changes = given(name=c.text(inp.name, "name", 100, required=True),
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

@command(Requires("household", "create", "buildingId|areaCode"))
async def create_household(w: UnitOfWork, inp) -> Household:
    c = w.checker()
    area = c.run(validate_code, inp.area_code, "areaCode", Level.GRID) if inp.area_code is not None else None
    building_id = c.global_id(inp.building_id, "Building", "buildingId") if inp.building_id is not None else None
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
                    kind=enum_value(inp.kind))
    await w.add(row)
    w.count(area, households=1)
    w.audit("household.create", row, {"after": snapshot(row, HOUSEHOLD_FIELDS)})
    return row


@command(Requires("household", "update", "id"))
async def update_household(w: UnitOfWork, inp) -> Household:
    c = w.checker()
    household_id = c.global_id(inp.id, "Household", "id")
    building_id = c.global_id(inp.building_id, "Building", "buildingId") if inp.building_id is not None else None
    changes = given(unit=c.text(inp.unit, "unit", 20, required=False),
                     room=c.text(inp.room, "room", 20, required=False),
                     address=c.text(inp.address, "address", 200, required=True),
                     kind=c.required(enum_value(inp.kind), "kind"))
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
