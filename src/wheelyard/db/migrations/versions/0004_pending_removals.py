"""deferred single-file removals

Revision ID: 0004_pending_removals
Revises: 0003_token_org
Create Date: 2026-11-27 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_pending_removals"
down_revision: str | None = "0003_token_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_removals",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_pending_removals_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_pending_removals")),
    )
    with op.batch_alter_table("pending_removals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_removals_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_removals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_removals_due_at"))
    op.drop_table("pending_removals")
