"""wheel facts: a file's manylinux policy and grafted libraries

Revision ID: 0007_wheel_facts
Revises: 0006_build_records
Create Date: 2026-11-27 09:00:00.000000

The policy comes from the file name, so existing rows get it here; the grafted libraries need
each wheel's zip directory, so existing wheels keep NULL (not derived yet) until
``wheelyard check --repair`` reads them. Sdists have neither ("").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wheelyard.yard.wheelfacts import policy_of

revision: str = "0007_wheel_facts"
down_revision: str | None = "0006_build_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_policy", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("grafted_libs", sa.Text(), nullable=True))
    files = sa.table(
        "files",
        sa.column("id", sa.Integer()),
        sa.column("filename", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("platform_policy", sa.String()),
        sa.column("grafted_libs", sa.Text()),
    )
    bind = op.get_bind()
    bind.execute(
        files.update().where(files.c.kind != "wheel").values(platform_policy="", grafted_libs="")
    )
    rows = bind.execute(sa.select(files.c.id, files.c.filename).where(files.c.kind == "wheel"))
    updates = [{"fid": fid, "policy": policy_of(name)} for fid, name in rows]
    if updates:
        bind.execute(
            files.update()
            .where(files.c.id == sa.bindparam("fid"))
            .values(platform_policy=sa.bindparam("policy")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_column("grafted_libs")
        batch_op.drop_column("platform_policy")
