"""Property: a registry mutation succeeds exactly when its user may act at every area it
touches, and a refused one changes nothing.

Random demo user (and an anonymous caller, and a user who reads more than it may write)
x random mutation x random target record or grid, through HTTP. The expectation is
computed independently of the API, from the user's grants with ``Scope.allows``:

=================  ===========================================================
createBuilding     building/create at the grid
updateBuilding     building/update at the building's grid
createHousehold    household/create at the grid
updateHousehold    household/update at the household's grid
createResident     resident/create at the household's grid
updateResident     resident/update at the resident's grid
moveResident       resident/update at the resident's grid AND at the target's
removeResident     resident/update and resident/delete at the resident's grid
=================  ===========================================================

Every input is otherwise valid (current version, fresh ID number, a different target
household), so "refused" can only mean "not allowed". One database serves all examples
of a run; examples do not undo their writes, they only need the properties above.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from authz.enforcer import load_enforcer
from authz.grants import ActiveGrant
from authz.principal import active_grants_stmt, subject_of
from authz.scope import Scope
from db.accounts import AreaGrant, User
from db.registry import Building, Household, Resident
from registry_support import GRID, NEIGHBOUR, OTHER_CITY_GRID, TEAM_GRID, fresh, gid, make_id_number, mutate, mutation_text, rows, snapshot

USERS = ["grid_worker", "community_staff", "team_member", "district_admin", "city_officer", "supervisor",
         "province_analyst", "split_user", None]
GRIDS = [GRID, NEIGHBOUR, "230102001001003", TEAM_GRID, "230102002001002", "230103001001001", OTHER_CITY_GRID]
# Weighted towards users who write somewhere and grids where they do, so that about a
# third of the examples are allowed: both halves of "iff" get exercised.
WRITERS = ["grid_worker", "community_staff", "team_member", "split_user"]
NEAR = [GRID, GRID, NEIGHBOUR, TEAM_GRID]
MUTATIONS = ["createBuilding", "updateBuilding", "createHousehold", "updateHousehold", "createResident",
             "updateResident", "moveResident", "removeResident"]
ENFORCER = load_enforcer()
_fresh_ids = itertools.count()


def scope_of(session, username: str | None) -> Scope | None:
    if username is None:
        return None
    uid = session.scalar(select(User.id).where(User.username == username))
    grants = [ActiveGrant(g.role, g.area_code)
              for g in session.scalars(active_grants_stmt(uid, datetime.now(timezone.utc)))]
    return Scope(ENFORCER, subject_of(uid), grants)


def pick(items: list, index: int):
    return items[index % len(items)]


def plan(session, name: str, grid: str, other_grid: str, index: int) -> tuple[dict, list[tuple[str, str, str]]]:
    """The input of a valid ``name`` mutation at ``grid`` and the permissions it needs."""
    if name == "createBuilding":
        return {"areaCode": grid, "name": "属性楼"}, [(grid, "building", "create")]
    if name == "createHousehold":
        return {"areaCode": grid, "address": "属性测试地址"}, [(grid, "household", "create")]
    if name == "updateBuilding":
        b = pick(rows(session, Building, Building.area_code == grid), index)
        return ({"id": gid("Building", b.id), "version": b.version, "floors": 1 + index % 30},
                [(grid, "building", "update")])
    if name == "updateHousehold":
        h = pick(rows(session, Household, Household.area_code == grid), index)
        return ({"id": gid("Household", h.id), "version": h.version, "room": f"{index}0{index % 4 + 1}"},
                [(grid, "household", "update")])
    if name == "createResident":
        h = pick(rows(session, Household, Household.area_code == grid), index)
        n = next(_fresh_ids)
        id_number = make_id_number(n, birth=f"19{60 + n // 499 % 40}0101", region="110105")
        return ({"householdId": gid("Household", h.id), "name": "属性人", "idNumber": id_number},
                [(grid, "resident", "create")])
    r = pick(rows(session, Resident, Resident.area_code == grid, Resident.status == "active"), index)
    base = {"id": gid("Resident", r.id), "version": r.version}
    if name == "updateResident":
        return {**base, "phone": f"139{index:08d}"}, [(grid, "resident", "update")]
    if name == "removeResident":
        return ({**base, "status": "MOVED_AWAY", "reason": "属性测试"},
                [(grid, "resident", "update"), (grid, "resident", "delete")])
    target = pick([h for h in rows(session, Household, Household.area_code == other_grid) if h.id != r.household_id],
                  index)
    return ({**base, "householdId": gid("Household", target.id)},
            [(grid, "resident", "update"), (other_grid, "resident", "update")])


def add_split_user(session) -> None:
    """Reads (masked) all of GRID's community as an officer, writes only GRID as its grid worker."""
    from authz.users import create_user

    now = datetime.now(timezone.utc)
    user = create_user(session, "split_user", "网格员兼社区督导", "split-password", "grid_worker", GRID,
                       allow_short=True)
    session.add(AreaGrant(user_id=user.id, role="officer", area_code="230102001001", valid_from=now, created_at=now))
    session.commit()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=st.sampled_from(USERS + WRITERS), name=st.sampled_from(MUTATIONS), grid=st.sampled_from(GRIDS + NEAR),
       other_grid=st.sampled_from(GRIDS + NEAR), index=st.integers(0, 40))
@example(user="grid_worker", name="moveResident", grid=GRID, other_grid=GRID, index=1)  # allowed
@example(user="community_staff", name="moveResident", grid=GRID, other_grid=NEIGHBOUR, index=2)  # allowed
@example(user="grid_worker", name="moveResident", grid=GRID, other_grid=NEIGHBOUR, index=3)  # into a neighbour
@example(user="split_user", name="moveResident", grid=GRID, other_grid=NEIGHBOUR, index=4)  # visible, not writable
@example(user="split_user", name="updateResident", grid=NEIGHBOUR, other_grid=GRID, index=5)
@example(user="city_officer", name="removeResident", grid=GRID, other_grid=GRID, index=6)
@example(user=None, name="createBuilding", grid=GRID, other_grid=GRID, index=0)
def test_mutation_succeeds_iff_allowed_everywhere_and_refusal_changes_nothing(
        api, sync_session, user, name, grid, other_grid, index):
    if user == "split_user" and sync_session.scalar(select(User.id).where(User.username == user)) is None:
        add_split_user(sync_session)
    fresh(sync_session)
    input, needs = plan(sync_session, name, grid, other_grid, index)
    scope = scope_of(sync_session, user)
    allowed = scope is not None and all(scope.allows(area, resource, action) for area, resource, action in needs)

    before = snapshot(sync_session)
    if user is None:  # refused before anything runs, like every mutation without a token
        event("refused")
        response = api.post(mutation_text(name), {"i": input})
        assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert snapshot(sync_session) == before
        return
    payload = mutate(api, name, input, user)
    succeeded = payload["errors"] == []
    event("allowed" if allowed else "refused")
    assert succeeded == allowed, (user, name, needs, payload["errors"])
    if not succeeded:
        assert snapshot(sync_session) == before
        assert {e["code"] for e in payload["errors"]} <= {"FORBIDDEN", "NOT_FOUND"}
