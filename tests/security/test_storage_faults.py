"""Storage faults are clear: a full disk answers 507 and stores nothing; a damaged blob is never
served as good (nor cached as immutable) and ``wheelyard check`` names it; ``check --repair``
collects only old orphans, never live stages or uploads in flight."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Yard, start_yard, stop_yard, upload
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def own_yard(tmp_path: Path) -> Iterator[Yard]:
    """A yard of its own: these tests damage its storage on purpose."""
    y = start_yard(tmp_path / "data")
    yield y
    stop_yard(y)


def _blobs(files: Path) -> list[Path]:
    return sorted(p for p in files.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_full_disk_answers_507_and_stores_nothing(tiny_disk: Path, tmp_path: Path) -> None:
    y = start_yard(tmp_path / "data", {"WHEELYARD_STORAGE_URL": str(tiny_disk)})
    try:
        token = y.user("fuller")
        big = make_wheel(tmp_path, "roomy", "1.0", padding=3 * 1024 * 1024)
        r = upload(y, "fuller/", token, big, check=False)
        assert r.status_code == 507, r.text
        assert "full" in r.json()["error"] and "nothing was stored" in r.json()["error"]
        assert httpx.get(f"{y.url}/fuller/simple/roomy/").status_code == 404
        assert _blobs(tiny_disk) == []  # no blob, no staging file left behind
        assert list((tiny_disk / ".staging").glob("*")) == []
        assert y.cli("check").returncode == 0
        # The yard recovers once there is room: a small file goes through.
        small = make_wheel(tmp_path, "roomy", "2.0")
        upload(y, "fuller/", token, small)
        assert y.cli("check").returncode == 0
    finally:
        stop_yard(y)


def test_full_database_disk_answers_507_and_stores_nothing(tiny_disk: Path, tmp_path: Path) -> None:
    """The database (SQLite) on a disk that fills up: the upload's transaction fails, the
    answer is 507 with a message, nothing is listed, and the yard recovers once there is room."""
    env = {"WHEELYARD_DATABASE_URL": f"sqlite:///{tiny_disk / 'yard.db'}"}
    y = start_yard(tmp_path / "data", env)
    try:
        token = y.user("dbfull")
        filler = tiny_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # take every free byte of the tmpfs
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        wheel = make_wheel(tmp_path, "dbfull-pkg", "1.0", summary="x" * 20000)
        r = upload(y, "dbfull/", token, wheel, check=False)
        assert r.status_code == 507, r.text
        assert "disk is full" in r.json()["error"] and "nothing was stored" in r.json()["error"]
        filler.unlink()
        assert httpx.get(f"{y.url}/dbfull/simple/dbfull-pkg/").status_code == 404
        upload(y, "dbfull/", token, wheel)
        assert httpx.get(f"{y.url}/dbfull/simple/dbfull-pkg/").status_code == 200
        assert y.cli("check").returncode == 0
    finally:
        stop_yard(y)


def _download_urls(y: Yard, owner: str, project: str) -> tuple[str, str]:
    page = httpx.get(f"{y.url}/{owner}/simple/{project}/", headers=JSON).json()
    url = str(httpx.URL(f"{y.url}/{owner}/simple/{project}/").join(page["files"][0]["url"]))
    return url, url.split("#")[0] + ".metadata"


@pytest.mark.parametrize("damage", ["flip", "truncate", "metadata"])
def test_damaged_blob_is_not_served_as_good(own_yard: Yard, tmp_path: Path, damage: str) -> None:
    y = own_yard
    token = y.user("dana")
    wheel = make_wheel(tmp_path, "dented", "1.0")
    upload(y, "dana/", token, wheel)
    url, meta_url = _download_urls(y, "dana", "dented")
    good = httpx.get(url)
    assert good.status_code == 200 and "immutable" in good.headers["cache-control"]
    assert (
        hashlib.sha256(good.content).hexdigest() == hashlib.sha256(wheel.read_bytes()).hexdigest()
    )

    blobs = _blobs(y.data_dir / "files")
    blob = next(p for p in blobs if (p.suffix == ".metadata") == (damage == "metadata"))
    data = bytearray(blob.read_bytes())
    if damage == "truncate":
        blob.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0x01  # same size, one bit off
        blob.write_bytes(bytes(data))

    r = httpx.get(meta_url if damage == "metadata" else url)
    assert r.status_code == 503, (r.status_code, r.headers)
    assert "damaged" in r.json()["error"]
    assert "immutable" not in r.headers.get("cache-control", "")
    assert "etag" not in r.headers
    result = y.cli("check", check=False)
    assert result.returncode == 1
    kind = "size:" if damage == "truncate" else "hash:"
    assert kind in result.stdout and blob.name in result.stdout


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_repair_collects_only_old_orphans(own_yard: Yard, tmp_path: Path) -> None:
    """An old orphan (a crash's leftover) is reported and collected; a fresh one (an upload in
    flight), a live stage's bytes and every committed file are neither."""
    y = own_yard
    token = y.user("orla")
    kept = make_wheel(tmp_path, "orphaned", "1.0")
    upload(y, "orla/", token, kept)
    files = y.data_dir / "files"
    committed = _blobs(files)

    # A live staged transfer: bytes received, commit still to come.
    staged = make_wheel(tmp_path, "orphaned", "2.0")
    sha = hashlib.sha256(staged.read_bytes()).hexdigest()
    api = {"Authorization": f"token {token}"}
    ticket = httpx.post(
        f"{y.url}/api/stage/orla/orphaned/2.0/{staged.name}",
        json={"sha256": sha, "channels": ["main"]},
        headers=api,
    ).json()
    sent = httpx.post(
        ticket["post_url"],
        data=ticket["form_data"],
        files={"file": (staged.name, staged.read_bytes())},
    )
    assert sent.status_code == 201, sent.text
    stage_blob = next(p for p in _blobs(files) if p.name == sha)

    old = files / "orphaned" / "ab" / ("ab" * 32)
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"left by a crash")
    fresh = files / "orphaned" / "cd" / ("cd" * 32)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"an upload in flight")
    for path in [*committed, stage_blob, old]:
        _age(path, 3 * 3600)  # all well past the grace period

    report = y.cli("check", check=False)
    assert report.returncode == 1
    assert report.stdout.count("orphan:") == 1 and old.name in report.stdout, report.stdout

    repaired = y.cli("check", "--repair")
    assert old.name in repaired.stdout and "deleted 1 orphan" in repaired.stdout
    assert not old.exists()
    assert fresh.exists() and stage_blob.exists() and all(p.exists() for p in committed)
    assert "ok:" in repaired.stdout

    # The stage still commits from its kept bytes, and the old file still downloads.
    done = httpx.post(
        f"{y.url}/api/commit/orla/orphaned/2.0/{staged.name}",
        json={"dist_id": ticket["dist_id"]},
        headers=api,
    )
    assert done.status_code == 200, done.text
    url, _meta = _download_urls(y, "orla", "orphaned")
    assert httpx.get(url).status_code == 200
    assert y.cli("check").returncode == 0
