"""Database fixtures: every database test runs on SQLite and, where reachable, PostgreSQL.

A migrated and seeded *template* is built once per backend per test session; each test gets
its own copy (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so
tests that write never see each other's rows and nothing is shared with other users of the
server. With ``CI=true`` an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

DEFAULT_PG = "postgresql+psycopg://root@127.0.0.1:5432/test"
PG_URL = os.environ.get("WANGGE_TEST_POSTGRES_URL", DEFAULT_PG)
DEMO_PASSWORD = "demo-password"

os.environ.setdefault("WANGGE_SECRET", "test-secret-" + "x" * 40)

# Property tests explore new examples on developers' machines; in CI they replay a fixed,
# derandomised set, so a run's verdict does not depend on luck (a failure found locally
# prints the example to pin with @example).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
IN_CI = os.environ.get("CI", "").lower() == "true"
if IN_CI:
    _hypothesis_settings.load_profile("ci")


def _pg_reachable() -> str | None:
    """None when reachable, else the reason."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


_PG_PROBLEM: str | None | bool = False  # False: not probed yet


def pg_problem() -> str | None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_reachable()
    return _PG_PROBLEM  # type: ignore[return-value]


def _admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _pg_db_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_database(prefix: str, template: str | None = None):
    """A private PostgreSQL database (optionally a copy of ``template``), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield _pg_db_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_database(url: str, *, seed: bool = True) -> None:
    """Migrate to head and load the demo tree, registry and users."""
    from db.engine import make_sync_engine
    from db.migrate import upgrade
    from db.seed_demo import seed_demo

    upgrade(url)
    if not seed:
        return
    engine = make_sync_engine(url)
    try:
        with Session(engine) as session:
            seed_demo(session)
            try:
                from authz.users import seed_demo_users
            except ImportError:  # users arrive with the authorisation layer
                pass
            else:
                seed_demo_users(session, DEMO_PASSWORD)
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request) -> str:
    if request.param == "postgresql":
        problem = pg_problem()
        if problem:
            if IN_CI:
                pytest.fail(f"PostgreSQL at {PG_URL} unreachable under CI=true: {problem}")
            pytest.skip(f"PostgreSQL unreachable: {problem}")
    return request.param


@pytest.fixture(scope="session")
def template_url(backend, tmp_path_factory) -> str:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite:///{path}"
        build_database(url)
        yield url
        return
    with pg_database("wangge_tpl") as url:
        build_database(url)
        yield url


@pytest.fixture
def db_url(backend, template_url, tmp_path) -> str:
    """A private, migrated, seeded database for one test."""
    if backend == "sqlite":
        src = Path(make_url(template_url).database)
        dst = tmp_path / "wangge.db"
        shutil.copyfile(src, dst)
        yield f"sqlite:///{dst}"
        return
    with pg_database("wangge_t", template=make_url(template_url).database) as url:
        yield url


@pytest.fixture
def empty_db_url(backend, tmp_path) -> str:
    """A database with nothing in it (for migration tests)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with pg_database("wangge_e") as url:
        yield url


@pytest.fixture
def sync_session(db_url):
    from db.engine import make_sync_engine

    engine = make_sync_engine(db_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


class Api:
    """A real ASGI client for the app, speaking GraphQL over HTTP as a given demo user."""

    def __init__(self, client, db_url: str, secret: str) -> None:
        self.client = client
        self.db_url = db_url
        self.secret = secret
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        """An access token for ``username``, made the way ``login`` makes one (no password round)."""
        if username not in self._tokens:
            import datetime as dt

            from sqlalchemy import select

            from authz.tokens import issue_access_token
            from db.accounts import LoginSession, User
            from db.engine import make_sync_engine

            engine = make_sync_engine(self.db_url)
            with Session(engine) as s:
                user = s.scalars(select(User).where(User.username == username)).one()
                sid = str(uuid.uuid4())
                s.add(LoginSession(id=sid, user_id=user.id,
                                   expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)))
                s.commit()
                self._tokens[username] = issue_access_token(user.id, self.secret, session_id=sid)
            engine.dispose()
        return self._tokens[username]

    def post(self, query: str, variables: dict | None = None, *, user: str | None = None, token: str | None = None):
        headers = {}
        if user or token:
            headers["Authorization"] = f"Bearer {token or self.token(user)}"
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    def query(self, query: str, variables: dict | None = None, *, user: str | None = None) -> dict:
        """The JSON body; fails the test on an HTTP error status."""
        response = self.post(query, variables, user=user)
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict | None = None, *, user: str | None = None) -> dict:
        """``data`` of a query that must not produce errors."""
        body = self.query(query, variables, user=user)
        assert not body.get("errors"), body["errors"]
        return body["data"]


TEST_SECRET = os.environ["WANGGE_SECRET"]


def global_id(type_name: str, key) -> str:
    """The Relay global ID the API gives an object (``Resident:42`` in base64)."""
    from strawberry.relay import to_base64

    return to_base64(type_name, key)


@pytest.fixture
def api(db_url):
    from starlette.testclient import TestClient

    from server.app import create_app
    from server.settings import Settings

    app = create_app(Settings(database_url=db_url, secret=TEST_SECRET))
    with TestClient(app) as client:
        yield Api(client, db_url, TEST_SECRET)


class StatementCounter:
    """Counts SQL statements sent by an engine (the statement-count tests' instrument)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.count = 0
        self.statements: list[str] = []
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, *args) -> None:
        self.count += 1
        self.statements.append(statement)

    def reset(self) -> None:
        self.count = 0
        self.statements = []


@pytest.fixture
def statements(api):
    """Statement counter on the app's engine."""
    app = api.client.app
    return StatementCounter(app.state.engine.sync_engine)
