"""Database URLs, engines and the connection settings each backend needs.

The server talks to the database through SQLAlchemy's async engine (aiosqlite or psycopg
async) so that a slow query never stalls the event loop; migrations, seeding and the CLI
use a plain sync engine on the same URL.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_URL = "sqlite:///./wangge.db"


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, else ``DATABASE_URL``, else ``./wangge.db``."""
    return explicit or os.environ.get("DATABASE_URL") or DEFAULT_URL


def _normalise(url: str, *, async_: bool) -> str:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(drivername="sqlite+aiosqlite" if async_ else "sqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {u.render_as_string()}: use sqlite:// or postgresql://")


def sync_url(url: str) -> str:
    return _normalise(url, async_=False)


def async_url(url: str) -> str:
    return _normalise(url, async_=True)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _connect_args(url: str) -> dict:
    if is_sqlite(url):
        return {}
    # psycopg prepares a statement after 5 executions; a plan made for a province-wide
    # scope and reused for a grid worker's is 1,000x slower. Never prepare automatically.
    return {"prepare_threshold": None}


def make_sync_engine(url: str | None = None, **kw) -> Engine:
    url = sync_url(database_url(url))
    engine = create_engine(url, connect_args=_connect_args(url), **kw)
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str | None = None, **kw) -> AsyncEngine:
    url = async_url(database_url(url))
    engine = create_async_engine(url, connect_args=_connect_args(url), **kw)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine
