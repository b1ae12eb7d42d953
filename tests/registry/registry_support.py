"""Shared helpers of the registry mutation tests: global IDs, fresh reads, snapshots."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import AuditEvent
from db.registry import Building, Household, Resident, ResidentStatus
from db.stats import GridDayStats, GridStats
from db.validators import id_check_digit

from conftest import global_id as gid  # noqa: F401 - the registry tests call it gid

GRID = "230102001001001"  # grid_worker's grid (community 230102001001 of community_staff)
NEIGHBOUR = "230102001001002"  # the next grid of the same community
TEAM_GRID = "230102001002001"  # a grid of community 230102001002 (team_member, temporary)
OTHER_CITY_GRID = "230402001001001"

PAYLOAD = "errors { field message code }"
RESIDENT_FIELDS = "id version areaCode name idNumber gender birthDate phone relationToHead populationKind status movedInOn removedOn removedReason household { id }"

M = {
    "createBuilding": "CreateBuildingInput", "updateBuilding": "UpdateBuildingInput",
    "createHousehold": "CreateHouseholdInput", "updateHousehold": "UpdateHouseholdInput",
    "createResident": "CreateResidentInput", "updateResident": "UpdateResidentInput",
    "moveResident": "MoveResidentInput", "removeResident": "RemoveResidentInput",
}
RESULT = {"Building": "building { id version areaCode name units floors address }",
          "Household": "household { id version areaCode address unit room kind building { id } }",
          "Resident": f"resident {{ {RESIDENT_FIELDS} }}"}


def mutation_text(name: str) -> str:
    kind = "Building" if "Building" in name else "Household" if "Household" in name else "Resident"
    return f"mutation($i: {M[name]}!) {{ {name}(input: $i) {{ {RESULT[kind]} {PAYLOAD} }} }}"


def mutate(api, name: str, input: dict, user: str | None) -> dict:
    """The payload of mutation ``name``; fails on transport or GraphQL errors."""
    body = api.query(mutation_text(name), {"i": input}, user=user)
    assert not body.get("errors"), body["errors"]
    return body["data"][name]


def fresh(session: Session) -> Session:
    """Forget what the test session has cached, so the next read sees committed rows."""
    session.rollback()
    session.expire_all()
    return session


def rows(session: Session, model, *where, order=None):
    """Committed rows as detached snapshots: later reads never refresh them behind the test's back."""
    fresh(session)
    found = list(session.scalars(select(model).where(*where).order_by(order if order is not None else model.id)))
    for row in found:
        session.expunge(row)
    return found


def first_resident(session: Session, grid: str, *, floating: bool | None = None) -> Resident:
    cond = [Resident.area_code == grid, Resident.status == ResidentStatus.ACTIVE.value]
    if floating is not None:
        cond.append(Resident.population_kind == ("floating" if floating else "registered"))
    return rows(session, Resident, *cond)[0]


def first_household(session: Session, grid: str) -> Household:
    return rows(session, Household, Household.area_code == grid)[0]


def first_building(session: Session, grid: str) -> Building:
    return rows(session, Building, Building.area_code == grid)[0]


def stats(session: Session, grid: str) -> dict[str, int]:
    fresh(session)
    s = session.scalars(select(GridStats).where(GridStats.area_code == grid)).one()
    return {k: getattr(s, k) for k in ("buildings", "households", "residents", "floating_residents")}


def audit_rows(session: Session, action: str | None = None) -> list[AuditEvent]:
    cond = [AuditEvent.action == action] if action else [AuditEvent.action.not_like("pii.%")]
    return rows(session, AuditEvent, *cond)


def snapshot(session: Session) -> dict[str, list[tuple]]:
    """Every row of the registry and its counters (the audit trail left out)."""
    fresh(session)
    out = {}
    for model in (Building, Household, Resident, GridStats, GridDayStats):
        table = model.__table__
        out[table.name] = [tuple(r) for r in session.execute(select(table).order_by(*table.primary_key.columns))]
    return out


def make_id_number(n: int, *, birth: str = "19850412", region: str = "230102", male: bool = True) -> str:
    """A valid ID number, distinct for each ``n`` (0-498), of the given gender."""
    seq = 2 * (n % 499) + (1 if male else 2)
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + id_check_digit(first17)
