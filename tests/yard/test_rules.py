"""Scopes, names and tokens: the small rules the APIs share."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from wheelyard.db.models import Token, utcnow
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from wheelyard.yard import accounts
from wheelyard.yard.names import check_label_name, check_owner_name
from wheelyard.yard.scopes import READ, UPLOAD, grants, grants_any, parse_scopes
from wheelyard.yard.tokens import authenticate, create_token, hash_secret, revoke_token


def test_scope_hierarchy() -> None:
    assert grants(["all"], "pypi:upload")
    assert grants(["pypi"], "pypi:upload") and grants(["pypi"], "pypi:download")
    assert grants(["api:write"], "api:write") and not grants(["api:read"], "api:write")
    assert grants_any(["api:write"], UPLOAD) and not grants_any(["pypi:download"], UPLOAD)
    assert grants_any(["pypi:download"], READ) and not grants_any(["pypi:upload"], READ)


def test_unknown_scope_is_named() -> None:
    with pytest.raises(InvalidInput, match="pypi:uplaod"):
        parse_scopes("api:write pypi:uplaod")
    assert parse_scopes("api:write  pypi:upload api:write") == ("api:write", "pypi:upload")


def test_names() -> None:
    assert check_owner_name("Alice") == "alice"
    for bad in ("api", "t", "", "-x", "a/b", "x" * 65):
        with pytest.raises(InvalidInput):
            check_owner_name(bad)
    assert check_label_name("release-2026-11") == "release-2026-11"
    for bad in ("", "a/b", "..", "-dev", "dev."):
        with pytest.raises(InvalidInput):
            check_label_name(bad)


@pytest.fixture
def session(tmp_path: Path) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    return make_sessionmaker(engine)()


def test_token_lifecycle(session: Session) -> None:
    with transaction(session):
        user = accounts.create_user(session, "alice", "long enough password")
        token, secret = create_token(session, user, "ci", "pypi:upload", max_age=3600)
    assert token.secret_hash == hash_secret(secret) and secret not in token.secret_hash
    principal = authenticate(session, secret)
    assert principal.user_name == "alice" and principal.scopes == ("pypi:upload",)
    with pytest.raises(Conflict, match="already has a token named 'ci'"):
        create_token(session, user, "ci", "api:read")
    with pytest.raises(Unauthenticated):
        authenticate(session, secret + "x")
    with transaction(session):
        token.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(session, secret)
    with transaction(session):
        revoke_token(session, user, "ci")
    assert session.query(Token).count() == 0
    with pytest.raises(NotFound):
        revoke_token(session, user, "ci")


def test_passwords_and_users(session: Session) -> None:
    with pytest.raises(InvalidInput, match="too short"):
        accounts.create_user(session, "bob", "short")
    with transaction(session):
        accounts.create_user(session, "bob", "long enough password")
    with pytest.raises(Conflict):
        accounts.create_user(session, "Bob", "long enough password")
    assert accounts.login(session, "bob", "long enough password").name == "bob"
    with pytest.raises(Unauthenticated):
        accounts.login(session, "bob", "wrong password!")
    with pytest.raises(Unauthenticated):
        accounts.login(session, "nobody", "wrong password!")
