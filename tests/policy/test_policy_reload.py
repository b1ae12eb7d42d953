"""``reloadPolicies`` over HTTP: who may, what a broken file does, and other processes following."""

from __future__ import annotations

import shutil

from account_support import AREA, COMMUNITY, VIEWER, audit_rows, errors

RELOAD = "mutation { reloadPolicies { version fingerprint ruleCount errors { field message code } } }"


def test_reload_policies_bumps_the_version_every_process_follows(api, db_url, sync_session):
    from starlette.testclient import TestClient

    from authz.enforcer import policy_fingerprint
    from conftest import TEST_SECRET
    from db.accounts import PolicyState
    from server.app import create_app
    from server.settings import Settings

    refused = api.data(RELOAD, user="district_admin")["reloadPolicies"]
    assert errors(refused) == [(None, "FORBIDDEN")]

    other = create_app(Settings(database_url=db_url, secret=TEST_SECRET))  # a second server process
    with TestClient(other) as client:
        headers = {"Authorization": f"Bearer {api.token('grid_worker')}"}
        assert client.post("/graphql", json={"query": VIEWER}, headers=headers).status_code == 200
        before = other.state.enforcer

        done = api.data(RELOAD, user="province_admin")["reloadPolicies"]
        assert done["errors"] == [] and done["ruleCount"] > 50
        assert done["fingerprint"] == policy_fingerprint()
        sync_session.expire_all()
        state = sync_session.get(PolicyState, 1)
        assert state.version == done["version"]

        assert client.post("/graphql", json={"query": VIEWER}, headers=headers).status_code == 200
        assert other.state.enforcer is not before and other.state.policy_version == done["version"]
        again = api.data(RELOAD, user="province_admin")["reloadPolicies"]
        assert again["version"] == done["version"] + 1
    (row, _) = audit_rows(sync_session, "policy.reload")
    assert row.actor_username == "province_admin" and row.area_code is None


def test_a_broken_policy_file_keeps_the_running_policies(db_url, tmp_path, sync_session):
    from starlette.testclient import TestClient

    from authz.enforcer import default_policies_path
    from conftest import TEST_SECRET, Api
    from server.app import create_app
    from server.settings import Settings

    path = tmp_path / "policies.csv"
    shutil.copyfile(default_policies_path(), path)
    app = create_app(Settings(database_url=db_url, secret=TEST_SECRET, policies_path=path))
    with TestClient(app) as client:
        api = Api(client, db_url, TEST_SECRET)
        running = app.state.enforcer
        path.write_text(path.read_text(encoding="utf-8") + "p, admin, resident, teleport\n", encoding="utf-8")
        payload = api.data(RELOAD, user="province_admin")["reloadPolicies"]
        assert [e["code"] for e in payload["errors"]] == ["INVALID_POLICY"]
        assert "teleport" in payload["errors"][0]["message"] and payload["version"] is None
        assert app.state.enforcer is running
        assert api.data(AREA, {"code": COMMUNITY}, user="community_staff")["area"]["code"] == COMMUNITY
    assert audit_rows(sync_session, "policy.reload") == []
