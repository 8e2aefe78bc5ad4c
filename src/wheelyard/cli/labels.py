"""``wheelyard label`` and ``wheelyard yank``/``unyank``: labels as metadata over stored files."""

from __future__ import annotations

import argparse

from rich.table import Table

from wheelyard.cli.common import Subcommands, add_command, add_group, open_yard, out
from wheelyard.config import Settings
from wheelyard.yard import accounts
from wheelyard.yard import labels as ops
from wheelyard.yard.names import DEFAULT_LABEL


def list_(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
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
    with open_yard(settings, args.create) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        added = ops.copy_label(yard.session, owner, args.source, args.target)
    out.print(f"label {args.target} now holds {added} more file(s) from {args.source}")
    return 0


def remove(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        count = ops.remove_label(yard.session, yard.store, owner, args.label)
    out.print(f"removed label {args.label} from {count} file(s)")
    return 0


def flag(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
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
    with open_yard(settings, args.create) as yard:
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


_COMMANDS = (
    ("list", "an owner's labels", list_, ()),
    (
        "copy",
        "add label TARGET to every file of SOURCE (no bytes copied)",
        copy,
        ("source", "target"),
    ),
    ("remove", "remove a label; files no other label holds are deleted", remove, ("label",)),
    ("lock", "refuse uploads and removals", flag, ("label",)),
    ("unlock", "allow changes", flag, ("label",)),
    ("private", "reads need a token", flag, ("label",)),
    ("public", "anyone may read", flag, ("label",)),
)


def register(sub: Subcommands) -> None:
    group = add_group(sub, "label", "manage labels")
    for action, text, func, names in _COMMANDS:
        p = add_command(group, action, text)
        for name in ("owner", *names):
            p.add_argument(name)
        p.set_defaults(func=func)

    for name, text in (
        ("yank", "yank a release or one file under a label (PEP 592)"),
        ("unyank", "undo a yank"),
    ):
        p = add_command(sub, name, text)
        p.add_argument("owner")
        p.add_argument("project")
        p.add_argument("version")
        p.add_argument("--file", help="only this file of the release")
        p.add_argument("--label", default=DEFAULT_LABEL)
        p.add_argument("--reason", help="shown to pip users")
        p.set_defaults(func=yank)
