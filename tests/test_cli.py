"""The ``wangge`` command line, in-process (``server.cli.main``) and as a real subprocess."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.orm import Session

from db.accounts import AreaGrant, User
from db.area import Area
from db.registry import Resident
from live_server import free_port, stop, wait_until_healthy
from server.cli import main, prepare_database

DEMO_USERNAMES = {
    "province_admin", "province_analyst", "city_officer", "district_admin",
    "community_staff", "grid_worker", "supervisor", "team_member",
}
def _head() -> str:
    """The newest migration, as ``db upgrade`` reports it."""
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


HEAD = _head()
SUBCOMMANDS = [
    [], ["db"], ["db", "upgrade"], ["db", "downgrade"], ["seed-demo"], ["create-user"], ["serve"],
    ["export-schema"],
]


# -- helpers --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No inherited database URL or production flag; any default ./wangge.db lands in tmp."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("WANGGE_ENV", raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code or 0, out, err


def wangge_command() -> list[str]:
    script = Path(sys.executable).with_name("wangge")
    if script.exists():
        return [str(script)]
    found = shutil.which("wangge")
    return [found] if found else [sys.executable, "-m", "server.cli"]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WANGGE_ENV")}
    env.update(extra)
    return env


def run_subprocess(*argv: str, input: str | None = None, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*wangge_command(), *argv], input=input, capture_output=True, text=True,
                          cwd=cwd, env=subprocess_env(**env), timeout=120)


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            return {
                "areas": s.scalar(select(func.count()).select_from(Area)),
                "residents": s.scalar(select(func.count()).select_from(Resident)),
                "users": s.scalar(select(func.count()).select_from(User)),
                "grants": s.scalar(select(func.count()).select_from(AreaGrant)),
            }
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-template") / "seeded.db"
    prepare_database(f"sqlite:///{path}", seed=True)
    return path


@pytest.fixture
def seeded_url(seeded_template, tmp_path) -> str:
    dst = tmp_path / "seeded.db"
    shutil.copyfile(seeded_template, dst)
    return f"sqlite:///{dst}"


# -- db upgrade / downgrade and seed-demo ---------------------------------------------


def test_upgrade_then_seed_demo_twice_changes_nothing_the_second_time(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, out, _ = run(capsys, "db", "upgrade", "--database-url", url)
    assert code == 0 and f"revision {HEAD}" in out

    code, out, _ = run(capsys, "seed-demo", "--database-url", url)
    assert code == 0
    assert "areas: 79" in out and "user province_analyst (省指挥部分析员)" in out
    first = counts(url)
    assert first["areas"] == 79 and first["residents"] > 0
    assert first["users"] == len(DEMO_USERNAMES) and first["grants"] == len(DEMO_USERNAMES)

    code, out, _ = run(capsys, "seed-demo", "--database-url", url)
    assert code == 0
    assert "demo data already present: nothing changed" in out
    assert "demo users: all 8 already present: nothing changed" in out
    assert counts(url) == first


def test_seed_demo_users_have_argon2_hashes_and_the_expected_grants(seeded_url):
    from authz.passwords import verify_password

    engine = create_engine(seeded_url)
    with Session(engine) as s:
        users = {u.username: u for u in s.scalars(select(User))}
        assert set(users) == DEMO_USERNAMES
        assert all(u.password_hash.startswith("$argon2id$") for u in users.values())
        assert len({u.password_hash for u in users.values()}) == len(users)  # salted one by one
        assert verify_password(users["grid_worker"].password_hash, "demo")
        assert not verify_password(users["grid_worker"].password_hash, "wrong")
        grants = {g.user_id: g for g in s.scalars(select(AreaGrant))}
        expected = {
            "province_admin": ("admin", "23"), "province_analyst": ("analyst", "23"),
            "city_officer": ("officer", "2301"), "district_admin": ("admin", "230102"),
            "community_staff": ("staff", "230102001001"), "grid_worker": ("grid_worker", "230102001001001"),
            "supervisor": ("supervisor", "230102001"), "team_member": ("staff", "230102001002"),
        }
        for name, (role, area) in expected.items():
            g = grants[users[name].id]
            assert (g.role, g.area_code, g.granted_by, g.revoked_at) == (role, area, None, None)
            assert (g.valid_until is None) == (name != "team_member")
        team = grants[users["team_member"].id]
        assert timedelta(days=13, hours=23) < team.valid_until - team.valid_from <= timedelta(days=14)
    engine.dispose()


def test_seed_demo_users_is_idempotent_and_uses_now(tmp_path):
    from db.engine import make_sync_engine
    from authz.users import seed_demo_users

    url = f"sqlite:///{tmp_path / 'n.db'}"
    prepare_database(url, seed=False)
    now = datetime(2020, 1, 25, 8, 0, tzinfo=timezone.utc)
    engine = make_sync_engine(url)
    with Session(engine) as s, s.begin():
        from db.seed_demo import seed_demo

        seed_demo(s)
        lines = seed_demo_users(s, "demo", now=now)
        assert len(lines) == 8 and any("team_member" in ln and "until 2020-02-08" in ln for ln in lines)
        assert seed_demo_users(s, "demo", now=now) == ["demo users: all 8 already present: nothing changed"]
        team = s.scalar(select(AreaGrant).join(User, User.id == AreaGrant.user_id)
                        .where(User.username == "team_member"))
        assert team.valid_until.replace(tzinfo=timezone.utc) == now + timedelta(days=14)
    engine.dispose()


def test_seed_demo_migrates_an_empty_database_first(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, _ = run(capsys, "seed-demo", "--database-url", url, "--demo-password", "another-pw")
    assert code == 0 and f"database was empty: migrated to {HEAD}" in out
    assert counts(url)["users"] == 8


def test_database_url_defaults_to_the_environment_then_wangge_db(capsys, tmp_path, monkeypatch):
    code, _, _ = run(capsys, "db", "upgrade")
    assert code == 0 and (tmp_path / "wangge.db").exists()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    code, _, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "alembic_version" in tables(f"sqlite:///{tmp_path / 'env.db'}")


def test_downgrade_defaults_to_base(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert run(capsys, "db", "upgrade", "--database-url", url)[0] == 0
    code, out, _ = run(capsys, "db", "downgrade", "--database-url", url)
    assert code == 0 and "base" in out
    assert tables(url) <= {"alembic_version"}


def test_seed_demo_is_refused_in_production(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("WANGGE_ENV", "production")
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    code, out, err = run(capsys, "seed-demo", "--database-url", url)
    assert code == 2
    assert "error: WANGGE_ENV:" in err and "production" in err
    assert not (tmp_path / "prod.db").exists() or not tables(url)


def test_unsupported_database_url_is_a_usage_error(capsys):
    code, _, err = run(capsys, "db", "upgrade", "--database-url", "mysql://localhost/x")
    assert code == 2 and err.startswith("error: database-url:")


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda a: " ".join(a) or "wangge")
def test_help_exits_zero(capsys, argv):
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0 and "usage: wangge" in out


# -- create-user -----------------------------------------------------------------------


def test_create_user_reads_the_password_from_stdin(capsys, seeded_url, monkeypatch):
    from authz.passwords import verify_password

    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    code, out, err = run(capsys, "create-user", "hlj.admin", "--role", "admin", "--area", "23",
                         "--display-name", "黑龙江省指挥部管理员", "--password-stdin", "--database-url", seeded_url)
    assert code == 0, err
    assert "created user hlj.admin" in out
    engine = create_engine(seeded_url)
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.username == "hlj.admin"))
        assert user.display_name == "黑龙江省指挥部管理员"
        assert verify_password(user.password_hash, "correct horse battery")
        grant = s.scalar(select(AreaGrant).where(AreaGrant.user_id == user.id))
        assert (grant.role, grant.area_code, grant.valid_until) == ("admin", "23", None)
    engine.dispose()


def test_create_user_prompts_twice_without_password_stdin(capsys, seeded_url, monkeypatch):
    answers = iter(["s3cret-pass", "s3cret-pass"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, out, err = run(capsys, "create-user", "second", "--role", "officer", "--area", "2304",
                         "--database-url", seeded_url)
    assert code == 0, err
    answers = iter(["one-password", "another-one"])
    code, _, err = run(capsys, "create-user", "third", "--role", "officer", "--area", "2304",
                       "--database-url", seeded_url)
    assert code == 2 and "error: password: the two entries differ" in err


@pytest.mark.parametrize(
    ("username", "role", "area", "password", "field", "words"),
    [
        ("newuser", "admin", "23x", "long-enough", "areaCode", "digits only"),
        ("newuser", "king", "23", "long-enough", "role", "not a role"),
        ("newuser", "admin", "99", "long-enough", "areaCode", "no area has code '99'"),
        ("newuser", "admin", "231", "long-enough", "areaCode", "2, 4, 6, 9, 12 or 15"),
        ("newuser", "admin", "23", "short", "password", "at least 8"),
        ("NoCaps", "admin", "23", "long-enough", "username", "3-64 characters"),
        ("ab", "admin", "23", "long-enough", "username", "3-64 characters"),
        ("province_admin", "admin", "23", "long-enough", "username", "already taken"),
    ],
)
def test_create_user_errors_name_the_field(capsys, seeded_url, monkeypatch, username, role, area, password,
                                           field, words):
    before = counts(seeded_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    code, out, err = run(capsys, "create-user", username, "--role", role, "--area", area, "--password-stdin",
                         "--database-url", seeded_url)
    assert code == 2
    assert err.startswith(f"error: {field}: ") and words in err
    assert counts(seeded_url) == before


def test_create_user_on_an_unmigrated_database(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("long-enough\n"))
    code, _, err = run(capsys, "create-user", "someone", "--role", "admin", "--area", "23", "--password-stdin",
                       "--database-url", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2 and "error: database:" in err and "wangge db upgrade" in err


def test_create_user_validation_without_the_cli(seeded_url):
    from db.engine import make_sync_engine
    from db.errors import InvalidField
    from authz.users import create_user, role_names

    assert set(role_names()) == {"admin", "analyst", "officer", "staff", "grid_worker", "supervisor"}
    engine = make_sync_engine(seeded_url)
    with Session(engine) as s:
        with pytest.raises(InvalidField) as exc:
            create_user(s, "temp", "临时", "long-enough", "staff", "230102001001",
                        valid_until=datetime.now(timezone.utc) - timedelta(days=1))
        assert exc.value.field == "validUntil"
        with pytest.raises(InvalidField) as exc:
            create_user(s, "temp", "临时", "long-enough", "staff", None)
        assert exc.value.field == "areaCode"
        with pytest.raises(InvalidField) as exc:
            create_user(s, "temp", "  ", "long-enough")
        assert exc.value.field == "displayName"
        user = create_user(s, "temp", "临时", "abc", allow_short=True)
        assert user.id is not None
        s.rollback()
    engine.dispose()


# -- as a real process ---------------------------------------------------------------------


def test_cli_as_a_subprocess(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub.db'}"
    done = run_subprocess("db", "upgrade", "--database-url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"revision {HEAD}" in done.stdout

    done = run_subprocess("seed-demo", "--database-url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = counts(url)
    assert first["users"] == 8
    done = run_subprocess("seed-demo", "--database-url", url, cwd=tmp_path)
    assert done.returncode == 0 and "nothing changed" in done.stdout
    assert counts(url) == first

    done = run_subprocess("create-user", "sub.admin", "--role", "admin", "--area", "23", "--password-stdin",
                          "--database-url", url, input="long-enough-pw\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_subprocess("create-user", "sub.other", "--role", "admin", "--area", "99", "--password-stdin",
                          "--database-url", url, input="long-enough-pw\n", cwd=tmp_path)
    assert done.returncode == 2 and "error: areaCode:" in done.stderr
    assert counts(url)["users"] == 9

    done = run_subprocess("seed-demo", "--database-url", url, cwd=tmp_path, WANGGE_ENV="production")
    assert done.returncode == 2 and "production" in done.stderr

    done = run_subprocess("--help", cwd=tmp_path)
    assert done.returncode == 0 and "seed-demo" in done.stdout


# -- filled in by the schema and server work ---------------------------------------------------


def _schema_or_skip():
    return pytest.importorskip("server.graphql_schema").schema


def test_export_schema_prints_and_writes_the_sdl(capsys, tmp_path):
    schema = _schema_or_skip()
    code, out, _ = run(capsys, "export-schema")
    assert code == 0 and "type Query" in out
    assert out.strip() == schema.as_str().strip()
    target = tmp_path / "schema.graphql"
    code, out, _ = run(capsys, "export-schema", "--output", str(target))
    assert code == 0 and out == ""
    assert "type Query" in target.read_text(encoding="utf-8")


def test_serve_seeds_an_empty_sqlite_database_and_answers(tmp_path):
    pytest.importorskip("server.app")
    httpx = pytest.importorskip("httpx")
    port = free_port()
    db_path = tmp_path / "x.db"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*wangge_command(), "serve", "--port", str(port), "--database-url", f"sqlite:///{db_path}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=subprocess_env(),
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, proc, log_path.read_text, timeout=30)
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=5)
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        output = log_path.read_text()
        assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in output
        assert "demo areas and users loaded" in output
        assert counts(f"sqlite:///{db_path}")["users"] == 8
    finally:
        stop(proc)


def test_check_stats_reports_and_fixes_drift(tmp_path, capsys):
    import sqlalchemy as sa

    from db.engine import make_sync_engine

    url = f"sqlite:///{tmp_path / 'stats.db'}"
    assert main(["seed-demo", "--database-url", url, "--demo-password", "demo-password"]) == 0
    assert main(["check-stats", "--database-url", url]) == 0
    assert "counters match the rows" in capsys.readouterr().out
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE grid_stats SET residents = residents + 2 WHERE area_code = '230102001001001'"))
    engine.dispose()
    assert main(["check-stats", "--database-url", url]) == 1
    out = capsys.readouterr().out
    assert "230102001001001 residents: stored" in out and "1 counter(s) drifted" in out
    assert main(["check-stats", "--database-url", url, "--fix"]) == 0
    assert main(["check-stats", "--database-url", url]) == 0
