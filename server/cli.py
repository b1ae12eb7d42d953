"""The ``wangge`` command: migrate, seed, create the first admin, serve, export the schema.

Every sub-command takes ``--database-url`` (default ``DATABASE_URL``, else ``./wangge.db``).
Expected failures print ``error: <field>: <reason>`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from db.engine import DEFAULT_URL

EXIT_USAGE = 2
DEMO_PASSWORD = "demo"


class CliError(Exception):
    """An expected failure: printed as ``error: <field>: <reason>``, exit status 2."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _production() -> bool:
    return os.environ.get("WANGGE_ENV", "development").lower() == "production"


def current_revision(url: str) -> str | None:
    from alembic.migration import MigrationContext

    from db.engine import make_sync_engine

    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def prepare_database(url: str, *, seed: bool, demo_password: str = DEMO_PASSWORD) -> list[str]:
    """Migrate an empty database to head, then (``seed``) load the demo tree and users in one transaction.

    Returns lines describing what was done. Seeding a database that already holds the demo
    data changes nothing.
    """
    from sqlalchemy.orm import Session

    from db.engine import make_sync_engine
    from db.migrate import is_empty, upgrade
    from db.seed_demo import seed_demo
    from authz.users import seed_demo_users

    lines: list[str] = []
    if is_empty(url):
        upgrade(url)
        lines.append(f"database was empty: migrated to {current_revision(url)}")
    if not seed:
        return lines
    engine = make_sync_engine(url)
    try:
        with Session(engine) as session, session.begin():
            lines += seed_demo(session).lines()
            lines += seed_demo_users(session, demo_password)
    finally:
        engine.dispose()
    return lines


# -- commands -------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(args.database_url, args.revision)
    print(f"database at revision {current_revision(args.database_url)}")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    from db.migrate import downgrade

    downgrade(args.database_url, args.revision)
    print(f"database at revision {current_revision(args.database_url) or 'base (no tables)'}")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    if _production():
        raise CliError("WANGGE_ENV", "seed-demo is refused in production: demo users have known passwords")
    for line in prepare_database(args.database_url, seed=True, demo_password=args.demo_password):
        print(line)
    return 0


def cmd_check_stats(args: argparse.Namespace) -> int:
    """Recount every declared counter from the rows; exit 1 on drift (for a nightly job)."""
    from sqlalchemy.orm import Session

    from db.counters_recount import recount
    from db.engine import make_sync_engine

    engine = make_sync_engine(args.database_url)
    try:
        with Session(engine) as session:
            drift = recount(session, fix=args.fix)
            for d in drift:
                print(d.describe())  # "<grid> [<day>] <counter>: stored N, counted M"
            if args.fix:
                session.commit()
    finally:
        engine.dispose()
    if not drift:
        print("counters match the rows")
        return 0
    print(f"{len(drift)} counter(s) drifted" + ("; fixed" if args.fix else "; run with --fix to correct them"))
    return 0 if args.fix else 1


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise CliError("password", "the two entries differ")
    return first


