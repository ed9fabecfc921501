"""remove events

Revision ID: 7f3a
"""
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.drop_table("events")


def downgrade():
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))
