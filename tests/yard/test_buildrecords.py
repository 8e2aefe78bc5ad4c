"""Build records beside a label (yard/buildrecords.py): stored and replaced under their key,
as private as their label, written only with the upload scope on the owner, a label keeping
its newest few."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wheelyard.db.models import BuildRecord
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from wheelyard.yard import accounts, buildrecords, labels
from wheelyard.yard.tokens import Principal, authenticate, create_token

KEY = "a" * 64


@pytest.fixture
def session(tmp_path: Path) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    return make_sessionmaker(engine)()


def _principal(session: Session, user: str, scopes: str) -> Principal:
    with transaction(session):
        owner = accounts.get_owner(session, user)
        _token, secret = create_token(session, owner, f"t-{scopes}", scopes)
    return authenticate(session, secret)


@pytest.fixture
def alice(session: Session) -> Principal:
    with transaction(session):
        owner = accounts.create_user(session, "alice", "long enough password")
        accounts.create_user(session, "bob", "long enough password")
        labels.get_label(session, owner, "dev", create=True)
    return _principal(session, "alice", "pypi:upload")


def test_written_read_and_replaced(session: Session, alice: Principal) -> None:
    with transaction(session):
        buildrecords.write_record(session, alice, "alice", "dev", KEY, {"verified": {"a": "1"}})
    assert buildrecords.read_record(session, None, "alice", "dev", KEY) == {"verified": {"a": "1"}}
    with transaction(session):
        buildrecords.write_record(session, alice, "alice", "dev", KEY, {"verified": {}})
    assert buildrecords.read_record(session, None, "alice", "dev", KEY) == {"verified": {}}
    with pytest.raises(NotFound, match="no build record"):
        buildrecords.read_record(session, None, "alice", "dev", "b" * 64)


def test_as_private_as_the_label(session: Session, alice: Principal) -> None:
    with transaction(session):
        buildrecords.write_record(session, alice, "alice", "dev", KEY, {"x": 1})
        labels.set_private(session, accounts.get_owner(session, "alice"), "dev", True)
    reader = _principal(session, "alice", "pypi:download")
    assert buildrecords.read_record(session, reader, "alice", "dev", KEY) == {"x": 1}
    bob = _principal(session, "bob", "all")
    # Anyone else: exactly the answer of a label that does not exist.
    for who in (None, bob):
        with pytest.raises(NotFound) as hidden:
            buildrecords.read_record(session, who, "alice", "dev", KEY)
        with pytest.raises(NotFound) as missing:
            buildrecords.read_record(session, who, "alice", "nolabel", KEY)
        assert str(hidden.value) == str(missing.value).replace("nolabel", "dev")


def test_writers_need_upload_on_the_owner(session: Session, alice: Principal) -> None:
    with pytest.raises(Unauthenticated):
        buildrecords.write_record(session, None, "alice", "dev", KEY, {})
    weak = _principal(session, "alice", "pypi:download")
    with pytest.raises(Forbidden, match="lacks scope 'pypi:upload'"):
        buildrecords.write_record(session, weak, "alice", "dev", KEY, {})
    bob = _principal(session, "bob", "all")
    with pytest.raises(Forbidden, match="bob"):
        buildrecords.write_record(session, bob, "alice", "dev", KEY, {})
    with pytest.raises(InvalidInput, match="sha256"):
        buildrecords.write_record(session, alice, "alice", "dev", "not-a-key", {})
    with pytest.raises(InvalidInput, match="JSON object"):
        buildrecords.write_record(session, alice, "alice", "dev", KEY, [1])
    with pytest.raises(NotFound, match="no label 'nolabel'"):
        buildrecords.write_record(session, alice, "alice", "nolabel", KEY, {})


def test_a_label_keeps_its_newest(session: Session, alice: Principal) -> None:
    keys = [f"{n:064x}" for n in range(buildrecords.KEEP + 3)]
    for key in keys:
        with transaction(session):
            buildrecords.write_record(session, alice, "alice", "dev", key, {"k": key})
    assert session.scalar(select(func.count()).select_from(BuildRecord)) == buildrecords.KEEP
    assert buildrecords.read_record(session, alice, "alice", "dev", keys[-1]) == {"k": keys[-1]}
    with pytest.raises(NotFound):
        buildrecords.read_record(session, alice, "alice", "dev", keys[0])
