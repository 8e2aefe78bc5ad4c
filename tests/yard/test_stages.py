"""Staged transfers at the domain level: expiry leaves nothing behind, secrets are single-use."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from wheelyard.db.models import Stage, utcnow
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.errors import Conflict, Forbidden, InvalidInput
from wheelyard.storage.local import LocalStore
from wheelyard.storage.staging import StagedFile
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.integrity import check, collect_garbage
from wheelyard.yard.stages import commit_stage, create_stage, expire_stages, receive
from wheelyard.yard.tokens import authenticate, create_token


@pytest.fixture
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    session: Session = make_sessionmaker(engine)()
    store = LocalStore(tmp_path / "files")
    with transaction(session):
        user = accounts.create_user(session, "sam", "long enough password")
        _t, secret = create_token(session, user, "t", "api:write")
    return session, store, user, authenticate(session, secret)


def _send(store: LocalStore, wheel: Path):  # type: ignore[no-untyped-def]
    staged = StagedFile(store.root / ".staging")
    staged.write(wheel.read_bytes())
    staged.finish()
    return staged


def test_abandoned_stage_expires_without_trace(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session, store, user, principal = setup
    wheel = make_wheel(tmp_path, "stg", "1.0")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with transaction(session):
        ticket = create_stage(
            session, store, principal, user, "stg", "1.0", wheel.name, sha, ["dev"]
        )
    with pytest.raises(Forbidden), transaction(session):
        receive(session, store, ticket.dist_id, "wrong", _send(store, wheel), None, None)
    with transaction(session):
        receive(
            session,
            store,
            ticket.dist_id,
            ticket.secret,
            _send(store, wheel),
            str(wheel.stat().st_size),
            None,
        )
    with pytest.raises(Conflict, match="already used"), transaction(session):
        receive(session, store, ticket.dist_id, ticket.secret, _send(store, wheel), None, None)
    assert list(check(session, store)) == []  # received, not committed: live, not an orphan
    with transaction(session):
        stage = session.get(Stage, ticket.dist_id)
        assert stage is not None
        stage.expires_at = utcnow() - timedelta(seconds=1)
    with transaction(session):
        assert expire_stages(session, store) == 1
    assert list(check(session, store)) == []  # unreferenced now, but younger than the grace
    for key in store.iter_keys():  # an hour later, the collector takes the bytes
        path = store.local_path(key)
        assert path is not None
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    assert [p.kind for p in check(session, store)] == ["orphan"]
    assert collect_garbage(session, store, 3600).deleted
    assert list(check(session, store)) == []
    assert not list(store.iter_keys())


def test_announced_size_and_name_are_bound(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session, store, user, principal = setup
    wheel = make_wheel(tmp_path, "stg", "1.0")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with pytest.raises(InvalidInput, match="does not belong to package"), transaction(session):
        create_stage(session, store, principal, user, "other", "1.0", wheel.name, sha, [])
    with transaction(session):
        ticket = create_stage(session, store, principal, user, "stg", "1.0", wheel.name, sha, [])
    with pytest.raises(InvalidInput, match="announced 5"), transaction(session):
        receive(session, store, ticket.dist_id, ticket.secret, _send(store, wheel), "5", None)
    with transaction(session):
        receive(session, store, ticket.dist_id, ticket.secret, _send(store, wheel), None, None)
    with transaction(session):
        stored = commit_stage(session, store, principal, user, ticket.dist_id, wheel.name)
    assert stored.outcome == "created" and session.get(Stage, ticket.dist_id) is None
    assert list(check(session, store)) == []
