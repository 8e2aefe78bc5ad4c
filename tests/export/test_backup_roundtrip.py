"""A whole yard backed up with ``export --all`` and restored with ``import --from`` on the
other backends answers exactly as the original: every simple page (HTML and JSON, anonymous
and with a token) byte for byte, every blob's sha256, passwords and tokens."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import (
    BIN,
    JSON,
    PASSWORD,
    Yard,
    run,
    start_yard,
    stop_yard,
    upload,
)
from tests.postgres import new_database
from tests.s3server import new_bucket, yard_env
from wheelyard.storage import open_store
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

OWNERS = ("alice", "bob", "team")
LABELS = ("main", "stable", "secret")
PROJECTS = ("alpha", "beta", "gamma", "nothing")
HTML = {"Accept": "text/html"}


def _build_source(yard: Yard, tmp: Path) -> dict[str, str]:
    """Users, an org with a member, tokens, public/private/locked labels, a yank, events."""
    tokens = {"alice": yard.user("alice"), "bob": yard.user("bob")}
    tokens["reader"] = yard.token("bob", "reader", "pypi:download api:read")
    yard.cli("org", "create", "team", "--owner", "alice")
    yard.cli("org", "add-member", "team", "bob")
    wheels = tmp / "wheels"
    wheels.mkdir()
    for owner, name, version in (
        ("alice", "alpha", "1.0"),
        ("alice", "alpha", "1.1"),
        ("alice", "beta", "2.0"),
        ("team", "gamma", "0.1"),
        ("bob", "alpha", "9.0"),
    ):
        folder = wheels / f"{owner}-{name}-{version}"
        folder.mkdir()
        dist = make_wheel(folder, name, version, requires_python=">=3.8")
        upload(yard, owner, tokens["bob" if owner != "alice" else "alice"], dist)
    yard.cli("label", "copy", "alice", "main", "stable")
    yard.cli("label", "copy", "alice", "main", "secret")
    yard.cli("label", "private", "alice", "secret")
    yard.cli("yank", "alice", "alpha", "1.0", "--reason", "broken build")
    yard.cli("yank", "alice", "beta", "2.0", "--label", "stable")
    yard.cli("label", "lock", "alice", "stable")
    yard.cli("owner", "private", "bob")
    yard.cli("label", "copy", "team", "main", "gone")
    yard.cli("label", "remove", "team", "gone")  # an event
    return tokens


def _pages(url: str, token: str | None) -> dict[str, tuple[int, bytes]]:
    """Every simple page the yard could answer, both formats, as status and body."""
    paths = ["/simple/"]
    for owner in OWNERS:
        for root in [f"/{owner}/simple/", f"/{owner}/all-labels/simple/"] + [
            f"/{owner}/label/{label}/simple/" for label in LABELS
        ]:
            paths += [root] + [f"{root}{p}/" for p in PROJECTS]
    auth = ("__token__", token) if token else None
    found: dict[str, tuple[int, bytes]] = {}
    with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
        for path in paths:
            for kind, headers in (("html", HTML), ("json", JSON)):
                got = client.get(path, headers=headers)
                found[f"{kind} {path}"] = (got.status_code, got.content)
    return found


def _blobs(env: dict[str, str]) -> dict[str, str]:
    """Every blob's sha256, read back through the yard's own store."""
    old = dict(os.environ)
    os.environ.update(env)
    try:
        url = env.get("WHEELYARD_STORAGE_URL") or str(Path(env["WHEELYARD_DATA_DIR"]) / "files")
        store = open_store(url)
        digests = {}
        for key in store.iter_keys():
            with store.open(key) as fh:
                digests[key] = hashlib.file_digest(fh, "sha256").hexdigest()  # type: ignore[arg-type]
        return digests
    finally:
        os.environ.clear()
        os.environ.update(old)


def _cli(env: dict[str, str], *args: str, ok: bool = True) -> tuple[int, str]:
    result = run([str(BIN / "wheelyard"), *args], env={**os.environ, **env}, check=ok)
    return result.returncode, result.stdout + result.stderr


def _same_yard(
    source: Yard,
    restored: Yard,
    tokens: dict[str, str],
    src_env: dict[str, str],
    dst_env: dict[str, str],
) -> None:
    for token in (None, tokens["alice"], tokens["reader"]):
        before, after = _pages(source.url, token), _pages(restored.url, token)
        assert after == before
        assert sum(status == 200 for status, _ in before.values()) > 20
    anonymous = _pages(source.url, None)
    assert anonymous["json /alice/label/secret/simple/alpha/"][0] == 404  # private stays so
    assert _pages(source.url, tokens["alice"])["json /alice/label/secret/simple/alpha/"][0] == 200
    assert b"broken build" in anonymous["json /alice/simple/alpha/"][1]  # the yank came along
    assert _blobs(dst_env) == _blobs(src_env) != {}
    # A password and a token still authenticate; a wrong password still does not.
    login = {"note": "after-restore", "scopes": ["pypi:download"]}
    good = httpx.post(f"{restored.url}/api/authentications", json=login, auth=("bob", PASSWORD))
    assert good.status_code == 200, good.text
    bad = httpx.post(f"{restored.url}/api/authentications", json=login, auth=("bob", "wrong pw"))
    assert bad.status_code == 401
    who = httpx.get(
        f"{restored.url}/api/user", headers={"Authorization": f"token {tokens['alice']}"}
    )
    assert who.status_code == 200 and who.json()["login"] == "alice"
    # The lock, the org membership and the events came along too.
    assert "locked" in _cli(dst_env, "label", "list", "alice")[1]
    assert (
        _cli(dst_env, "events", "team")[1].split("yard:")[0]
        == _cli(src_env, "events", "team")[1].split("yard:")[0]
    )


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Yard, dict[str, str], dict[str, str]]]:
    data = tmp_path / "src"
    yard = start_yard(data, {"WHEELYARD_AUTH_FAILURES_PER_CLIENT": "1000"})
    tokens = _build_source(yard, tmp_path)
    yield yard, tokens, {"WHEELYARD_DATA_DIR": str(data)}
    stop_yard(yard)


def test_sqlite_folder_to_postgres_s3_and_back(
    source: tuple[Yard, dict[str, str], dict[str, str]],
    postgres: str,
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    src, tokens, src_env = source
    backup_bucket = new_bucket(s3_endpoint, versioned=False)
    s3 = {
        k: v
        for k, v in yard_env(s3_endpoint, backup_bucket).items()
        if k != "WHEELYARD_STORAGE_URL"
    }
    to = f"s3://{backup_bucket}/backups/one"
    code, said = _cli({**src_env, **s3}, "export", "--all", "--to", to)
    assert "blob(s)" in said

    dst_env = {
        "WHEELYARD_DATA_DIR": str(tmp_path / "dst"),
        "WHEELYARD_DATABASE_URL": new_database(postgres),
        "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "1000",
        **yard_env(s3_endpoint, new_bucket(s3_endpoint)),
    }
    _cli(dst_env, "import", "--from", to, "--create")
    # Restoring twice is refused: the yard is no longer empty.
    code, said = _cli(dst_env, "import", "--from", to, ok=False)
    assert code == 1 and "not empty" in said and "Traceback" not in said
    restored = start_yard(tmp_path / "dst", dst_env)
    try:
        _same_yard(src, restored, tokens, src_env, dst_env)
        # And back: PostgreSQL + S3 into a folder, restored on SQLite + a folder.
        folder = tmp_path / "backup-two"
        _cli(dst_env, "export", "--all", "--to", str(folder))
        back_env = {"WHEELYARD_DATA_DIR": str(tmp_path / "back")}
        _cli(back_env, "import", "--from", str(folder), "--create")
        back = start_yard(tmp_path / "back", back_env)
        try:
            _same_yard(src, back, tokens, src_env, back_env)
        finally:
            stop_yard(back)
        # The restored PostgreSQL yard goes on: new ids come after the restored ones.
        restored.cli("user", "create", "carol", "--password-stdin", input=PASSWORD + "\n")
        carol = restored.token("carol", "t0", "pypi:upload pypi:download")
        later = tmp_path / "later"
        later.mkdir()
        upload(restored, "carol", carol, make_wheel(later, "delta", "1.0"))
        assert "delta-1.0" in httpx.get(f"{restored.url}/carol/simple/delta/").text
        # An incomplete backup (no manifest) is refused with one line, and makes no yard.
        (folder / "manifest.json").unlink()
        code, said = _cli(
            {"WHEELYARD_DATA_DIR": str(tmp_path / "none")},
            "import",
            "--from",
            str(folder),
            "--create",
            ok=False,
        )
        assert code == 1 and "not a complete wheelyard backup" in said
        assert len(said.strip().splitlines()) == 1 and not (tmp_path / "none").exists()
    finally:
        stop_yard(restored)
