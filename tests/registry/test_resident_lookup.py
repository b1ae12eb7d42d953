"""``lookupResident``: the one way a masked reader finds a person by ID number.

One answer at most, inside the caller's lookup scope, masked as usual; every call audited
with the number only as a keyed hash; a daily quota per user, enforced under parallel calls.
"""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from conftest import TEST_SECRET
from db.audit import AuditEvent
from db.registry import Resident

LOOKUP = """mutation($n: String!) { lookupResident(input: {idNumber: $n}) {
  resident { id name idNumber areaCode } lookupsLeftToday errors { field code message } } }"""
SUPERVISED_GRID_PREFIX = "230102001"  # the supervisor's street


def _resident(sync_session, prefix: str) -> Resident:
    return sync_session.scalars(select(Resident).where(Resident.area_code.like(prefix + "%"))
                                .order_by(Resident.id).limit(1)).one()


def _lookups(sync_session) -> list[AuditEvent]:
    sync_session.expire_all()
    return list(sync_session.scalars(select(AuditEvent).where(AuditEvent.action == "resident.lookup")
                                     .order_by(AuditEvent.id)))


def test_finds_one_masked_resident_and_audits_a_hash(api, sync_session):
    person = _resident(sync_session, SUPERVISED_GRID_PREFIX)
    answer = api.data(LOOKUP, {"n": person.id_number}, user="supervisor")["lookupResident"]
    assert answer["errors"] == []
    found = answer["resident"]
    assert found["areaCode"] == person.area_code
    assert found["idNumber"] != person.id_number and "*" in found["idNumber"]
    assert answer["lookupsLeftToday"] == 19
    (row,) = _lookups(sync_session)
    assert row.actor_username == "supervisor" and row.record_ids == str(person.id)
    assert row.detail == {"idNumberHmac": hmac.new(TEST_SECRET.encode(), person.id_number.encode(),
                                                   hashlib.sha256).hexdigest(), "found": True}
    assert person.id_number not in str(row.detail)


def test_outside_the_lookup_scope_answers_none_but_is_audited(api, sync_session):
    elsewhere = _resident(sync_session, "230402")  # 鹤岗: not the supervisor's
    answer = api.data(LOOKUP, {"n": elsewhere.id_number}, user="supervisor")["lookupResident"]
    assert answer["resident"] is None and answer["errors"] == []
    (row,) = _lookups(sync_session)
    assert row.detail["found"] is False and row.record_ids is None and row.area_code is None


def test_bad_number_names_the_field_and_uses_no_lookup(api, sync_session):
    answer = api.data(LOOKUP, {"n": "23010219900101123"}, user="supervisor")["lookupResident"]
    assert answer["resident"] is None
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [("idNumber", "BAD_USER_INPUT")]
    assert _lookups(sync_session) == []


def test_roles_without_lookup_are_refused(api, sync_session):
    person = _resident(sync_session, SUPERVISED_GRID_PREFIX)
    answer = api.data(LOOKUP, {"n": person.id_number}, user="province_analyst")["lookupResident"]
    assert [e["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    assert _lookups(sync_session) == []


def test_the_daily_quota_holds_under_parallel_calls(api, sync_session):
    quota = api.client.app.state.settings.lookup_quota
    person = _resident(sync_session, SUPERVISED_GRID_PREFIX)
    token = api.token("supervisor")

    def call(_):
        r = api.client.post("/graphql", json={"query": LOOKUP, "variables": {"n": person.id_number}},
                            headers={"Authorization": f"Bearer {token}"})
        return r.json()["data"]["lookupResident"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(quota + 10)))
    codes = [a["errors"][0]["code"] if a["errors"] else "OK" for a in answers]
    assert codes.count("OK") <= quota
    assert set(codes) <= {"OK", "QUOTA_EXCEEDED", "CONFLICT"}
    assert len(_lookups(sync_session)) == codes.count("OK")
    # Once used up, every further call is refused and writes nothing.
    for _ in range(quota - codes.count("OK")):
        call(0)
    assert call(0)["errors"][0]["code"] == "QUOTA_EXCEEDED"
    assert len(_lookups(sync_session)) == quota


def test_aliases_in_one_request_share_the_quota(api, sync_session):
    person = _resident(sync_session, SUPERVISED_GRID_PREFIX)
    aliases = " ".join(f'l{i}: lookupResident(input: {{idNumber: "{person.id_number}"}}) {{ errors {{ code }} }}'
                       for i in range(25))
    data = api.data("mutation { %s }" % aliases, user="supervisor")
    codes = [data[f"l{i}"]["errors"][0]["code"] if data[f"l{i}"]["errors"] else "OK" for i in range(25)]
    assert codes == ["OK"] * 20 + ["QUOTA_EXCEEDED"] * 5
