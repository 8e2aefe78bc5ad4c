"""What every admin command shares: the yard it acts on (named on stderr when done), a database
session and the blob store, and how its arguments are registered.

A command is one unit of work (``db.unit``): it commits once, when it succeeds. A command that
needs several (``import``: one per file) opens them with ``Yard.unit``. No admin command makes
a new, empty yard unless told so with ``--create``: a typo in the data directory must not
quietly start a second yard.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.request import pathname2url

from sqlalchemy import Engine, inspect, make_url
from sqlalchemy.orm import Session, sessionmaker

from wheelyard.cli.terminal import Subcommands as Subcommands
from wheelyard.cli.terminal import err as err
from wheelyard.cli.terminal import out as out
from wheelyard.config import Settings
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import Unit, transaction, unit_of_work
from wheelyard.errors import NotFound
from wheelyard.storage import YardStore, open_store


@dataclass
class Yard:
    settings: Settings
    session: Session  # the command's unit of work
    store: YardStore
    sessions: sessionmaker[Session]
    new: bool = False  # made by this command (--create)

    def unit(self) -> AbstractContextManager[Unit]:
        """A further unit of work, committed on its own when its block ends."""
        return unit_of_work(self.sessions)


def describe(settings: Settings) -> str:
    """The yard as the user named it: its data directory, or, when the database or the files
    live elsewhere, the database URL (password hidden) and the storage."""
    default_db = f"sqlite:///{settings.data_dir / 'yard.db'}"
    if settings.database_url == default_db and settings.storage_url == str(
        settings.data_dir / "files"
    ):
        return str(settings.data_dir)
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"database {database} (files {settings.storage_url})"


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _has_schema(engine: Engine) -> bool:
    with engine.connect() as conn:
        return inspect(conn).has_table("alembic_version")


def _sqlite_has_schema(path: Path) -> bool:
    """Read-only, before the engine (whose set-up writes): is this file a yard's database?"""
    if not path.is_file():
        return False
    uri = f"file:{pathname2url(str(path))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    return found is not None


@contextmanager
def open_yard(settings: Settings, create: bool = False, announce: bool = True) -> Iterator[Yard]:
    """The yard's database (migrated) and store; the command's unit commits on success, and
    then stderr names the yard (when ``announce``). Without ``create`` a yard that does not
    exist yet (no database file, or a database without wheelyard's tables) is refused, and
    nothing is made."""
    where = describe(settings)
    refusal = NotFound(
        f"there is no yard in {where}: give --create to make a new one there, "
        "or --data-dir (WHEELYARD_DATA_DIR) to name an existing one"
    )
    path = _sqlite_file(settings.database_url)
    if path is not None:  # decided before make_engine, which makes the folder and the file
        new = not _sqlite_has_schema(path)
        if new and not create:
            raise refusal
    engine = make_engine(settings.database_url)
    try:
        if path is None:
            new = not _has_schema(engine)
            if new and not create:
                raise refusal
        migrate(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as session, transaction(session):
            yield Yard(settings, session, open_store(settings.storage_url), sessions, new)
    finally:
        engine.dispose()
    if announce:
        err.print(f"yard: {where}" + (" (new)" if new else ""), markup=False)


def add_group(sub: Subcommands, name: str, help_text: str) -> Subcommands:
    """A command group (``wheelyard token …``); its commands come from ``add_command``."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    group: Subcommands = parser.add_subparsers(dest="action", required=True)
    return group


def add_command(
    group: Subcommands, name: str, help_text: str, description: str | None = None
) -> argparse.ArgumentParser:
    """An admin command: it acts on an existing yard, or makes one with ``--create``."""
    parser: argparse.ArgumentParser = group.add_parser(
        name, help=help_text, description=description or help_text
    )
    parser.add_argument(
        "--create",
        action="store_true",
        help="make a new, empty yard if there is none yet (else refused: a typo in the data "
        "directory must not start a second yard)",
    )
    return parser
