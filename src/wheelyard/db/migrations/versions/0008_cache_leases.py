"""cache leases: PostgreSQL only, the serving processes' leases and the change numbers

Revision ID: 0008_cache_leases
Revises: 0007_wheel_facts
Create Date: 2026-11-27 14:00:00.000000

``db/leases.py`` uses them: each serving process's lease (acknowledged change number, expiry
on PostgreSQL's clock) and the sequence writers draw change numbers from. Not in the models:
nothing in the yard reads them through the ORM, and SQLite (one machine, ``PRAGMA
data_version``) has no use for them, so on SQLite this revision does nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_cache_leases"
down_revision: str | None = "0007_wheel_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # UNLOGGED: leases last seconds, a crash loses nothing worth keeping (servers rejoin).
    op.execute(
        "CREATE UNLOGGED TABLE cache_leases ("
        " server TEXT PRIMARY KEY,"
        " acked BIGINT NOT NULL,"
        " expires TIMESTAMPTZ NOT NULL)"
    )
    # CACHE 1 (the default, said here because it matters): numbers in the order drawn.
    op.execute("CREATE SEQUENCE cache_change_numbers CACHE 1")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP SEQUENCE cache_change_numbers")
    op.execute("DROP TABLE cache_leases")
