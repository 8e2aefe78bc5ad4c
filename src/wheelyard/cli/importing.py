"""``wheelyard import OWNER PATH…``: store local wheels/sdists for an owner under labels,
without HTTP; ``wheelyard import --from DIR|s3://…``: restore a backup (``export --all``)."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from wheelyard.cli.common import Subcommands, add_command, describe, err, open_yard, out
from wheelyard.cli.export import add_s3_account
from wheelyard.config import Settings
from wheelyard.db.models import Owner
from wheelyard.errors import InvalidInput, YardError
from wheelyard.export.restore import read_manifest, restore_yard
from wheelyard.export.targets import S3Account, open_target
from wheelyard.storage import open_store
from wheelyard.yard import accounts
from wheelyard.yard.importer import find_dists, import_file
from wheelyard.yard.integrity import collection_paused
from wheelyard.yard.names import DEFAULT_LABEL, check_label_name


def restore(args: argparse.Namespace, settings: Settings) -> int:
    if args.owner or args.paths or args.label:
        raise InvalidInput("import --from restores a whole backup: give no OWNER, PATH or --label")
    source = open_target(args.source, S3Account(args.s3_profile, args.s3_endpoint_url))
    read_manifest(source, args.source)  # an incomplete backup is refused before --create acts
    with open_yard(settings, args.create, announce=False) as found:
        new = found.new  # found (or with --create made) before its collector is paused
    # One unit of work: the restored yard is committed whole, or not at all; no collector
    # runs until it has committed (the blobs are published first, the rows commit last).
    paused = collection_paused(open_store(settings.storage_url))
    with paused, open_yard(settings, announce=False) as yard:
        done = restore_yard(yard.session, yard.store, source, args.source, settings.staging)
    err.print(f"yard: {describe(settings)}" + (" (new)" if new else ""), markup=False)
    out.print(
        f"restored {args.source}: {sum(done.rows.values())} row(s) in {len(done.rows)} "
        f"table(s), {done.blobs} blob(s) ({done.bytes} bytes), every sha256 checked",
        markup=False,
    )
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.source:
        return restore(args, settings)
    if not args.owner or not args.paths:
        raise InvalidInput("import needs OWNER and PATH… (or --from DIR|s3://… for a backup)")
    labels = [check_label_name(lb) for lb in (args.label or [DEFAULT_LABEL])]
    counts: Counter[str] = Counter()
    with open_yard(settings, args.create) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        for path in find_dists([Path(p) for p in args.paths]):
            try:
                # A unit per file: a refused file leaves the ones stored before it stored.
                with yard.unit() as unit:
                    mine = unit.session.get(Owner, owner.id)
                    assert mine is not None
                    stored = import_file(
                        unit.session, yard.store, mine, labels, path, settings.staging
                    )
                counts[stored.outcome] += 1
            except (YardError, OSError) as exc:
                counts["refused"] += 1
                message = exc.message if isinstance(exc, YardError) else str(exc)
                out.print(f"refused {path.name}: {message}")
    out.print(
        f"{counts['created']} stored, {counts['existing']} already present, "
        f"{counts['refused']} refused"
    )
    return 1 if counts["refused"] else 0


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "import",
        "store local wheels and sdists (files or folders), or restore a backup (--from)",
    )
    p.add_argument("owner", nargs="?")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument(
        "--from",
        dest="source",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="restore a backup made by export --all into this yard, which must be empty "
        "(give --create for a new one)",
    )
    p.add_argument("-l", "--label", action="append", help="label(s) to attach (default: main)")
    add_s3_account(p)
    p.set_defaults(func=run)
