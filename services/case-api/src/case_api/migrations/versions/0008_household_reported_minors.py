"""household reported minors: a partner's count, and whether staff recorded the members (ADR 0013)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:14:33.926673
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_minors", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("members_by_staff", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Households staff opened a case for, or changed since the household had a version, were recorded by staff.
    op.execute(
        "UPDATE household SET members_by_staff = true WHERE version > 1 OR id IN "
        "(SELECT household_id FROM \"case\" WHERE opened_by = 'staff')"
    )


def downgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_column("members_by_staff")
        batch_op.drop_column("reported_minors")
