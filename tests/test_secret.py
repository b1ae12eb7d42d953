"""No public development secret: without WANGGE_SECRET a server signs with a secret of its own.

Section 6 of docs/SECURITY.md. A secret generated on first start is kept beside the SQLite
database (``<db file>.secret``, 0600) and reused by every later start and by processes
starting together; production and non-SQLite databases refuse to start without
``WANGGE_SECRET``; a short secret is refused everywhere; the once-built-in constant signs
nothing any more; audit rows carry no session id (old rows are scrubbed by migration 0002).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from account_support import LOGIN, REFRESH, VIEWER, as_token, login
from conftest import DEMO_PASSWORD

#: The signing secret that was in the source (authz/tokens.py) until this change.
OLD_PUBLIC_SECRET = "wangge-development-secret-not-for-production-use"
AUDIT = "{ auditEvents(first: 100) { edges { node { action actorUsername detail } } } }"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_secret(monkeypatch):
    """A development server's environment with WANGGE_SECRET unset."""
    monkeypatch.delenv("WANGGE_SECRET", raising=False)
    monkeypatch.setenv("WANGGE_ENV", "development")
    old = os.umask(0o022)  # the common default, so the file's mode is the code's doing
    yield
    os.umask(old)


def _secret_file(url: str) -> Path:
    return Path(make_url(url).database + ".secret")


def _client(url: str):
    from starlette.testclient import TestClient

    from conftest import Api
    from server.app import create_app
    from server.settings import Settings

    settings = Settings.from_env(url)
    client = TestClient(create_app(settings))
    return client, Api(client, url, settings.secret), settings


