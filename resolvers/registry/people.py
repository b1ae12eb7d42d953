"""What each registry mutation does: check the input, find the records, authorise, write.

Each is a command (``resolvers.unit_of_work``): validate, load through the scope,
authorise at every area involved, check the version, then write the row, the grid
counters (totals and per day) and the audit row together.

Area codes are never taken from the client for households and residents: a household
lies in its building's grid, a resident in its household's.

Decisions the issue left open (docs/REGISTRY_WRITES.md has the full list):

- a move's target household is a reference like any other: one the user cannot see
  answers ``NOT_FOUND``, exactly like a missing one; ``FORBIDDEN`` is for a target the
  user can see but not write (a grid worker who also reads the community, say);
- ``removeResident`` needs ``delete`` (the policy's word for taking someone off the
  registry) as well as ``update`` (the row is updated, not deleted);
- a household never changes grid (its residents would have to follow): ``buildingId``
  may only name a building of the same grid; people change grid with ``moveResident``;
- an update that changes nothing writes nothing: no version bump, no audit row.
"""

from __future__ import annotations

from sqlalchemy import literal, select
from strawberry import UNSET

from db.errors import InvalidField
from db.registry import Household, PopulationKind, Resident, ResidentStatus
from resolvers.followers import follow
from resolvers.unit_of_work import Requires, UnitOfWork, command, enum_value, given, snapshot
from resolvers.validation import Checker

RESIDENT_FIELDS = ("area_code", "household_id", "name", "gender", "id_number", "birth_date", "phone",
                   "relation_to_head", "population_kind", "moved_in_on")
ACTIVE = ResidentStatus.ACTIVE.value
FLOATING = PopulationKind.FLOATING.value


# -- the relation to the head of household ------------------------------------------

#: Relation to the head of household (与户主关系), as the registry records it.
RELATIONS = ("head", "spouse", "child", "parent", "other")


def checked_relation(c: Checker, value, name: str = "relationToHead") -> str | None:
    """``value`` as the registry stores it (one of ``RELATIONS``), the error recorded in ``c``."""
    if value is UNSET:
        return UNSET
    if value is None:
        return c.required(value, name)
    rel = value.strip().lower()
    if rel not in RELATIONS:
        c.fail(name, f"must be one of {', '.join(RELATIONS)}")
    return rel


# -- the national ID number ---------------------------------------------------------

def duplicate_id_number() -> InvalidField:
    return InvalidField("idNumber", "this ID number is already registered")


#: A concurrent registration of the same number loses at the unique constraint.
ID_NUMBER_TAKEN = {"id_number": duplicate_id_number}


async def id_number_taken(w: UnitOfWork, id_number: str, except_id: int | None = None) -> bool:
    """Whether any resident, anywhere, holds ``id_number``: a system-level yes/no.

    Uniqueness is national, so the check cannot be limited to the writer's scope; it
    runs on an unscoped session and answers one bit, nothing about who or where.
    """
    stmt = select(literal(1)).select_from(Resident).where(Resident.id_number == id_number)
    if except_id is not None:
        stmt = stmt.where(Resident.id != except_id)
    async with w.unscoped("ID numbers are unique nationwide; one yes/no, nothing about who or where") as system:
        return (await system.execute(stmt.limit(1))).first() is not None


async def unique_id_number(w: UnitOfWork, id_number: str, except_id: int | None = None) -> None:
    if await id_number_taken(w, id_number, except_id):
        raise duplicate_id_number()


# -- residents ----------------------------------------------------------------------

def checked_new_resident(c: Checker, inp) -> dict:
    """The fields of a resident to register, from an input with the registry's resident
    fields (``createResident``'s, or a person found at a survey visit), errors in ``c``."""
    name = c.text(inp.name, "name", 50, required=True)
    id_number = c.id_number(inp.id_number)
    gender, birth_date = c.identity(id_number, inp.gender, inp.birth_date)
    phone = c.phone(inp.phone)
    relation = checked_relation(c, inp.relation_to_head)
    c.not_future(inp.moved_in_on, "movedInOn")
    c.not_before(inp.moved_in_on, birth_date, "movedInOn", "birth date")
    return dict(name=name, gender=gender, id_number=id_number, birth_date=birth_date, phone=phone,
                relation_to_head=relation, population_kind=enum_value(inp.population_kind),
                moved_in_on=inp.moved_in_on)


