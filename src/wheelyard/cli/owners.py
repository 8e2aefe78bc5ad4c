"""``wheelyard user`` / ``org`` / ``owner``: accounts, organisations and owner-wide privacy."""

from __future__ import annotations

import argparse
import getpass
import sys

from wheelyard.cli.common import Subcommands, add_command, add_group, open_yard, out
from wheelyard.config import Settings
from wheelyard.errors import InvalidInput
from wheelyard.yard import accounts
from wheelyard.yard.labels import set_owner_private


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to prompt for a password: use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise InvalidInput("the passwords do not match")
    return first


def user_create(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args.password_stdin)
    with open_yard(settings, args.create) as yard:
        accounts.create_user(yard.session, args.name, password)
    out.print(f"created user {args.name.lower()}")
    return 0


def org_create(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
        accounts.create_org(yard.session, args.name, args.owner)
    out.print(f"created organisation {args.name.lower()} owned by {args.owner.lower()}")
    return 0


def org_add(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
        accounts.add_member(yard.session, args.org, args.user)
    out.print(f"{args.user.lower()} is a member of {args.org.lower()}")
    return 0


def owner_private(args: argparse.Namespace, settings: Settings) -> int:
    private = args.action == "private"
    with open_yard(settings, args.create) as yard:
        set_owner_private(yard.session, accounts.get_owner(yard.session, args.owner), private)
    out.print(f"owner {args.owner.lower()} is now {'private' if private else 'public'}")
    return 0


def register(sub: Subcommands) -> None:
    user = add_group(sub, "user", "manage users")
    p = add_command(user, "create", "create a user")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=user_create)

    org = add_group(sub, "org", "manage organisations")
    p = add_command(org, "create", "create an organisation")
    p.add_argument("name")
    p.add_argument("--owner", required=True, help="the user who owns it")
    p.set_defaults(func=org_create)
    p = add_command(org, "add-member", "let a user upload to the organisation")
    p.add_argument("org")
    p.add_argument("user")
    p.set_defaults(func=org_add)

    owner = add_group(sub, "owner", "owner-wide settings")
    for action, text in (
        ("private", "make every label need a read token"),
        ("public", "let anyone read labels that are not private themselves"),
    ):
        p = add_command(owner, action, text)
        p.add_argument("owner")
        p.set_defaults(func=owner_private)
