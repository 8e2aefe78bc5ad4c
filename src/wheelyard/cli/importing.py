"""``wheelyard import``: store local wheels/sdists for an owner under labels, without HTTP."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from wheelyard.cli.common import Subcommands, add_command, open_yard, out
from wheelyard.config import Settings
from wheelyard.db.models import Owner
from wheelyard.errors import YardError
from wheelyard.yard import accounts
from wheelyard.yard.importer import find_dists, import_file
from wheelyard.yard.names import DEFAULT_LABEL, check_label_name


def run(args: argparse.Namespace, settings: Settings) -> int:
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
    p = add_command(sub, "import", "store local wheels and sdists (files or folders)")
    p.add_argument("owner")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-l", "--label", action="append", help="label(s) to attach (default: main)")
    p.set_defaults(func=run)
