"""``wheelyard events OWNER [--since]``: the owner's audit trail."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

from rich.table import Table

from wheelyard.cli.common import Subcommands, add_command, open_yard, out
from wheelyard.config import Settings
from wheelyard.db.models import as_utc
from wheelyard.errors import InvalidInput
from wheelyard.yard import accounts
from wheelyard.yard.events import events_of

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> datetime:
    """An ISO date/time (UTC unless it says otherwise) or an age such as ``90m``, ``2h``, ``7d``."""
    raw = text.strip()
    if raw[:-1].isdigit() and raw[-1:] in _UNITS:
        return datetime.now(timezone.utc) - timedelta(seconds=int(raw[:-1]) * _UNITS[raw[-1]])
    try:
        return as_utc(datetime.fromisoformat(raw))
    except ValueError:
        raise InvalidInput(
            f"--since {text!r}: use an ISO date/time (2026-11-27T10:00) or an age (90m, 2h, 7d)"
        ) from None


def events(args: argparse.Namespace, settings: Settings) -> int:
    since = parse_since(args.since) if args.since else None
    with open_yard(settings, args.create) as yard:
        owner = accounts.get_owner(yard.session, args.owner)
        rows = events_of(yard.session, owner, since, args.limit)
        table = Table("time (UTC)", "actor", "action", "detail")
        for e in rows:
            table.add_row(
                as_utc(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.actor or "-", e.action, e.detail
            )
    out.print(table)
    return 0


def register(sub: Subcommands) -> None:
    p = add_command(sub, "events", "the audit trail of an owner: who changed what, and when")
    p.add_argument("owner")
    p.add_argument("--since", help="ISO date/time, or an age such as 2h or 7d")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (the newest)")
    p.set_defaults(func=events)
