"""auth failures: the failed-authentication ledger every serving process shares

Revision ID: 0009_auth_failures
Revises: 0008_cache_leases
Create Date: 2026-11-27 19:00:00.000000

``yard/throttle.py`` counts distinct bad credentials per client and per user name here, so a
limit holds for the whole yard, not per process (``serve --workers N``, several servers).
Rows last one throttle window. Not in the models' ``Base``: never backed up or restored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_auth_failures"
down_revision: str | None = "0008_cache_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # UNLOGGED on PostgreSQL: a crash loses at most one window of counts, and no WAL is
    # written for an attacker's guesses.
    op.create_table(
        "auth_failures",
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("credential", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE auth_failures SET UNLOGGED")
    op.create_index("ix_auth_failures_subject_at", "auth_failures", ["subject", "at"])
    op.create_index("ix_auth_failures_at", "auth_failures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_at", table_name="auth_failures")
    op.drop_index("ix_auth_failures_subject_at", table_name="auth_failures")
    op.drop_table("auth_failures")
