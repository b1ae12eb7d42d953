"""The returnee ledger (返乡人员台账): ``returnee``, ``returnee_follow_up``, and the total
``grid_stats.returnees_following`` (0 everywhere: no entries yet, so ``check-stats`` finds
no drift right after the upgrade). Per-day counters need no migration (``grid_day_stats``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:01:15
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('returnee',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=15).with_variant(sa.String(length=15, collation='C'), 'postgresql'), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=100), nullable=False),
    sa.Column('from_key_area', sa.Boolean(), nullable=False),
    sa.Column('departed_on', sa.Date(), nullable=False),
    sa.Column('arrived_on', sa.Date(), nullable=False),
    sa.Column('transport', sa.String(length=8), nullable=False),
    sa.Column('transport_number', sa.String(length=20), nullable=True),
    sa.Column('follow_up_days', sa.Integer(), nullable=False),
    sa.Column('follow_up_until', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.Integer(), nullable=True),
    sa.Column('removed_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['removed_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('returnee', schema=None) as batch_op:
        batch_op.create_index('ix_returnee_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_returnee_resident_id'), ['resident_id'], unique=False)

    op.create_table('returnee_follow_up',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('returnee_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=15).with_variant(sa.String(length=15, collation='C'), 'postgresql'), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('temperature', sa.Float(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['returnee_id'], ['returnee.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('returnee_id', 'on', name='uq_returnee_follow_up_day')
    )
    with op.batch_alter_table('returnee_follow_up', schema=None) as batch_op:
        batch_op.create_index('ix_returnee_follow_up_area_id', ['area_code', 'id'], unique=False)

    with op.batch_alter_table('grid_stats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returnees_following', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('grid_stats', schema=None) as batch_op:
        batch_op.drop_column('returnees_following')

    with op.batch_alter_table('returnee_follow_up', schema=None) as batch_op:
        batch_op.drop_index('ix_returnee_follow_up_area_id')

    op.drop_table('returnee_follow_up')
    with op.batch_alter_table('returnee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_returnee_resident_id'))
        batch_op.drop_index('ix_returnee_area_id')

    op.drop_table('returnee')
