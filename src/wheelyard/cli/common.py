"""What every admin command shares: settings, a database session and the blob store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from wheelyard.cli.terminal import SafeConsole
from wheelyard.config import Settings
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.storage import YardStore, open_store

# Piped output (scripts, CI) gets a wide table rather than rich's 80-column default. Names,
# messages and file names are user-controlled: both consoles print every string literally.
out = SafeConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = SafeConsole(stderr=True, soft_wrap=True)


@dataclass
class Yard:
    settings: Settings
    session: Session
    store: YardStore


@contextmanager
def open_yard(settings: Settings) -> Iterator[Yard]:
    """A session on the yard's database (migrated if new) and its store; commits on success."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    try:
        with make_sessionmaker(engine)() as session:
            yield Yard(settings, session, open_store(settings.storage_url))
            session.commit()
    finally:
        engine.dispose()


def add_command(
    group: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_text: str,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    return parser