async def register_resident(w: UnitOfWork, household: Household, fields: dict, field: str = "idNumber") -> Resident:
    """Register a resident in ``household`` (its grid): the one way a person enters the
    registry, with its uniqueness check, counters and audit row. The caller has checked
    ``fields`` (``checked_new_resident``) and the right to create residents there."""
    if await id_number_taken(w, fields["id_number"]):
        raise InvalidField(field, "this ID number is already registered")
    row = Resident(area_code=household.area_code, household_id=household.id, registered_on=w.local_today, **fields)
    await w.add(row)
    w.count(row.area_code, residents=1, floating_residents=int(row.population_kind == FLOATING),
            residents_registered=1, on=row.registered_on)
    w.audit("resident.create", row, {"after": snapshot(row, RESIDENT_FIELDS)})
    return row


@command(Requires("resident", "create", "householdId"), collisions=ID_NUMBER_TAKEN)
async def create_resident(w: UnitOfWork, inp) -> Resident:
    c = w.checker()
    household_id = c.global_id(inp.household_id, "Household", "householdId")
    fields = checked_new_resident(c, inp)
    c.done()
    household = await w.load(Household, household_id, "householdId")
    w.require(household.area_code, "resident", "create", "householdId")
    return await register_resident(w, household, fields)


@command(Requires("resident", "update", "id"), collisions=ID_NUMBER_TAKEN)
async def update_resident(w: UnitOfWork, inp) -> Resident:
    c = w.checker()
    resident_id = c.global_id(inp.id, "Resident", "id")
    changes = given(name=c.text(inp.name, "name", 50, required=True), id_number=c.id_number(inp.id_number),
                     phone=c.phone(inp.phone), relation_to_head=checked_relation(c, inp.relation_to_head),
                     population_kind=c.required(enum_value(inp.population_kind), "populationKind"),
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
        await unique_id_number(w, changes["id_number"], except_id=row.id)
    was_floating = row.population_kind == FLOATING
    diff = await w.change(row, inp.version, changes)
    if diff:
        if row.status == ACTIVE and was_floating != (row.population_kind == FLOATING):
            w.count(row.area_code, floating_residents=1 if row.population_kind == FLOATING else -1)
        w.audit("resident.update", row, diff)
    return row


@command(Requires("resident", "update", "id"), Requires("resident", "update", "householdId"))
async def move_resident(w: UnitOfWork, inp) -> Resident:
    c = w.checker()
    resident_id = c.global_id(inp.id, "Resident", "id")
    household_id = c.global_id(inp.household_id, "Household", "householdId")
    relation = checked_relation(c, inp.relation_to_head)
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
    diff = await w.change(row, inp.version, given(household_id=target.id, area_code=target.area_code,
                                                   moved_in_on=moved_in_on, relation_to_head=relation))
    if source != row.area_code:
        floating = int(row.population_kind == FLOATING)
        # per-day counters count a row where it is now: its registration day moves with it
        w.count(source, residents=-1, floating_residents=-floating, residents_registered=-1, on=row.registered_on)
        w.count(row.area_code, residents=1, floating_residents=floating, residents_registered=1, on=row.registered_on)
        await follow(w, row.id, source, row.area_code)  # an active isolation goes with them
        w.audit("resident.move", row, diff, area_code=source)  # each grid's trail shows the move
    w.audit("resident.move", row, diff)
    return row


@command(Requires("resident", "update", "id"), Requires("resident", "delete", "id"))
async def remove_resident(w: UnitOfWork, inp) -> Resident:
    c = w.checker()
    resident_id = c.global_id(inp.id, "Resident", "id")
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
    diff = await w.change(row, inp.version, {"status": enum_value(inp.status), "removed_reason": reason,
                                             "removed_on": removed_on})
    w.count(row.area_code, residents=-1, floating_residents=-int(row.population_kind == FLOATING),
            residents_removed=1, on=row.removed_on)
    w.audit("resident.remove", row, diff)
    return row
