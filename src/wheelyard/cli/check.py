"""``wheelyard check``: verify database ↔ storage; non-zero exit when anything is wrong."""

from __future__ import annotations

import argparse

from wheelyard.cli.common import open_yard, out
from wheelyard.config import Settings
from wheelyard.yard.integrity import check
from wheelyard.yard.stages import expire_stages

STAGING_GRACE = 6 * 3600  # an upload still streaming after 6 hours is abandoned


def run(args: argparse.Namespace, settings: Settings) -> int:
    problems = 0
    with open_yard(settings) as yard:
        expired = expire_stages(yard.session, yard.store)
        swept = yard.store.sweep_staging(STAGING_GRACE)
        if expired or swept:
            out.print(f"cleaned up {expired} expired upload stage(s), {swept} staging file(s)")
        for problem in check(yard.session, yard.store, verify_hashes=not args.quick):
            problems += 1
            out.print(f"{problem.kind}: {problem.key}: {problem.detail}")
    out.print(f"{problems} problem(s) found" if problems else "ok: database and storage agree")
    return 1 if problems else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="verify that database and storage agree")
    p.add_argument("--quick", action="store_true", help="skip re-hashing every file")
    p.set_defaults(func=run)
