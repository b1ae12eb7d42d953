"""The household survey (``survey_campaign``, ``survey_visit``, ``survey_person``) and its
per-campaign counters (``survey_grid_stats``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:38:45
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

AREA_CODE = sa.String(length=15).with_variant(sa.String(length=15, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('survey_campaign',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('key_areas', sa.String(length=700), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('survey_campaign', schema=None) as batch_op:
        batch_op.create_index('ix_survey_campaign_area_id', ['area_code', 'id'], unique=False)

    op.create_table('survey_grid_stats',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('campaign_households', sa.Integer(), nullable=False),
    sa.Column('campaign_visits', sa.Integer(), nullable=False),
    sa.Column('campaign_people', sa.Integer(), nullable=False),
    sa.Column('campaign_from_key_area', sa.Integer(), nullable=False),
    sa.Column('campaign_fevers', sa.Integer(), nullable=False),
    sa.Column('campaign_under_observation', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'area_code')
    )
    op.create_table('survey_visit',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('first_reach', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('survey_visit', schema=None) as batch_op:
        batch_op.create_index('ix_survey_visit_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index('ix_survey_visit_household', ['household_id', 'campaign_id'], unique=False)
        batch_op.create_index('uq_survey_visit_first_reach', ['campaign_id', 'household_id'], unique=True, sqlite_where=sa.text('first_reach'), postgresql_where=sa.text('first_reach'))

    op.create_table('survey_person',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('area_code', AREA_CODE, nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('came_from', sa.String(length=100), nullable=True),
    sa.Column('from_key_area', sa.Boolean(), nullable=False),
    sa.Column('departed_on', sa.Date(), nullable=True),
    sa.Column('arrived_on', sa.Date(), nullable=True),
    sa.Column('transport', sa.String(length=8), nullable=True),
    sa.Column('transport_number', sa.String(length=20), nullable=True),
    sa.Column('fever', sa.Boolean(), nullable=False),
    sa.Column('temperature', sa.Float(), nullable=True),
    sa.Column('cough', sa.Boolean(), nullable=False),
    sa.Column('close_contact', sa.Boolean(), nullable=False),
    sa.Column('under_observation', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaign.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['survey_visit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'resident_id', name='uq_survey_person_resident')
    )
    with op.batch_alter_table('survey_person', schema=None) as batch_op:
        batch_op.create_index('ix_survey_person_area_id', ['area_code', 'id'], unique=False)
        batch_op.create_index('ix_survey_person_resident', ['resident_id'], unique=False)
        batch_op.create_index('ix_survey_person_visit', ['visit_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('survey_person', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_person_visit')
        batch_op.drop_index('ix_survey_person_resident')
        batch_op.drop_index('ix_survey_person_area_id')

    op.drop_table('survey_person')
    with op.batch_alter_table('survey_visit', schema=None) as batch_op:
        batch_op.drop_index('uq_survey_visit_first_reach', sqlite_where=sa.text('first_reach'), postgresql_where=sa.text('first_reach'))
        batch_op.drop_index('ix_survey_visit_household')
        batch_op.drop_index('ix_survey_visit_area_id')

    op.drop_table('survey_visit')
    op.drop_table('survey_grid_stats')
    with op.batch_alter_table('survey_campaign', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_campaign_area_id')

    op.drop_table('survey_campaign')
