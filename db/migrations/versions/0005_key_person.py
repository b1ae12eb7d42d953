"""The ledger of key persons (``key_person``) and its per-grid counters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

AREA_CODE = sa.String(length=15).with_variant(sa.String(length=15, collation='C'), 'postgresql')
COUNTERS = ("key_persons", "key_persons_elderly_alone", "key_persons_child_in_difficulty",
            "key_persons_limited_mobility", "key_persons_pregnant", "key_persons_hardship",
            "key_persons_chronic_illness", "key_persons_disability")


def upgrade() -> None:
    op.create_table('key_person',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('categories', sa.String(length=200), nullable=False),
    sa.Column('helper_user_id', sa.Integer(), nullable=True),
    sa.Column('helper_name', sa.String(length=50), nullable=True),
    sa.Column('helper_phone', sa.String(length=20), nullable=True),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('notes', sa.String(length=500), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.Integer(), nullable=True),
    sa.Column('removed_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['helper_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['removed_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('key_person', schema=None) as batch_op:
        batch_op.create_index('ix_key_person_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_person_resident_id'), ['resident_id'], unique=False)
    with op.batch_alter_table('grid_stats', schema=None) as batch_op:
        for name in COUNTERS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('grid_stats', schema=None) as batch_op:
        for name in reversed(COUNTERS):
            batch_op.drop_column(name)
    with op.batch_alter_table('key_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_person_resident_id'))
        batch_op.drop_index('ix_key_person_area_id')
    op.drop_table('key_person')
