"""Run Alembic programmatically, so ``wangge db upgrade`` needs no alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from db.engine import make_sync_engine, sync_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def _run(command_fn, url: str, revision: str) -> None:
    """Run one Alembic command in a single transaction on ``url``."""
    engine = make_sync_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command_fn(cfg, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    _run(command.upgrade, url, revision)


def downgrade(url: str, revision: str = "base") -> None:
    _run(command.downgrade, url, revision)


def is_empty(url: str) -> bool:
    """True when the database has no tables yet (a first run on the SQLite default)."""
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            return "alembic_version" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()