def cmd_create_user(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from db.engine import make_sync_engine
    from db.migrate import is_empty
    from authz.users import create_user

    if is_empty(args.database_url):
        raise CliError("database", "no tables yet: run `wangge db upgrade` first")
    password = _read_password(args)
    engine = make_sync_engine(args.database_url)
    try:
        with Session(engine) as session, session.begin():
            user = create_user(session, args.username, args.display_name or args.username, password,
                               role=args.role, area_code=args.area)
            print(f"created user {user.username} (id {user.id}): {args.role} in {args.area}")
    finally:
        engine.dispose()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from authz.tokens import SecretError
    from db.engine import is_sqlite
    from db.migrate import is_empty
    from server.app import create_app
    from server.settings import SettingError, Settings

    url = args.database_url
    try:  # the secret first: a server that may not start touches no database
        settings = Settings.from_env(url)
    except (SecretError, SettingError) as exc:
        raise CliError(exc.field, exc.reason) from None
    if is_sqlite(url) and is_empty(url):
        seed = not _production()
        for line in prepare_database(url, seed=seed):
            print(line)
        if seed:
            print(f"first run on an empty SQLite database: demo areas and users loaded (password '{DEMO_PASSWORD}')")
    if args.workers < 1:
        raise CliError("--workers", "must be at least 1")
    if args.workers > 1 and is_sqlite(settings.database_url):
        # SQLite takes one writer at a time: processes would wait on each other's locks and
        # fail with "database is locked" under concurrent writes, and gain nothing on reads.
        raise CliError("--workers", "several processes need PostgreSQL; SQLite serves from one")
    print(f"GraphiQL: http://{args.host}:{args.port}/graphql", flush=True)
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port)
        return 0
    # Each worker builds its app from the environment, as this process did: same database,
    # same secret; policy reloads reach all of them through the version in the database.
    os.environ["DATABASE_URL"] = settings.database_url
    uvicorn.run("server.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from server.graphql_schema import schema

    sdl = schema.as_str().rstrip("\n") + "\n"
    if args.output:
        Path(args.output).write_text(sdl, encoding="utf-8")
        print(f"schema written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(sdl)
    return 0


# -- parser ---------------------------------------------------------------------------


def _add_db_url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        default=None,
        help=f"sqlite:///PATH or postgresql://... (default: $DATABASE_URL, else {DEFAULT_URL})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wangge", description="GraphQL server for community grid management (网格化管理)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    db = sub.add_parser("db", help="database migrations", description="Apply or undo database migrations.")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="migrate to the latest revision",
                           description="Migrate the database to the latest revision (or REV) and print it.")
    up.add_argument("revision", nargs="?", default="head", metavar="REV", help="target revision (default: head)")
    _add_db_url(up)
    up.set_defaults(func=cmd_db_upgrade)
    down = db_sub.add_parser("downgrade", help="undo migrations (default: all of them)",
                             description="Undo migrations down to REV (default: base, i.e. drop every table). "
                                         "Does not ask for confirmation.")
    down.add_argument("revision", nargs="?", default="base", metavar="REV", help="target revision (default: base)")
    _add_db_url(down)
    down.set_defaults(func=cmd_db_downgrade)

    seed = sub.add_parser("seed-demo", help="load the demo areas, registry and users",
                          description="Migrate an empty database, then load the demo slice of Heilongjiang and "
                                      "one demo user per role. Running it again changes nothing. "
                                      "Refused when WANGGE_ENV=production.")
    seed.add_argument("--demo-password", default=DEMO_PASSWORD,
                      help=f"password of every demo user (default: {DEMO_PASSWORD!r})")
    _add_db_url(seed)
    seed.set_defaults(func=cmd_seed_demo)

    cu = sub.add_parser("create-user", help="create a user holding one role in one area",
                        description="Create a user with a role in an area, e.g. the first province admin: "
                                    "wangge create-user admin --role admin --area 23")
    cu.add_argument("username", metavar="USERNAME", help="3-64 characters: a-z 0-9 _ . -")
    cu.add_argument("--role", required=True, help="a role named in policies.csv (admin, analyst, officer, ...)")
    cu.add_argument("--area", required=True, metavar="CODE", help="area code the role holds in, e.g. 23 or 2301")
    cu.add_argument("--display-name", default=None, help="name shown to others (default: the username)")
    cu.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of stdin instead of prompting")
    _add_db_url(cu)
    cu.set_defaults(func=cmd_create_user)

    serve = sub.add_parser("serve", help="run the GraphQL server",
                           description="Run the server with uvicorn. On an empty SQLite database it first "
                                       "migrates and loads the demo data (users' password: 'demo').")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="server processes (default: 1; more than one needs PostgreSQL)")
    _add_db_url(serve)
    serve.set_defaults(func=cmd_serve)

    cs = sub.add_parser("check-stats", help="recount the counters per grid and per day and report drift",
                        description="Recount every declared counter (buildings, households, residents, "
                                    "registrations and removals per day, ...) per grid, and per grid and day, "
                                    "from the rows and compare with the counters that figures are read from. "
                                    "Prints one line per drifted counter; exit status 1 when any differ "
                                    "(unless --fix).")
    cs.add_argument("--fix", action="store_true",
                    help="set the counters to the recounted values (run it while nobody writes)")
    _add_db_url(cs)
    cs.set_defaults(func=cmd_check_stats)

    ex = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)",
                        description="Print the GraphQL schema in SDL to stdout, or write it to --output.")
    ex.add_argument("--output", "-o", metavar="FILE", default=None, help="write the SDL to FILE")
    _add_db_url(ex)
    ex.set_defaults(func=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from db.engine import database_url, sync_url
    from db.errors import InvalidField

    args = build_parser().parse_args(argv)
    args.database_url = database_url(args.database_url)
    try:
        try:
            sync_url(args.database_url)
        except Exception as exc:  # noqa: BLE001 - unparsable or unsupported URL
            raise CliError("database-url", str(exc)) from None
        return args.func(args)
    except (CliError, InvalidField) as exc:
        print(f"error: {exc.field}: {exc.reason}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


if __name__ == "__main__":
    sys.exit(main())
