"""``wheelyard label`` and ``wheelyard yank``/``unyank``: labels as metadata over stored files."""

from __future__ import annotations

import argparse

from rich.table import Table

from wheelyard.cli.common import open_yard, out
from wheelyard.config import Settings
from wheelyard.yard import accounts
from wheelyard.yard import labels as ops
from wheelyard.yard.names import DEFAULT_LABEL


def list_(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        table = Table("label", "files", "private", "locked")
        for lb in ops.list_labels(yard.session, owner):
            table.add_row(
                lb.name,
                str(lb.files),
                "yes" if lb.private or owner.private else "no",
                "yes" if lb.locked else "no",
            )
    out.print(table)
    return 0


def copy(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        added = ops.copy_label(yard.session, owner, args.source, args.target)
    out.print(f"label {args.target} now holds {added} more file(s) from {args.source}")
    return 0


def remove(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        count = ops.remove_label(yard.session, yard.store, owner, args.label)
    out.print(f"removed label {args.label} from {count} file(s)")
    return 0


def flag(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        if args.action in ("lock", "unlock"):
            ops.set_locked(yard.session, owner, args.label, args.action == "lock")
        else:
            ops.set_private(yard.session, owner, args.label, args.action == "private")
    state = {"lock": "locked", "unlock": "unlocked"}.get(args.action, args.action)
    out.print(f"label {args.label} of {owner.name} is now {state}")
    return 0


def yank(args: argparse.Namespace, settings: Settings) -> int:
    undo = args.command == "unyank"
    with open_yard(settings) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        n = ops.yank(
            yard.session,
            owner,
            args.label,
            args.project,
            args.version,
            args.file,
            args.reason,
            undo=undo,
        )
    out.print(f"{'unyanked' if undo else 'yanked'} {n} file(s) under label {args.label}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("label", help="manage labels").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="an owner's labels")
    p.add_argument("owner")
    p.set_defaults(func=list_)
    p = group.add_parser("copy", help="add label TARGET to every file of SOURCE (no bytes copied)")
    p.add_argument("owner")
    p.add_argument("source")
    p.add_argument("target")
    p.set_defaults(func=copy)
    p = group.add_parser("remove", help="remove a label; files no other label holds are deleted")
    p.add_argument("owner")
    p.add_argument("label")
    p.set_defaults(func=remove)
    for action, text in (
        ("lock", "refuse uploads and removals"),
        ("unlock", "allow changes"),
        ("private", "reads need a token"),
        ("public", "anyone may read"),
    ):
        p = group.add_parser(action, help=text)
        p.add_argument("owner")
        p.add_argument("label")
        p.set_defaults(func=flag)

    for name, text in (
        ("yank", "yank a release or one file under a label (PEP 592)"),
        ("unyank", "undo a yank"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("owner")
        p.add_argument("project")
        p.add_argument("version")
        p.add_argument("--file", help="only this file of the release")
        p.add_argument("--label", default=DEFAULT_LABEL)
        p.add_argument("--reason", help="shown to pip users")
        p.set_defaults(func=yank)
