"""``wheelyard export OWNER LABEL --to DIR|s3://BUCKET/PREFIX``: a static snapshot of a label;
``wheelyard export --all --to …``: a backup of the whole yard (``wheelyard import --from``)."""

from __future__ import annotations

import argparse

from wheelyard.cli.common import open_yard, out
from wheelyard.config import Settings
from wheelyard.errors import InvalidInput
from wheelyard.export.backup import backup_yard
from wheelyard.export.snapshot import export_label
from wheelyard.export.targets import S3Account, open_target, refuse_overlap


def run(args: argparse.Namespace, settings: Settings) -> int:
    account = S3Account(args.s3_profile, args.s3_endpoint_url)
    folders = [settings.data_dir, settings.staging]
    refuse_overlap(args.to, settings.storage_url, folders, elsewhere=account.elsewhere())
    if args.all:
        if args.owner or args.label or args.include_private:
            raise InvalidInput("export --all backs up the whole yard: give no OWNER or LABEL")
        target = open_target(args.to, account)
        with open_yard(settings) as yard:
            backed = backup_yard(yard.session, yard.store, target)
        out.print(
            f"backed up the yard to {args.to}: {sum(backed.rows.values())} row(s) in "
            f"{len(backed.rows)} table(s), {backed.blobs} blob(s), {backed.bytes} bytes",
            markup=False,
        )
        return 0
    if not (args.owner and args.label):
        raise InvalidInput("export needs OWNER and LABEL (or --all for a backup of the yard)")
    target = open_target(args.to, account)
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
        help="write a static index of a label, or a backup of the yard, to a folder or S3",
        description="Write a static, complete index of OWNER's LABEL (PEP 503 HTML, PEP 691 "
        "JSON, PEP 658 metadata, the files) that any static host serves: "
        "pip install -i URL/simple. Run it again to bring the snapshot up to date: only what "
        "changed is written, and what left the label is deleted, after the new pages are in "
        "place; the destination's manifest says what it holds (objects put there by hand are "
        "not seen while it exists). With --all instead: a backup of the whole yard (every "
        "owner, token hash, label, file, yank and event, and every blob) into a new folder or "
        "S3 prefix, which wheelyard import --from restores into an empty yard on any backend. "
        "S3 destinations use WHEELYARD_S3_ENDPOINT_URL and the AWS variables, as the yard's "
        "own storage does, unless --s3-profile or --s3-endpoint-url names another account.",
    )
    p.add_argument("owner", nargs="?", help="the user or organisation")
    p.add_argument("label", nargs="?", help="the label to export (e.g. main)")
    p.add_argument("--to", required=True, metavar="DIR|s3://BUCKET/PREFIX", help="destination")
    p.add_argument(
        "--all",
        action="store_true",
        help="back up the whole yard (tables and blobs) instead of one label's static index",
    )
    p.add_argument(
        "--include-private",
        action="store_true",
        help="also export a private label and private packages (the snapshot has no access "
        "control: only for a destination as private as they are)",
    )
    add_s3_account(p)
    p.set_defaults(func=run)


def add_s3_account(p: argparse.ArgumentParser) -> None:
    """--s3-profile / --s3-endpoint-url: an s3:// destination (or source) in another account."""
    p.add_argument(
        "--s3-profile",
        metavar="NAME",
        help="for s3://: the AWS profile (credentials, region and its endpoint_url, if it names "
        "one) of another account or provider, e.g. to keep backups away from the yard's own",
    )
    p.add_argument(
        "--s3-endpoint-url",
        metavar="URL",
        help="for s3://: the endpoint of another S3-compatible provider (with --s3-profile, or "
        "the default AWS credentials)",
    )
