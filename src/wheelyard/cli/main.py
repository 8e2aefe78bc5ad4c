"""Entry point: parse arguments, dispatch to a command group, turn errors into one clear line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from wheelyard import __version__
from wheelyard.cli.terminal import Subcommands, shown
from wheelyard.config import Settings
from wheelyard.errors import YardError

# The command modules, in the order --help lists them. Each is imported only when needed: a
# command named like its module (``wheelyard build``) imports that module alone, so the
# builder never loads the server's database and web stack.
MODULES = (
    "serve", "owners", "tokens", "labels", "events", "importing", "check", "export", "build",
    "ci",
)  # fmt: skip


def _named(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (past the global options), if any."""
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--data-dir":
            words = words[1:]
        elif not word.startswith("-"):
            return word
    return None


def _base() -> tuple[argparse.ArgumentParser, Subcommands]:
    parser = argparse.ArgumentParser(
        prog="wheelyard", description="A private wheel index by owner and label, and its builder."
    )
    parser.add_argument("--version", action="version", version=f"wheelyard {__version__}")
    parser.add_argument("--data-dir", help="where the yard keeps its data (WHEELYARD_DATA_DIR)")
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND", required=True)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; of ``command`` alone when a module of that name registers
    it (the rest is then never imported)."""
    if command in MODULES:
        parser, sub = _base()
        importlib.import_module(f"wheelyard.cli.{command}").register(sub)
        if command in sub.choices:
            return parser
    parser, sub = _base()
    for name in MODULES:
        importlib.import_module(f"wheelyard.cli.{name}").register(sub)
    return parser


def _database_error(exc: Exception) -> bool:
    """Whether ``exc`` is SQLAlchemy's OperationalError (never, if nothing loaded SQLAlchemy)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_named(sys.argv[1:] if argv is None else argv))
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
    except Exception as exc:
        if not _database_error(exc):
            raise
        print(f"wheelyard: database error: {shown(getattr(exc, 'orig', exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
