"""Isolation (``isolation_site``, ``isolation``, ``isolation_reading``, ``isolation_delivery``)
and its per-grid counters.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

AREA_CODE = sa.String(length=15).with_variant(sa.String(length=15, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('isolation_site',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('isolation_site', schema=None) as batch_op:
        batch_op.create_index('ix_isolation_site_area_id', ['area_code', 'id'], unique=False)

    op.create_table('isolation',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('planned_end', sa.Date(), nullable=False),
    sa.Column('seal', sa.String(length=12), nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('ended_by', sa.Integer(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('alert_open', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['ended_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['isolation_site.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('isolation', schema=None) as batch_op:
        batch_op.create_index('ix_isolation_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index('ix_isolation_site_status', ['site_id', 'status'], unique=False)
        batch_op.create_index('uq_isolation_active_resident', ['resident_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('isolation_delivery',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('isolation_id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('items', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['isolation_id'], ['isolation.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('isolation_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_isolation_delivery_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index('ix_isolation_delivery_isolation', ['isolation_id'], unique=False)

    op.create_table('isolation_reading',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('isolation_id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=True),
    sa.Column('celsius', sa.Float(), nullable=False),
    sa.Column('symptoms', sa.String(length=200), nullable=True),
    sa.Column('alert', sa.Boolean(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('acknowledgement', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['isolation_id'], ['isolation.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('isolation_reading', schema=None) as batch_op:
        batch_op.create_index('ix_isolation_reading_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index('ix_isolation_reading_isolation_day', ['isolation_id', 'on', 'window'], unique=False)

    with op.batch_alter_table('grid_stats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('isolated_home', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('isolated_central', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('isolation_alerts_open', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('grid_stats', schema=None) as batch_op:
        batch_op.drop_column('isolation_alerts_open')
        batch_op.drop_column('isolated_central')
        batch_op.drop_column('isolated_home')

    with op.batch_alter_table('isolation_reading', schema=None) as batch_op:
        batch_op.drop_index('ix_isolation_reading_isolation_day')
        batch_op.drop_index('ix_isolation_reading_area_id')

    op.drop_table('isolation_reading')
    with op.batch_alter_table('isolation_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_isolation_delivery_isolation')
        batch_op.drop_index('ix_isolation_delivery_area_id')

    op.drop_table('isolation_delivery')
    with op.batch_alter_table('isolation', schema=None) as batch_op:
        batch_op.drop_index('uq_isolation_active_resident', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index('ix_isolation_site_status')
        batch_op.drop_index('ix_isolation_area_id')

    op.drop_table('isolation')
    with op.batch_alter_table('isolation_site', schema=None) as batch_op:
        batch_op.drop_index('ix_isolation_site_area_id')

    op.drop_table('isolation_site')
