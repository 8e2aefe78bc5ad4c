"""What every admin command shares: settings, a database session and the blob store.

A command is one unit of work (``db.unit``): it commits once, when it succeeds. A command that
needs several (``import``: one per file) opens them with ``Yard.unit``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from wheelyard.cli.terminal import SafeConsole
from wheelyard.config import Settings
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import Unit, transaction, unit_of_work
from wheelyard.storage import YardStore, open_store

# Piped output (scripts, CI) gets a wide table rather than rich's 80-column default. Names,
# messages and file names are user-controlled: both consoles print every string literally.
out = SafeConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = SafeConsole(stderr=True, soft_wrap=True)


@dataclass
class Yard:
    settings: Settings
    session: Session  # the command's unit of work
    store: YardStore
    sessions: sessionmaker[Session]

    def unit(self) -> AbstractContextManager[Unit]:
        """A further unit of work, committed on its own when its block ends."""
        return unit_of_work(self.sessions)


@contextmanager
def open_yard(settings: Settings) -> Iterator[Yard]:
    """The yard's database (migrated if new) and store; the command's unit commits on success."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    try:
        sessions = make_sessionmaker(engine)
        with sessions() as session, transaction(session):
            yield Yard(settings, session, open_store(settings.storage_url), sessions)
    finally:
        engine.dispose()


def add_command(
    group: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_text: str,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    return parser
