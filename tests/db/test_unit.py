"""One unit of work per request and per command: services only flush, the edge commits once.

Real SQLite database and real services throughout; what a unit did is read back through a
new session, so only committed state counts.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import wheelyard
from wheelyard.db.models import Event, File, Owner, Stage
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import (
    after_commit,
    commit_then_raise,
    if_failed,
    transaction,
    unit_of_work,
)
from wheelyard.errors import Conflict, InvalidInput
from wheelyard.storage.local import LocalStore
from wheelyard.storage.staging import StagedFile
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard import labels as ops
from wheelyard.yard.importer import import_file
from wheelyard.yard.removal import remove_files
from wheelyard.yard.stages import commit_stage, create_stage, receive
from wheelyard.yard.tokens import authenticate, create_token

SRC = Path(wheelyard.__file__).parent
PASSWORD = "long enough password"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'yard.db'}")
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_failure_after_the_services_leaves_nothing_stored(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Account, upload, label copy and removal in one unit, then an error: none of it stays,
    neither rows nor audit events (each service used to commit on its own)."""
    store = LocalStore(tmp_path / "files")
    wheel = make_wheel(tmp_path, "atomic", "1.0")
    with pytest.raises(RuntimeError, match="edge fails"), unit_of_work(sessions) as unit:
        s = unit.session
        alice = accounts.create_user(s, "alice", PASSWORD)
        stored = import_file(s, store, alice, ["main"], wheel)
        assert stored.outcome == "created"
        assert ops.copy_label(s, alice, "main", "stable", "alice") == 1
        remove_files(s, store, alice, [s.get(File, stored.file_id)], "alice")  # type: ignore[list-item]
        raise RuntimeError("the edge fails after every service returned")
    assert _count(sessions, Owner) == 0
    assert _count(sessions, File) == 0
    assert _count(sessions, Event) == 0

    with unit_of_work(sessions) as unit:  # the same calls without the error all stay
        alice = accounts.create_user(unit.session, "alice", PASSWORD)
        import_file(unit.session, store, alice, ["main"], wheel)
    assert _count(sessions, Owner) == 1
    assert _count(sessions, File) == 1


def test_after_commit_runs_once_and_only_after_the_commit(
    sessions: sessionmaker[Session],
) -> None:
    seen: list[int] = []

    def deleted_blob() -> None:  # stands for a blob deletion: the commit must be visible
        seen.append(_count(sessions, Owner))

    with unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "alice", PASSWORD)
        after_commit(unit.session, deleted_blob)
        assert seen == []
    assert seen == [1]

    with pytest.raises(Conflict), unit_of_work(sessions) as unit:
        after_commit(unit.session, deleted_blob)
        accounts.create_user(unit.session, "alice", PASSWORD)  # taken: the unit fails
    assert seen == [1], "a rolled-back unit never runs its after-commit steps"


def test_if_failed_runs_in_a_unit_of_its_own_after_the_rollback(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "alice", PASSWORD)

    def note(s: Session) -> None:
        accounts.create_user(s, "bob", PASSWORD)

    with pytest.raises(InvalidInput), unit_of_work(sessions) as unit:
        if_failed(unit.session, note)
        accounts.create_org(unit.session, "acme", "alice")
        raise InvalidInput("refused")
    with sessions() as s:
        names = set(s.scalars(select(Owner.name)))
    assert names == {"alice", "bob"}, "the org rolled back, the failure's own unit stayed"


def test_commit_then_raise_keeps_the_work_and_the_error(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(Conflict, match="kept"), unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "alice", PASSWORD)
        raise commit_then_raise(unit.session, Conflict("kept"))
    assert _count(sessions, Owner) == 1


def test_a_lost_race_in_a_savepoint_keeps_the_rest_of_the_unit(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "alice", PASSWORD)
    with unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "bob", PASSWORD)
        with pytest.raises(Conflict):
            accounts.create_user(unit.session, "alice", PASSWORD)
    with sessions() as s:
        assert set(s.scalars(select(Owner.name))) == {"alice", "bob"}


def test_commits_outside_a_unit_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        accounts.create_user(s, "alice", PASSWORD)
        with pytest.raises(RuntimeError, match="outside a unit of work"):
            s.commit()
    with pytest.raises(RuntimeError, match="outside a unit"), unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "bob", PASSWORD)
        unit.session.commit()  # what a service must never do
    assert _count(sessions, Owner) == 0
    with (
        sessions() as s,
        transaction(s),
        pytest.raises(RuntimeError, match="do not nest"),
        transaction(s),
    ):
        pass


def test_a_failed_staged_commit_uses_up_its_stage_and_stores_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The two-phase Anaconda transfer: the commit fails (the bytes are no wheel), its own
    writes roll back, and forgetting the stage commits in a unit of its own."""
    store = LocalStore(tmp_path / "files")
    with unit_of_work(sessions) as unit:
        sam = accounts.create_user(unit.session, "sam", PASSWORD)
        _t, secret = create_token(unit.session, sam, "t", "api:write")
    bogus = b"not a zip at all"
    name = "stg-1.0-py3-none-any.whl"
    with unit_of_work(sessions) as unit:
        sam = accounts.get_owner(unit.session, "sam")
        principal = authenticate(unit.session, secret)
        sha = hashlib.sha256(bogus).hexdigest()
        ticket = create_stage(unit.session, store, principal, sam, "stg", "1.0", name, sha, [])
    with unit_of_work(sessions) as unit, StagedFile(tmp_path / "staging") as staged:
        staged.write(bogus)
        staged.finish()
        receive(unit.session, store, ticket.dist_id, ticket.secret, staged, None, None)
    with pytest.raises(InvalidInput), unit_of_work(sessions) as unit:
        sam = accounts.get_owner(unit.session, "sam")
        commit_stage(unit.session, store, principal, sam, ticket.dist_id, name)
    assert _count(sessions, Stage) == 0
    assert _count(sessions, File) == 0


# ------------------------------------------------------------- the rule, checked in the code


def _calls(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, receiver, method) of every ``<receiver>.<method>(...)`` call in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node.lineno, ast.unparse(node.func.value), node.func.attr


def test_only_the_unit_of_work_commits_or_rolls_back() -> None:
    """Services (``yard/``), surfaces (``web/``, ``cli/``) and the rest never end a
    transaction themselves: ``db/unit.py`` does, at the edge."""
    allowed = {SRC / "db" / "unit.py"}
    found = [
        f"{path.relative_to(SRC)}:{line}: {receiver}.{method}()"
        for path in sorted(SRC.rglob("*.py"))
        if path not in allowed and "migrations" not in path.parts
        for line, receiver, method in _calls(path)
        if method in ("commit", "rollback")
    ]
    assert found == []


def test_surfaces_make_no_orm_writes() -> None:
    """``web/`` and ``cli/`` call services in ``yard/``; the rows they change are the
    services' business (one rule, one place)."""
    writes = ("add", "add_all", "delete", "merge", "execute", "flush", "begin_nested")
    found = [
        f"{path.relative_to(SRC)}:{line}: {receiver}.{method}()"
        for folder in ("web", "cli")
        for path in sorted((SRC / folder).rglob("*.py"))
        for line, receiver, method in _calls(path)
        if method in writes and receiver.split(".")[-1] == "session"
    ]
    assert found == []
