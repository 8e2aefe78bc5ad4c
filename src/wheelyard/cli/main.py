"""Entry point: parse arguments, dispatch to a command group, turn errors into one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from wheelyard import __version__
from wheelyard.cli import (
    build,
    check,
    ci,
    events,
    export,
    importing,
    labels,
    owners,
    serve,
    tokens,
)
from wheelyard.cli.terminal import shown
from wheelyard.config import Settings
from wheelyard.errors import YardError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wheelyard", description="A private wheel index by owner and label, and its builder."
    )
    parser.add_argument("--version", action="version", version=f"wheelyard {__version__}")
    parser.add_argument("--data-dir", help="where the yard keeps its data (WHEELYARD_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, owners, tokens, labels, events, importing, check, export, build, ci):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Only the command itself may replace its process (``wheelyard build``: builder/secret.py).
    args.own_process = argv is None
    try:
        env = None
        if args.data_dir:
            import os

            env = {**os.environ, "WHEELYARD_DATA_DIR": args.data_dir}
        settings = Settings.from_env(env)
        result: int = args.func(args, settings)
        return result
    except YardError as exc:
        print(f"wheelyard: error: {shown(exc.message)}", file=sys.stderr)
        return exc.exit_code  # the table in wheelyard/errors.py
    except OperationalError as exc:
        print(f"wheelyard: database error: {shown(exc.orig)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
