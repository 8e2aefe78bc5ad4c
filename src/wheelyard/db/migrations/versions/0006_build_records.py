"""build records: what a build run needs to skip work, beside its label

Revision ID: 0006_build_records
Revises: 0005_web_sessions
Create Date: 2026-11-27 08:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_build_records"
down_revision: str | None = "0005_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "build_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["labels.id"],
            name=op.f("fk_build_records_label_id_labels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_records")),
        sa.UniqueConstraint("label_id", "key", name=op.f("uq_build_records_label_id")),
    )
    with op.batch_alter_table("build_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_build_records_label_id"), ["label_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("build_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_build_records_label_id"))
    op.drop_table("build_records")
