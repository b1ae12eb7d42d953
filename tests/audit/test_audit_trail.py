"""The audit trail stays readable and minimal (docs/SECURITY.md, section 4).

* Every kind of record key fits ``recordIds`` (a grid worker's contact is keyed by the
  grid's 15-digit code, which no GraphQL ``Int`` holds): a page containing such a row
  used to fail whole with INTERNAL_SERVER_ERROR.
* Personal values in ``detail`` (before/after of registry edits) follow the registry's own
  rule: masked unless the reader holds ``read_pii`` on the record's kind at the event's
  area, and a clear one is a clear read like any other (a ``pii.read`` row, committed with
  the answer).
"""

from __future__ import annotations

import re
import shutil
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from authz.masking import ADDRESS_MASK, mask_address, mask_id_number, mask_name, mask_phone
from conftest import TEST_SECRET, Api
from db.area import Area
from db.audit import AuditEvent
from db.registry import Building, Household, Resident
from registry_support import GRID, fresh, gid, make_id_number, mutate

AUDIT = """query($action: String, $first: Int, $after: String) {
  auditEvents(action: $action, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id action actorUsername resource areaCode recordIds detail } } } }"""

#: Every personal field the API has: the registry's (``reveal``) and the grid worker's contact.
EVERY_PERSONAL_FIELD = """{ area(code: "%s") {
  gridWorkerName gridWorkerPhone
  buildings(first: 2) { edges { node { id address } } }
  households(first: 2) { edges { node { id address unit room building { address } } } }
  residents(first: 2) { edges { node { id name idNumber phone birthDate household { address unit room } } } }
  removed: residents(filter: {status: MOVED_AWAY}) { edges { node { id name removedReason } } }
} }""" % GRID


def audit_nodes(api: Api, user: str, action: str | None = None) -> list[dict]:
    """Every event ``user`` may read (all pages), newest first; fails on any error."""
    nodes, after = [], None
    while True:
        page = api.data(AUDIT, {"action": action, "first": 100, "after": after}, user=user)["auditEvents"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def pii_reads(session, actor: str) -> list[AuditEvent]:
    fresh(session)
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "pii.read",
                                                         AuditEvent.actor_username == actor)
                                .order_by(AuditEvent.id)))


def remove_one_resident(session) -> Resident:
    r = session.scalars(select(Resident).where(Resident.area_code == GRID).order_by(Resident.id)).first()
    r.status, r.removed_reason = "moved_away", "随女儿迁往哈尔滨市南岗区花园街道12号"
    session.commit()
    return r


@pytest.fixture
def masked_admin_api(db_url, tmp_path):
    """The app with a policy file in which ``admin`` lost every ``read_pii``: a masked auditor."""
    from starlette.testclient import TestClient

    from authz.enforcer import default_policies_path
    from server.app import create_app
    from server.settings import Settings

    path = tmp_path / "policies.csv"
    shutil.copyfile(default_policies_path(), path)
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^p, admin, \w+, read_pii\n", "", text), encoding="utf-8")
    app = create_app(Settings(database_url=db_url, secret=TEST_SECRET, policies_path=path))
    with TestClient(app) as client:
        yield Api(client, db_url, TEST_SECRET)


# -- record keys ---------------------------------------------------------------------------


def test_every_clear_read_is_listed_with_its_record_keys(api, sync_session):
    """Finding 4a: the grid worker contact's pii.read row (keyed by a 15-digit code) broke every page."""
    removed = remove_one_resident(sync_session)
    for reader in ("community_staff", "district_admin"):
        data = api.data(EVERY_PERSONAL_FIELD, user=reader)["area"]
        assert data["gridWorkerName"] and "*" not in data["gridWorkerPhone"]
        assert data["removed"]["edges"][0]["node"]["removedReason"].startswith("随女儿")

    events = audit_nodes(api, "district_admin")  # one page with every kind of record key
    reads = {(e["actorUsername"], e["resource"]): e for e in events if e["action"] == "pii.read"}
    for reader in ("community_staff", "district_admin"):
        assert {r for (a, r) in reads if a == reader} == {"area", "building", "household", "resident"}
        assert reads[(reader, "area")]["recordIds"] == [GRID]
        assert str(removed.id) in reads[(reader, "resident")]["recordIds"]
        assert all(isinstance(k, str) and k for e in events for k in e["recordIds"])
    stored = {(r.resource, r.record_ids) for r in pii_reads(sync_session, "community_staff")}
    listed = {(e["resource"], ",".join(e["recordIds"])) for e in events
              if e["action"] == "pii.read" and e["actorUsername"] == "community_staff"}
    assert listed == stored  # the keys come back exactly as written

    # The reader itself, where it may read the trail: the admin reads its own reads back.
    own = audit_nodes(api, "district_admin", action="pii.read")
    assert {e["resource"] for e in own if e["actorUsername"] == "district_admin"} == {"area", "building", "household", "resident"}
    body = api.query(AUDIT, user="community_staff")  # staff may not read the trail: refused, not broken
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_record_ids_keep_their_written_form(api, sync_session):
    """Database ids stay strings of digits; no key is dropped or turned into a number."""
    sync_session.add_all([
        AuditEvent(action="pii.read", resource="area", record_ids=f"{GRID},230102001001002", area_code="230102001001"),
        AuditEvent(action="pii.read", resource="resident", record_ids="7,12", area_code=GRID),
    ])
    sync_session.commit()
    keys = [e["recordIds"] for e in audit_nodes(api, "district_admin", action="pii.read")[:2]]
    assert keys == [["7", "12"], [GRID, "230102001001002"]]


