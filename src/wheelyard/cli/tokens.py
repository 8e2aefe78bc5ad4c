"""``wheelyard token``: create (prints only the secret), list (never the secret), revoke."""

from __future__ import annotations

import argparse

from rich.table import Table

from wheelyard.cli.common import Subcommands, add_command, add_group, open_yard, out
from wheelyard.config import Settings
from wheelyard.errors import InvalidInput
from wheelyard.yard import accounts
from wheelyard.yard import tokens as yard_tokens


def max_age(text: str) -> int | None:
    """argparse type: a lifetime in seconds, refused with a clear message (never a traceback)."""
    try:
        return yard_tokens.check_max_age(text, "--max-age")
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def create(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
        user = accounts.get_user(yard.session, args.user)
        _token, secret = yard_tokens.create_token(
            yard.session, user, args.name, args.scopes, args.max_age
        )
    print(secret)
    return 0


def _when(value: object) -> str:
    return "-" if value is None else str(value)[:19]


def list_(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
        user = accounts.get_user(yard.session, args.user)
        table = Table("name", "scopes", "created", "expires", "last used")
        for t in yard_tokens.list_tokens(yard.session, user):
            table.add_row(
                t.name,
                t.scopes or "-",
                _when(t.created_at),
                _when(t.expires_at),
                _when(t.last_used_at),
            )
    out.print(table)
    return 0


def revoke(args: argparse.Namespace, settings: Settings) -> int:
    with open_yard(settings, args.create) as yard:
        user = accounts.get_user(yard.session, args.user)
        yard_tokens.revoke_token(yard.session, user, args.name)
    out.print(f"revoked token {args.name!r} of {args.user.lower()}")
    return 0


def register(sub: Subcommands) -> None:
    group = add_group(sub, "token", "manage API tokens")
    p = add_command(group, "create", "mint a token; prints only the token")
    p.add_argument("--user", required=True)
    p.add_argument("--name", required=True, help="a label for the token, unique per user")
    p.add_argument("--scopes", required=True, help='e.g. "api:write pypi:upload"')
    p.add_argument("--max-age", type=max_age, help="seconds until the token expires")
    p.set_defaults(func=create)
    p = add_command(group, "list", "list a user's tokens (never their secrets)")
    p.add_argument("--user", required=True)
    p.set_defaults(func=list_)
    p = add_command(group, "revoke", "revoke a token by name")
    p.add_argument("--user", required=True)
    p.add_argument("name")
    p.set_defaults(func=revoke)
