"""A yard in a temporary folder (SQLite + a folder store) with user alice, and a helper that
adds one wheel to her label ``main``: what the snapshot tests export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.importer import import_file


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with make_sessionmaker(engine)() as s:
        with transaction(s):
            accounts.create_user(s, "alice", "long enough password")
        yield s
    engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "files")


def add_wheel(
    session: Session,
    store: LocalStore,
    tmp: Path,
    name: str,
    version: str,
    requires: list[str] | None = None,
) -> Path:
    """Import a new wheel of ``name`` ``version`` into alice's ``main``; returns the wheel."""
    folder = tmp / f"{name}-{version}"
    folder.mkdir()
    wheel = make_wheel(folder, name, version, requires=requires or [])
    with transaction(session):
        import_file(session, store, accounts.get_owner(session, "alice"), ["main"], wheel)
    return wheel