# -- details -------------------------------------------------------------------------------


def edit_resident(api: Api, session, user: str = "community_staff") -> tuple[Resident, dict]:
    """A resident of GRID renamed, renumbered and rephoned; the row before and the values sent."""
    r = fresh(session).scalars(select(Resident).where(Resident.area_code == GRID).order_by(Resident.id)).first()
    session.expunge(r)
    new = {"name": "欧阳新名", "idNumber": make_id_number(7, birth="19790305"), "phone": "13912345678"}
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, **new}, user)
    assert out["errors"] == []
    return r, new


def edit_household(api: Api, session, user: str = "community_staff") -> tuple[Household, str]:
    h = fresh(session).scalars(select(Household).where(Household.area_code == GRID).order_by(Household.id)).first()
    session.expunge(h)
    address = "黑龙江省哈尔滨市道里区新华街道乡政社区9栋3单元702"
    out = mutate(api, "updateHousehold", {"id": gid("Household", h.id), "version": h.version, "address": address,
                                          "unit": "3", "room": "702"}, user)
    assert out["errors"] == []
    return h, address


def test_a_masked_admin_reads_details_masked(masked_admin_api, sync_session):
    """Finding 4b: before/after names, ID and phone numbers and addresses came in clear."""
    api = masked_admin_api
    r, new = edit_resident(api, sync_session)
    h, address = edit_household(api, sync_session)
    events = audit_nodes(api, "district_admin")
    resident = next(e for e in events if e["action"] == "resident.update")["detail"]
    assert resident["before"]["name"] == mask_name(r.name) and resident["after"]["name"] == mask_name(new["name"])
    assert resident["before"]["id_number"] == mask_id_number(r.id_number)
    assert resident["after"]["id_number"] == mask_id_number(new["idNumber"])
    assert resident["before"]["phone"] == mask_phone(r.phone) and resident["after"]["phone"] == mask_phone(new["phone"])
    assert resident["before"].get("birth_date") is None and resident["after"].get("birth_date") is None
    assert set(resident["after"]) >= {"name", "id_number", "phone", "birth_date"}  # keys stay, values masked
    household = next(e for e in events if e["action"] == "household.update")["detail"]
    assert household["after"] == {"address": mask_address(address), "unit": ADDRESS_MASK, "room": ADDRESS_MASK}
    assert household["before"]["address"] == mask_address(h.address)
    assert pii_reads(sync_session, "district_admin") == []  # nothing in clear, nothing to audit


def test_a_clear_detail_is_a_clear_read(api, sync_session):
    """Finding 4c: an admin with read_pii sees details in clear, and that leaves a pii.read row."""
    r, new = edit_resident(api, sync_session)
    assert pii_reads(sync_session, "district_admin") == []
    # An operation listing no personal detail writes no pii.read row (the trail stays minimal).
    api.data('{ auditEvents(action: "login.failed") { edges { node { detail recordIds } } } }', user="district_admin")
    assert pii_reads(sync_session, "district_admin") == []

    events = audit_nodes(api, "district_admin", action="resident.update")
    assert events[0]["detail"]["after"]["name"] == new["name"]
    assert events[0]["detail"]["before"]["id_number"] == r.id_number
    (row,) = pii_reads(sync_session, "district_admin")
    assert (row.resource, row.record_ids, row.area_code) == ("resident", str(r.id), GRID)

    # Reading only other columns of the same events shows nothing personal: no new row.
    api.data('{ auditEvents(action: "resident.update") { edges { node { id recordIds } } } }', user="district_admin")
    assert len(pii_reads(sync_session, "district_admin")) == 1


