"""legal steps without a court reference (eviction requested)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 13:13:44.286803
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("legal_step", schema=None) as batch_op:
        batch_op.alter_column("court_reference", existing_type=sa.VARCHAR(length=100), nullable=True)


def downgrade() -> None:
    # Eviction requests have no court reference; the old schema cannot hold them.
    op.execute("DELETE FROM legal_step WHERE court_reference IS NULL")
    with op.batch_alter_table("legal_step", schema=None) as batch_op:
        batch_op.alter_column("court_reference", existing_type=sa.VARCHAR(length=100), nullable=False)
