"""oco referral steps and second-chance agreements

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 23:14:15.023266
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "second_chance_agreement",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_second_chance_agreement_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_chance_agreement")),
    )
    with op.batch_alter_table("second_chance_agreement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_second_chance_agreement_case_id"), ["case_id"], unique=False)

    op.create_table(
        "oco_referral_step",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("support_kind", sa.String(length=30), nullable=True),
        sa.Column("support_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_oco_referral_step_case_id_case")),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["oco_consent.id"], name=op.f("fk_oco_referral_step_consent_id_oco_consent")
        ),
        sa.ForeignKeyConstraint(
            ["support_id"], ["support_trajectory.id"], name=op.f("fk_oco_referral_step_support_id_support_trajectory")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oco_referral_step")),
        sa.UniqueConstraint("consent_id", "position", name=op.f("uq_oco_referral_step_consent_id_position")),
    )
    with op.batch_alter_table("oco_referral_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oco_referral_step_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oco_referral_step_consent_id"), ["consent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oco_referral_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oco_referral_step_consent_id"))
        batch_op.drop_index(batch_op.f("ix_oco_referral_step_case_id"))

    op.drop_table("oco_referral_step")
    with op.batch_alter_table("second_chance_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_second_chance_agreement_case_id"))

    op.drop_table("second_chance_agreement")
