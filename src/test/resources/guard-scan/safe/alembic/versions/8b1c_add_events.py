from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("events")
