"""Counters per grid and day: ``grid_day_stats``, and the day each resident was registered.

``resident.registered_on`` is the local day a resident was entered in the registry, the
day the per-day counter ``residents_registered`` books them on (``db.counters``). Rows
written so far get the day of their ``created_at`` in the deployment's zone:
``WANGGE_TIMEZONE`` as the server reads it, default Asia/Shanghai. PostgreSQL converts in
one UPDATE; SQLite has no time zones, so its rows are converted here, in pages by id.

``grid_day_stats(counter, area_code, day, n)`` then starts from what the rows say:
``residents_registered`` by ``registered_on`` and ``residents_removed`` (residents no
longer active) by ``removed_on``, so ``wangge check-stats`` finds no drift right after
the upgrade. The recount of later revisions is ``db.counters_recount``; this one is frozen
here on purpose, as a migration must not change when the code does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 19:00:00
"""
import os
from datetime import timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BATCH = 1000
AREA_CODE = sa.String(length=15).with_variant(sa.String(length=15, collation='C'), 'postgresql')

resident = sa.table("resident", sa.column("id", sa.Integer), sa.column("area_code", sa.String),
                    sa.column("status", sa.String), sa.column("removed_on", sa.Date),
                    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("registered_on", sa.Date))
grid_day_stats = sa.table("grid_day_stats", sa.column("counter", sa.String), sa.column("area_code", sa.String),
                          sa.column("day", sa.Date), sa.column("n", sa.Integer))


def upgrade() -> None:
    bind = op.get_bind()
    zone = os.environ.get("WANGGE_TIMEZONE") or "Asia/Shanghai"
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_on', sa.Date(), nullable=True))
    if bind.dialect.name == "postgresql":
        op.execute(resident.update().values(
            registered_on=sa.cast(sa.func.timezone(sa.literal(zone), resident.c.created_at), sa.Date)))
    else:
        _backfill_in_python(bind, ZoneInfo(zone))
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.alter_column('registered_on', existing_type=sa.Date(), nullable=False)

    op.create_table('grid_day_stats',
    sa.Column('counter', sa.String(length=40), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.PrimaryKeyConstraint('counter', 'area_code', 'day')
    )
    with op.batch_alter_table('grid_day_stats', schema=None) as batch_op:
        batch_op.create_index('ix_grid_day_stats_counter_day_area', ['counter', 'day', 'area_code'], unique=False)

    registered = (sa.select(sa.literal_column("'residents_registered'"), resident.c.area_code, resident.c.registered_on,
                            sa.func.count())
                  .group_by(resident.c.area_code, resident.c.registered_on))
    removed = (sa.select(sa.literal_column("'residents_removed'"), resident.c.area_code, resident.c.removed_on, sa.func.count())
               .where(resident.c.status != "active", resident.c.removed_on.is_not(None))
               .group_by(resident.c.area_code, resident.c.removed_on))
    for counted in (registered, removed):
        op.execute(grid_day_stats.insert().from_select(["counter", "area_code", "day", "n"], counted))


def _backfill_in_python(bind, zone: ZoneInfo) -> None:
    update = (resident.update().where(resident.c.id == sa.bindparam("row_id"))
              .values(registered_on=sa.bindparam("day", type_=sa.Date)))
    last = 0
    while True:
        rows = bind.execute(sa.select(resident.c.id, resident.c.created_at)
                            .where(resident.c.id > last).order_by(resident.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        bind.execute(update, [{"row_id": r.id, "day": _aware(r.created_at).astimezone(zone).date()} for r in rows])


def _aware(value):
    """SQLite hands back naive datetimes for ``timestamptz`` columns; they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def downgrade() -> None:
    with op.batch_alter_table('grid_day_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_grid_day_stats_counter_day_area')

    op.drop_table('grid_day_stats')
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_column('registered_on')
