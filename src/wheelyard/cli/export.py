"""``wheelyard export OWNER LABEL --to DIR|s3://BUCKET/PREFIX``: a static snapshot of a label."""

from __future__ import annotations

import argparse

from wheelyard.cli.common import open_yard, out
from wheelyard.config import Settings
from wheelyard.export.snapshot import export_label
from wheelyard.export.targets import open_target


def run(args: argparse.Namespace, settings: Settings) -> int:
    target = open_target(args.to)
    with open_yard(settings) as yard:
        done = export_label(
            yard.session, yard.store, target, args.owner, args.label, args.include_private
        )
    out.print(
        f"exported {args.owner}/{args.label} to {args.to}: {done.projects} project(s), "
        f"{done.files} file(s); wrote {len(done.written)}, deleted {len(done.deleted)}",
        markup=False,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export",
        help="write a static index of a label to a folder or an S3 bucket",
        description="Write a static, complete index of OWNER's LABEL (PEP 503 HTML, PEP 691 "
        "JSON, PEP 658 metadata, the files) that any static host serves: "
        "pip install -i URL/simple. Run it again to bring the snapshot up to date: only what "
        "changed is written, and what left the label is deleted, after the new pages are in "
        "place. S3 destinations use WHEELYARD_S3_ENDPOINT_URL and the AWS variables.",
    )
    p.add_argument("owner", help="the user or organisation")
    p.add_argument("label", help="the label to export (e.g. main)")
    p.add_argument("--to", required=True, metavar="DIR|s3://BUCKET/PREFIX", help="destination")
    p.add_argument(
        "--include-private",
        action="store_true",
        help="also export a private label and private packages (the snapshot has no access "
        "control: only for a destination as private as they are)",
    )
    p.set_defaults(func=run)