def test_details_follow_the_readers_read_pii_area(api, sync_session):
    """A province admin reads the district's details in clear (audited); masking is per event's area."""
    edit_resident(api, sync_session)
    detail = audit_nodes(api, "province_admin", action="resident.update")[0]["detail"]
    assert "*" not in detail["after"]["name"]
    assert [r.resource for r in pii_reads(sync_session, "province_admin")] == ["resident"]


# -- the property: a masked admin never sees a clear personal value --------------------------

HAN = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文明华建国军平秀英丽芳敏静"
names = st.text(alphabet=HAN, min_size=2, max_size=4)
phones = st.builds(lambda p, rest: p + rest, st.sampled_from(["130", "139", "150", "177", "186"]),
                   st.text(alphabet=string.digits, min_size=8, max_size=8))
id_numbers = st.builds(lambda n, y, m, d: make_id_number(n, birth=f"{y}{m:02d}{d:02d}"),
                       st.integers(0, 498), st.integers(1940, 2005), st.integers(1, 12), st.integers(1, 28))
addresses = st.builds(lambda b, u, r: f"黑龙江省哈尔滨市道里区新华街道乡政社区{b}栋{u}单元{r}",
                      st.integers(1, 99), st.integers(1, 9), st.integers(101, 2999))
rooms = st.integers(101, 2999).map(str)


def clear_values(session) -> set[str]:
    """Every personal value now in the database whose mask differs from it (all text kinds)."""
    fresh(session)
    found: set[tuple[str, object]] = set()
    for name, id_number, phone, reason in session.execute(
            select(Resident.name, Resident.id_number, Resident.phone, Resident.removed_reason)):
        found |= {(name, mask_name), (id_number, mask_id_number), (phone, mask_phone), (reason, lambda _v: "****")}
    for address, unit, room in session.execute(select(Household.address, Household.unit, Household.room)):
        found |= {(address, mask_address), (unit, lambda _v: ADDRESS_MASK), (room, lambda _v: ADDRESS_MASK)}
    for (address,) in session.execute(select(Building.address)):
        found.add((address, mask_address))
    for name, phone in session.execute(select(Area.grid_worker_name, Area.grid_worker_phone)):
        found |= {(name, mask_name), (phone, mask_phone)}
    return {v for v, mask in found if v is not None and mask(v) != v}


def leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, phone=phones, id_number=id_numbers, address=addresses, room=rooms, reason=names,
       which=st.integers(0, 4), editor=st.sampled_from(["community_staff", "grid_worker", "district_admin"]))
def test_a_masked_admin_never_sees_a_clear_personal_value(masked_admin_api, sync_session, name, phone, id_number,
                                                          address, room, reason, which, editor):
    api = masked_admin_api
    s = fresh(sync_session)
    residents = list(s.scalars(select(Resident).where(Resident.area_code == GRID, Resident.status == "active")
                               .order_by(Resident.id).limit(5)))
    r = residents[which % len(residents)]
    h = s.scalars(select(Household).where(Household.area_code == GRID).order_by(Household.id).offset(which)).first()
    b = s.scalars(select(Building).where(Building.area_code == GRID).order_by(Building.id)).first()
    rid, rv, hid, hv, bid, bv, household_id = r.id, r.version, h.id, h.version, b.id, b.version, h.id
    sent = {name, phone, id_number, address, room, reason}
    mutate(api, "updateResident", {"id": gid("Resident", rid), "version": rv, "name": name, "phone": phone,
                                   "idNumber": id_number}, editor)  # a duplicate ID number is refused: fine
    mutate(api, "updateHousehold", {"id": gid("Household", hid), "version": hv, "address": address, "room": room}, editor)
    mutate(api, "updateBuilding", {"id": gid("Building", bid), "version": bv, "address": address + "号楼"}, editor)
    created = mutate(api, "createResident", {"householdId": gid("Household", household_id), "name": reason,
                                             "idNumber": make_id_number(which, birth="20010101", male=False),
                                             "phone": phone, "relationToHead": "other", "populationKind": "FLOATING"},
                     editor)["resident"]
    if created:
        mutate(api, "removeResident", {"id": created["id"], "version": created["version"], "status": "MOVED_AWAY",
                                       "reason": f"迁往{address}"}, editor)
        sent.add(f"迁往{address}")

    secret = clear_values(sync_session) | {v for v in sent if mask_name(v) != v}
    seen = [v for e in audit_nodes(api, "district_admin") for v in leaves(e["detail"]) if isinstance(v, str)]
    assert not secret & set(seen), sorted(secret & set(seen))
    assert pii_reads(sync_session, "district_admin") == []
