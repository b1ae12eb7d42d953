"""Migrations build the same schema on SQLite and PostgreSQL, both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from db.engine import make_sync_engine
from db.migrate import downgrade, is_empty, upgrade
from db.models import metadata


def test_upgrade_creates_every_table_then_downgrade_removes_them(empty_db_url):
    assert is_empty(empty_db_url)
    upgrade(empty_db_url)
    engine = make_sync_engine(empty_db_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert set(metadata.tables) <= tables
    assert not is_empty(empty_db_url)
    downgrade(empty_db_url, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    upgrade(empty_db_url)  # and up again: the downgrade left nothing behind
    engine.dispose()


def test_models_match_migrations(empty_db_url):
    """Autogenerate finds nothing to do: the tables in code are the tables migrated."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(empty_db_url)
    engine = make_sync_engine(empty_db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")  # SQLite compares bytes already
def test_area_codes_use_binary_collation_on_postgresql(empty_db_url, backend):
    upgrade(empty_db_url)
    engine = make_sync_engine(empty_db_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE column_name IN ('code', 'area_code', 'parent_code') AND table_schema = 'public'"
        )).all()
    engine.dispose()
    assert rows and all(r.collation_name == "C" for r in rows), rows


def test_audit_trail_refuses_update_and_delete(sync_session):
    sync_session.execute(text("INSERT INTO audit_event (at, action) VALUES (CURRENT_TIMESTAMP, 'test')"))
    sync_session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        sync_session.execute(text("UPDATE audit_event SET action = 'changed'"))
    sync_session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        sync_session.execute(text("DELETE FROM audit_event"))
    sync_session.rollback()
