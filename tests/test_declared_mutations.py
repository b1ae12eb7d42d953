"""Generated from the declared mutations (``schema.mutations``): a caller without the
declared right is refused, and nothing in the database changes.

Each mutation names its rights once, in its command (``resolvers.unit_of_work.command``).
Here every such mutation is called, with otherwise valid arguments, by users who lack the
right where the arguments point (a grid worker on the neighbouring grid, the province's
analyst who writes nowhere). A mutation declared without an example below fails the
suite: a new mutation is tested the day it is declared.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conftest import global_id
from db.accounts import AreaGrant, User
from db.models import metadata
from db.registry import Building, Household, Resident
from db.returnee import Returnee
from registry_support import NEIGHBOUR, fresh, make_id_number, rows

#: Mutations that need no right beyond a login (their refusals are the login rules').
NO_RIGHTS = {"logout"}
WRITERS_ELSEWHERE = ["grid_worker", "province_analyst"]  # rights in another grid / no writes anywhere


def _resident(s):
    return rows(s, Resident, Resident.area_code == NEIGHBOUR, Resident.status == "active")[0]


def _households(s):
    return rows(s, Household, Household.area_code == NEIGHBOUR)


def _returnee(s):
    return rows(s, Returnee, Returnee.area_code == NEIGHBOUR, Returnee.status == "following_up")[0]


def _user(s, name):
    fresh(s)
    return s.scalars(select(User).where(User.username == name)).one()


def _grant_of(s, name):
    fresh(s)
    return s.scalars(select(AreaGrant).join(User, User.id == AreaGrant.user_id).where(User.username == name)).first()


def _key_person(s):
    from db.key_person import KeyPerson

    fresh(s)
    return s.scalars(select(KeyPerson).where(KeyPerson.area_code == NEIGHBOUR, KeyPerson.removed_at.is_(None))).first()


def _campaign(s):
    from db.survey import SurveyCampaign

    fresh(s)
    return s.scalars(select(SurveyCampaign).where(SurveyCampaign.area_code == NEIGHBOUR[:4])).first()


def _survey_person(s):
    from db.survey import SurveyPerson

    fresh(s)
    return s.scalars(select(SurveyPerson).where(SurveyPerson.area_code == NEIGHBOUR)).first()


def _isolation(s):
    from db.isolation import Isolation

    fresh(s)
    return s.scalars(select(Isolation).where(Isolation.area_code != "230102001001001",  # not the grid worker's
                                             Isolation.status == "active").order_by(Isolation.id)).first()


def _site(s):
    from db.isolation import IsolationSite

    fresh(s)
    return s.scalars(select(IsolationSite).where(IsolationSite.area_code == NEIGHBOUR[:6])).first()


def _alert(s):
    from db.isolation import TemperatureReading

    fresh(s)
    return s.scalars(select(TemperatureReading).where(TemperatureReading.area_code != "230102001001001")).first()


#: name -> (arguments from the test database, users who must be refused)
EXAMPLES = {
    "createBuilding": (lambda s: {"input": {"areaCode": NEIGHBOUR, "name": "9号楼"}}, WRITERS_ELSEWHERE),
    "updateBuilding": (lambda s: (lambda b: {"input": {"id": global_id("Building", b.id), "version": b.version,
                                                       "name": "9号楼"}})(
        rows(s, Building, Building.area_code == NEIGHBOUR)[0]), WRITERS_ELSEWHERE),
    "createHousehold": (lambda s: {"input": {"areaCode": NEIGHBOUR, "address": "乡政街9号"}}, WRITERS_ELSEWHERE),
    "updateHousehold": (lambda s: (lambda h: {"input": {"id": global_id("Household", h.id), "version": h.version,
                                                        "address": "乡政街9号"}})(_households(s)[0]), WRITERS_ELSEWHERE),
    "createResident": (lambda s: {"input": {"householdId": global_id("Household", _households(s)[0].id),
                                            "name": "王五", "idNumber": make_id_number(401)}}, WRITERS_ELSEWHERE),
    "updateResident": (lambda s: (lambda r: {"input": {"id": global_id("Resident", r.id), "version": r.version,
                                                       "name": "王五"}})(_resident(s)), WRITERS_ELSEWHERE),
    "moveResident": (lambda s: (lambda r: {"input": {
        "id": global_id("Resident", r.id), "version": r.version,
        "householdId": global_id("Household", next(h.id for h in _households(s) if h.id != r.household_id))}})(
        _resident(s)), WRITERS_ELSEWHERE),
    "removeResident": (lambda s: (lambda r: {"input": {"id": global_id("Resident", r.id), "version": r.version,
                                                       "status": "MOVED_AWAY", "reason": "迁出"}})(_resident(s)),
                       WRITERS_ELSEWHERE),
    "openReturnee": (lambda s: {"input": {"residentId": global_id("Resident", _resident(s).id), "origin": "湖北省武汉市",
                                          "departedOn": "2026-01-02", "arrivedOn": "2026-01-03",
                                          "transport": "TRAIN"}}, WRITERS_ELSEWHERE),
    "updateReturnee": (lambda s: (lambda r: {"input": {"id": global_id("Returnee", r.id), "version": r.version,
                                                       "origin": "北京市"}})(_returnee(s)), WRITERS_ELSEWHERE),
    "recordFollowUp": (lambda s: {"input": {"returneeId": global_id("Returnee", _returnee(s).id), "health": "WELL"}},
                       WRITERS_ELSEWHERE),
    "closeReturnee": (lambda s: (lambda r: {"input": {"id": global_id("Returnee", r.id), "version": r.version,
                                                      "status": "COMPLETED"}})(_returnee(s)), WRITERS_ELSEWHERE),
    "removeReturnee": (lambda s: (lambda r: {"input": {"id": global_id("Returnee", r.id), "version": r.version,
                                                       "reason": "重复登记"}})(_returnee(s)), WRITERS_ELSEWHERE),
    # A grid worker may look up in their own grid: only the analyst lacks the right anywhere.
    "lookupResident": (lambda s: {"input": {"idNumber": _resident(s).id_number}}, ["province_analyst"]),
    "createUser": (lambda s: {"input": {"username": "new_worker", "displayName": "新网格员", "password": "long-enough-1",
                                        "role": "grid_worker", "areaCode": NEIGHBOUR}}, WRITERS_ELSEWHERE),
    "grantRole": (lambda s: {"userId": global_id("User", _user(s, "community_staff").id), "role": "grid_worker",
                             "areaCode": NEIGHBOUR}, WRITERS_ELSEWHERE),
    "revokeGrant": (lambda s: {"grantId": global_id("Grant", _grant_of(s, "community_staff").id)}, WRITERS_ELSEWHERE),
    "deactivateUser": (lambda s: {"userId": global_id("User", _user(s, "community_staff").id)}, WRITERS_ELSEWHERE),
    "reactivateUser": (lambda s: {"userId": global_id("User", _user(s, "community_staff").id)}, WRITERS_ELSEWHERE),
    "addKeyPerson": (lambda s: {"input": {"residentId": global_id("Resident", _resident(s).id),
                                          "categories": ["HARDSHIP"]}}, WRITERS_ELSEWHERE),
    "updateKeyPerson": (lambda s: (lambda k: {"input": {"id": global_id("KeyPerson", k.id), "version": k.version,
                                                        "notes": "每周上门"}})(_key_person(s)), WRITERS_ELSEWHERE),
    "removeKeyPerson": (lambda s: (lambda k: {"input": {"id": global_id("KeyPerson", k.id), "version": k.version,
                                                        "reason": "已搬离"}})(_key_person(s)), WRITERS_ELSEWHERE),
    "openSurveyCampaign": (lambda s: {"input": {"areaCode": NEIGHBOUR, "name": "网格排查"}}, WRITERS_ELSEWHERE),
    "updateSurveyCampaign": (lambda s: (lambda c: {"input": {"id": global_id("SurveyCampaign", c.id),
                                                             "version": c.version, "name": "再排查"}})(_campaign(s)),
                             WRITERS_ELSEWHERE),
    "closeSurveyCampaign": (lambda s: (lambda c: {"input": {"id": global_id("SurveyCampaign", c.id),
                                                            "version": c.version}})(_campaign(s)), WRITERS_ELSEWHERE),
    "recordHouseholdVisit": (lambda s: {"input": {"campaignId": global_id("SurveyCampaign", _campaign(s).id),
                                                  "householdId": global_id("Household", _households(s)[0].id),
                                                  "method": "DOOR", "outcome": "NOBODY_HOME"}}, WRITERS_ELSEWHERE),
    "updateSurveyPerson": (lambda s: (lambda p: {"input": {"id": global_id("SurveyPerson", p.id), "version": p.version,
                                                           "fever": True}})(_survey_person(s)), WRITERS_ELSEWHERE),
    "openReturneeFromSurvey": (lambda s: {"input": {"surveyPersonId": global_id("SurveyPerson", _survey_person(s).id)}},
                               WRITERS_ELSEWHERE),
    "openIsolationSite": (lambda s: {"input": {"areaCode": NEIGHBOUR[:6], "name": "隔离点", "address": "人民路1号",
                                               "capacity": 10}}, WRITERS_ELSEWHERE),
    "updateIsolationSite": (lambda s: (lambda t: {"input": {"id": global_id("IsolationSite", t.id), "version": t.version,
                                                            "capacity": 40}})(_site(s)), WRITERS_ELSEWHERE),
    "startIsolation": (lambda s: {"input": {"residentId": global_id("Resident", _resident(s).id), "kind": "HOME",
                                            "reason": "CLOSE_CONTACT"}}, WRITERS_ELSEWHERE),
    "recordReading": (lambda s: {"input": {"isolationId": global_id("Isolation", _isolation(s).id), "celsius": 36.5}},
                      WRITERS_ELSEWHERE),
    "acknowledgeAlert": (lambda s: {"input": {"readingId": global_id("TemperatureReading", _alert(s).id),
                                              "note": "已处理"}}, WRITERS_ELSEWHERE),
    "recordDelivery": (lambda s: {"input": {"isolationId": global_id("Isolation", _isolation(s).id), "items": "米"}},
                       WRITERS_ELSEWHERE),
    "endIsolation": (lambda s: (lambda i: {"input": {"id": global_id("Isolation", i.id), "version": i.version,
                                                     "status": "RELEASED", "reason": "期满"}})(_isolation(s)),
                     WRITERS_ELSEWHERE),
    # A district admin holds ``policy update`` for the district only, not a whole province.
    "reloadPolicies": (lambda s: {}, ["district_admin", "grid_worker"]),
}


def _declared():
    from server.graphql_schema import schema  # noqa: F401 - every mutation declared
    from schema.mutations import DECLARED

    return DECLARED


def _needing_rights() -> list[str]:
    return sorted(n for n, m in _declared().items() if not m.command.public and n not in NO_RIGHTS)


def test_every_declared_mutation_has_a_refusal_example():
    assert set(_needing_rights()) - set(EXAMPLES) == set()
    assert all(_declared()[n].command.requires for n in _needing_rights())


def _document(name: str) -> str:
    """``mutation(...) { name(...) { errors { field code } } }`` from the schema's own arguments."""
    from server.graphql_schema import schema

    field = schema._schema.mutation_type.fields[name]
    variables = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    passed = ", ".join(f"{a}: ${a}" for a in field.args)
    head = f"mutation({variables})" if variables else "mutation"
    call = f"{name}({passed})" if passed else name
    return f"{head} {{ {call} {{ errors {{ field code }} }} }}"


def _everything(session) -> dict[str, list[tuple]]:
    """Every row of every table but the login sessions (the test's own logins make those)."""
    fresh(session)
    out = {}
    for table in metadata.sorted_tables:
        if table.name != "login_session":
            out[table.name] = [tuple(r) for r in session.execute(select(table).order_by(*table.primary_key.columns))]
    return out


@pytest.mark.parametrize("name", _needing_rights())
def test_a_caller_without_the_declared_right_is_refused_and_nothing_changes(api, sync_session, name):
    arguments, refused = EXAMPLES[name]
    variables = arguments(sync_session)
    for user in refused:
        api.token(user)  # logged in before the snapshot
    before = _everything(sync_session)
    for user in refused:
        body = api.query(_document(name), variables, user=user)
        assert not body.get("errors"), body["errors"]
        codes = {e["code"] for e in body["data"][name]["errors"]}
        assert codes and codes <= {"FORBIDDEN", "NOT_FOUND"}, (user, body["data"][name]["errors"])
    assert _everything(sync_session) == before