def test_the_old_public_secret_signs_nothing(db_url, no_secret, sync_session):
    """A district admin who reads a grid worker's login in the audit cannot become them."""
    from sqlalchemy import select

    from authz.tokens import issue_access_token
    from db.accounts import LoginSession, User

    if make_url(db_url).get_backend_name() != "sqlite":
        from server.settings import Settings

        with pytest.raises(RuntimeError, match="WANGGE_SECRET is not set"):
            Settings.from_env(db_url)  # a shared database without a secret does not start at all
        return
    client, api, settings = _client(db_url)
    with client:
        worker = login(api, "grid_worker")
        assert worker["accessToken"]
        uid = sync_session.scalars(select(User.id).where(User.username == "grid_worker")).one()
        details = [e["node"]["detail"] for e in api.data(AUDIT, user="district_admin")["auditEvents"]["edges"]
                   if e["node"]["actorUsername"] == "grid_worker"]
        assert details, "the district admin sees the grid worker's login"
        sessions = list(sync_session.scalars(select(LoginSession.id).where(LoginSession.user_id == uid)))
        # what the admin could try: every string in the rows, and the real session ids too
        candidates = {v for d in details for v in (d or {}).values() if isinstance(v, str)} | set(sessions)
        for sid in candidates:
            forged = issue_access_token(uid, OLD_PUBLIC_SECRET, session_id=sid)
            assert as_token(api, forged, VIEWER).status_code == 401, sid
        assert as_token(api, worker["accessToken"], VIEWER).json()["data"]["viewer"]["username"] == "grid_worker"
        assert settings.secret != OLD_PUBLIC_SECRET and len(settings.secret) >= 32


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True, scope="session")  # kept beside the file
def test_the_generated_secret_is_private_and_survives_a_restart(db_url, no_secret):
    path = _secret_file(db_url)
    assert not path.exists()
    first, api, settings = _client(db_url)
    with first:
        assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == settings.secret and len(settings.secret) >= 64
        tokens = api.data(LOGIN, {"username": "supervisor", "password": DEMO_PASSWORD})["login"]
    second, api2, settings2 = _client(db_url)  # the restart
    with second:
        assert settings2.secret == settings.secret
        assert as_token(api2, tokens["accessToken"], VIEWER).json()["data"]["viewer"]["username"] == "supervisor"
        refreshed = api2.data(REFRESH, {"token": tokens["refreshToken"]})["refreshToken"]
        assert refreshed["errors"] == [] and refreshed["accessToken"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # deleting the file makes a new secret at the next start: every earlier token is refused
    path.unlink()
    third, api3, settings3 = _client(db_url)
    with third:
        assert settings3.secret != settings.secret
        assert as_token(api3, refreshed["accessToken"], VIEWER).status_code == 401


_STARTER = """
import sys, time
sys.path.insert(0, {repo!r})
from server.settings import Settings
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
print(Settings.from_env(sys.argv[2]).secret, flush=True)
"""


def test_concurrent_first_starts_agree_on_one_secret(tmp_path, no_secret):
    """Processes starting at the same instant on a fresh database all sign with one secret."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    script = _STARTER.format(repo=str(REPO))
    start = time.time() + 3.0  # after every interpreter has imported the server
    env = {k: v for k, v in os.environ.items() if k != "WANGGE_SECRET"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start), url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) for _ in range(6)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    secrets_seen = {out.strip() for out, _ in outputs}
    assert len(secrets_seen) == 1, secrets_seen
    assert secrets_seen == {_secret_file(url).read_text().strip()}
    assert stat.S_IMODE(_secret_file(url).stat().st_mode) == 0o600


def test_a_start_beside_one_still_writing_the_secret_waits_for_it(tmp_path, no_secret, monkeypatch):
    """The window between creating the file and writing it: the others wait and read the same secret."""
    import authz.tokens as tokens

    real = tokens._publish

    def slow_publish(fd, data):
        time.sleep(0.5)
        real(fd, data)

    monkeypatch.setattr(tokens, "_publish", slow_publish)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    barrier = threading.Barrier(8)
    seen: list[str] = []

    def start():
        barrier.wait()
        seen.append(tokens.load_secret(False, url))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(seen) == 8 and len(set(seen)) == 1
    assert seen[0] == _secret_file(url).read_text().strip()


def test_a_short_secret_is_refused_in_development_too(tmp_path, no_secret, monkeypatch, capsys):
    from authz.tokens import SecretError
    from server.cli import main
    from server.settings import Settings

    url = f"sqlite:///{tmp_path / 'dev.db'}"
    monkeypatch.setenv("WANGGE_SECRET", "x" * 31)
    with pytest.raises(SecretError, match="WANGGE_SECRET is shorter than 32 bytes"):
        Settings.from_env(url)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--database-url", url])
    assert exit_.value.code == 2
    assert "error: WANGGE_SECRET: is shorter than 32 bytes" in capsys.readouterr().err
    assert not (tmp_path / "dev.db").exists() and not _secret_file(url).exists()


def test_a_server_database_without_a_secret_is_refused_in_development(no_secret):
    from authz.tokens import SecretError
    from server.settings import Settings

    with pytest.raises(SecretError, match="WANGGE_SECRET is not set.*SQLite"):
        Settings.from_env("postgresql://someone@db.example/wangge")


def test_a_damaged_secret_file_is_refused_not_replaced(tmp_path, no_secret):
    from authz.tokens import SecretError
    from server.settings import Settings

    url = f"sqlite:///{tmp_path / 'dev.db'}"
    _secret_file(url).write_text("too short\n")
    with pytest.raises(SecretError, match="dev.db.secret holds fewer than 32 bytes"):
        Settings.from_env(url)
    assert _secret_file(url).read_text() == "too short\n"


def test_the_source_holds_no_signing_secret():
    import authz.tokens as tokens

    assert not hasattr(tokens, "DEV_SECRET")
    for path in [*REPO.glob("authz/*.py"), *REPO.glob("server/*.py")]:
        assert OLD_PUBLIC_SECRET not in path.read_text(encoding="utf-8"), path


# -- migration 0002: the session ids already in the audit trail -------------------------------


def test_migration_scrubs_session_ids_from_existing_audit_rows(empty_db_url):
    from sqlalchemy.exc import DatabaseError

    from db.engine import make_sync_engine
    from db.migrate import upgrade

    upgrade(empty_db_url, "0001")
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        ("login", {"session": a}),
        ("token.refresh", {"session": b, "replaces": a}),
        ("token.refresh.failed", {"reason": "session revoked", "session": a}),
        ("logout", {"session": b}),
        ("login.failed", {"reason": "wrong password", "failedLogins": 1}),
        ("user.deactivate", {"after": {"isActive": False}, "sessionsRevoked": 2}),
    ]
    engine = make_sync_engine(empty_db_url)
    with engine.begin() as conn:
        for action, detail in rows:
            conn.execute(text("INSERT INTO audit_event (at, action, actor_username, detail) "
                              "VALUES (CURRENT_TIMESTAMP, :action, 'grid_worker', :detail)"),
                         {"action": action, "detail": json.dumps(detail)})
    upgrade(empty_db_url)
    with engine.connect() as conn:
        got = [(r.action, r.detail if isinstance(r.detail, dict) else json.loads(r.detail))
               for r in conn.execute(text("SELECT action, detail FROM audit_event ORDER BY id"))]
    everything = json.dumps(got)
    assert a not in everything and b not in everything
    d = dict(got)
    assert set(d["login"]) == {"sessionTag"} and set(d["token.refresh"]) == {"sessionTag", "replacesTag"}
    # the old rows of one login still link to each other
    assert d["login"]["sessionTag"] == d["token.refresh"]["replacesTag"] == d["token.refresh.failed"]["sessionTag"]
    assert d["token.refresh"]["sessionTag"] == d["logout"]["sessionTag"] != d["login"]["sessionTag"]
    assert d["token.refresh.failed"]["reason"] == "session revoked"
    assert d["login.failed"] == rows[4][1] and d["user.deactivate"] == rows[5][1]  # others untouched
    # and the trail is append-only again
    with engine.connect() as conn:
        for statement in ("UPDATE audit_event SET action = 'changed'", "DELETE FROM audit_event"):
            with pytest.raises(DatabaseError, match="append-only"):
                conn.execute(text(statement))
            conn.rollback()
    engine.dispose()
