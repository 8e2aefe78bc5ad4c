"""``wheelyard check``: verify database ↔ storage; non-zero exit when anything is wrong."""

from __future__ import annotations

import argparse

from wheelyard.cli.common import Subcommands, add_command, open_yard, out
from wheelyard.config import Settings
from wheelyard.storage.staging import sweep_staging
from wheelyard.yard.integrity import check, collect_garbage, effective_grace
from wheelyard.yard.stages import expire_stages
from wheelyard.yard.wheelfacts import fill_missing

STAGING_GRACE = 6 * 3600  # an upload still streaming after 6 hours is abandoned


def run(args: argparse.Namespace, settings: Settings) -> int:
    problems = 0
    grace = effective_grace(settings.blob_grace)
    with open_yard(settings, args.create) as yard:
        with yard.unit() as unit:  # committed before collecting: their blobs become orphans
            expired = expire_stages(unit.session, yard.store)
        swept = sweep_staging(settings.staging, STAGING_GRACE)
        swept += yard.store.sweep_incomplete(STAGING_GRACE)
        if expired or swept:
            out.print(f"cleaned up {expired} expired upload stage(s), {swept} staging file(s)")
        if args.repair:
            collected = collect_garbage(yard.session, yard.store, grace)
            for key in collected.deleted:
                out.print(f"deleted orphan: {key}", markup=False)
            out.print(
                f"deleted {len(collected.deleted)} orphan blob(s) older than {grace:.0f}s",
                markup=False,
            )
            with yard.unit() as unit:
                filled, unreadable = fill_missing(unit.session, yard.store)
            if filled:
                out.print(f"derived the wheel facts of {filled} file(s)", markup=False)
            for line in unreadable:
                problems += 1
                out.print(f"facts: {line}", markup=False)
        for problem in check(yard.session, yard.store, not args.quick, grace):
            problems += 1
            out.print(f"{problem.kind}: {problem.key}: {problem.detail}", markup=False)
    out.print(f"{problems} problem(s) found" if problems else "ok: database and storage agree")
    return 1 if problems else 0


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "check",
        "verify that database and storage agree",
        "Verify that database and storage agree. Blobs no file or upload stage references are "
        "orphans once older than WHEELYARD_BLOB_GRACE (seconds, default 3600, at least 300); "
        "younger ones belong to uploads in flight and are not reported.",
    )
    p.add_argument("--quick", action="store_true", help="skip re-hashing every file")
    p.add_argument(
        "--repair",
        action="store_true",
        help="delete orphan blobs older than the grace period and derive the manylinux policy "
        "and grafted libraries of files stored before they were recorded (safe while the "
        "server runs)",
    )
    p.set_defaults(func=run)
