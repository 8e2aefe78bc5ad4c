"""The snapshot's manifest and journal: an incremental export knows what the target holds
without listing it (no ListObjects on S3, counted on the export's own boto3 client); an export
killed after any number of writes is finished by the next one, which leaves exactly the
snapshot's objects; a missing, damaged or foreign manifest falls back to listing and still
converges. Each on a folder and on a real S3 server (moto_server, e2e)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.export.conftest import add_wheel
from tests.helpers import pip_install
from tests.s3server import CREDENTIALS, new_bucket
from wheelyard.db.models import File
from wheelyard.db.unit import transaction
from wheelyard.errors import Conflict
from wheelyard.export import targets
from wheelyard.export.manifest import JOURNAL, MANIFEST, load
from wheelyard.export.snapshot import export_label
from wheelyard.export.targets import FolderTarget, S3Target, Target
from wheelyard.storage.local import LocalStore
from wheelyard.yard import accounts
from wheelyard.yard.removal import remove_files

KINDS = ["folder", pytest.param("s3", marks=pytest.mark.e2e)]


class Killed(Exception):
    """The fault injected: the export process dies here."""


class Recording:
    """A target passed through, counting its calls; with ``kill_at``, the write (put or
    delete) of that number raises instead of happening, as if the process died there."""

    def __init__(self, inner: Target, kill_at: int | None = None) -> None:
        self.inner, self.kill_at = inner, kill_at
        self.calls: Counter[str] = Counter()
        self.writes = 0

    def _write(self, what: str) -> None:
        self.calls[what] += 1
        if self.kill_at is not None and self.writes == self.kill_at:
            raise Killed
        self.writes += 1

    def keys(self) -> set[str]:
        self.calls["keys"] += 1
        return self.inner.keys()

    def read(self, key: str) -> bytes | None:
        self.calls["read"] += 1
        return self.inner.read(key)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def put_bytes(self, key: str, data: bytes, media_type: str) -> None:
        self._write("put")
        self.inner.put_bytes(key, data, media_type)

    def put_stream(self, key: str, stream: BinaryIO, media_type: str) -> None:
        self._write("put")
        self.inner.put_stream(key, stream, media_type)

    def delete(self, keys: list[str]) -> None:
        self._write("delete")
        self.inner.delete(keys)


class Where:
    """Fresh targets of one kind, and everything in them as ``{key: bytes}``."""

    def __init__(self, kind: str, tmp: Path, request: pytest.FixtureRequest) -> None:
        self.kind, self.tmp, self.made = kind, tmp, 0
        self.requests: list[str] = []  # S3 operations, as the export's boto3 client sent them
        if kind == "s3":
            endpoint = request.getfixturevalue("s3_endpoint")
            monkeypatch = request.getfixturevalue("monkeypatch")
            for name, value in {**CREDENTIALS, "WHEELYARD_S3_ENDPOINT_URL": endpoint}.items():
                monkeypatch.setenv(name, value)
            self.bucket = new_bucket(endpoint, versioned=False)

    def new(self) -> Target:
        self.made += 1
        if self.kind == "folder":
            return FolderTarget(self.tmp / f"export-{self.made}")
        target = targets.open_target(f"s3://{self.bucket}/snap-{self.made}")
        assert isinstance(target, S3Target)
        target.client.meta.events.register(
            "before-call.s3", lambda model, **_: self.requests.append(model.name)
        )
        return target

    def objects(self, target: Target) -> dict[str, bytes]:
        if isinstance(target, FolderTarget):
            root = target.root
            paths = [p for p in root.rglob("*") if p.is_file()]
            return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}
        assert isinstance(target, S3Target)
        s3, found = target.client, {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=target.bucket, Prefix=target.prefix
        ):
            for entry in page.get("Contents", []):
                body = s3.get_object(Bucket=target.bucket, Key=entry["Key"])["Body"]
                found[entry["Key"].removeprefix(target.prefix)] = body.read()
        return found

    def copy(self, source: Target) -> Target:
        """A new target holding exactly what ``source`` holds."""
        copy = self.new()
        for key, body in self.objects(source).items():
            copy.put_bytes(key, body, "application/octet-stream")
        return copy


@pytest.fixture(params=KINDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    return Where(request.param, tmp_path, request)


def _remove(session: Session, store: LocalStore, wheel: Path) -> None:
    alice = accounts.get_owner(session, "alice")
    files = [f for f in session.scalars(select(File)) if f.filename == wheel.name]
    with transaction(session):
        remove_files(session, store, alice, files, "alice")


def _export(session: Session, store: LocalStore, target: Target) -> Any:
    return export_label(session, store, target, "alice", "main")


def _assert_snapshot(where: Where, target: Target, cold: dict[str, bytes]) -> None:
    """``target`` holds exactly the objects its manifest names, with a cold export's bytes."""
    held = where.objects(target)
    assert JOURNAL not in held
    listed = load(target, "alice", "main")
    assert not listed.listed and not listed.uncertain
    assert set(held) == {*listed.present, MANIFEST}
    assert {k: v for k, v in held.items() if k != MANIFEST} == {
        k: v for k, v in cold.items() if k != MANIFEST
    }


def test_an_incremental_export_reads_the_manifest_and_lists_nothing(
    where: Where, session: Session, store: LocalStore, tmp_path: Path
) -> None:
    add_wheel(session, store, tmp_path, "alpha", "1.0")
    add_wheel(session, store, tmp_path, "beta", "1.0")
    inner = where.new()
    target = Recording(inner)
    _export(session, store, target)
    doc = json.loads(where.objects(inner)[MANIFEST])
    assert len(doc["files"]) == 2 and len(doc["pages"]) == 6 and doc["format"] == 2

    where.requests.clear()
    target.calls.clear()
    unchanged = _export(session, store, target)
    assert unchanged.written == [] and unchanged.deleted == []
    assert target.calls == {"read": 2}  # the manifest and the (missing) journal
    assert where.requests in ([], ["GetObject", "GetObject"])

    new = add_wheel(session, store, tmp_path, "alpha", "1.1")
    sha = hashlib.sha256(new.read_bytes()).hexdigest()
    target.calls.clear()
    where.requests.clear()
    after = _export(session, store, target)
    assert after.written == [
        f"files/{sha}/{new.name}",
        f"files/{sha}/{new.name}.metadata",
        "simple/alpha/index.html",  # the root page lists the same projects: not rewritten
        "simple/alpha/index.json",
    ]
    # Two reads (manifest, journal); the journal, the four objects, the manifest; then the
    # journal goes. No listing.
    assert target.calls == {"read": 2, "put": 6, "delete": 1}
    if where.kind == "s3":
        assert Counter(where.requests) == {"GetObject": 2, "PutObject": 6, "DeleteObjects": 1}
    assert json.loads(where.objects(inner)[MANIFEST])["files"][f"{sha}/{new.name}"] == 3

    add_wheel(session, store, tmp_path, "gamma", "1.0")
    new_project = _export(session, store, target)
    assert new_project.written[-2:] == ["simple/index.html", "simple/index.json"]
    assert "keys" not in target.calls
    cold = where.new()
    _export(session, store, cold)
    _assert_snapshot(where, inner, where.objects(cold))


def _killed_scenario(
    where: Where, session: Session, store: LocalStore, tmp: Path
) -> tuple[Target, dict[str, bytes], int]:
    """A snapshot of alpha 1.0 and gamma 1.0; then alpha 1.1 and beta 1.0 (with gamma
    removed) in the yard. Returns the old snapshot's target, the new snapshot's objects (a
    cold export) and how many writes an undisturbed incremental export makes."""
    add_wheel(session, store, tmp, "alpha", "1.0")
    gamma = add_wheel(session, store, tmp, "gamma", "1.0")
    old = where.new()
    _export(session, store, old)
    add_wheel(session, store, tmp, "alpha", "1.1")
    add_wheel(session, store, tmp, "beta", "1.0", requires=["alpha>=1.1"])
    _remove(session, store, gamma)
    cold = where.new()
    _export(session, store, cold)
    probe = Recording(where.copy(old))
    done = _export(session, store, probe)
    assert len(done.written) == 10 and len(done.deleted) == 4
    return old, where.objects(cold), probe.writes


def test_an_export_killed_after_any_write_is_finished_by_the_next(
    where: Where, session: Session, store: LocalStore, tmp_path: Path
) -> None:
    old, cold, writes = _killed_scenario(where, session, store, tmp_path)
    assert writes == 14  # journal, 4 files, 6 pages, deletion, manifest, journal's removal
    for kill_at in range(writes):
        for second_kill in (None, 3):  # killed again on the way, or not
            target = where.copy(old)
            with pytest.raises(Killed):
                _export(session, store, Recording(target, kill_at))
            if second_kill is not None:
                with contextlib.suppress(Killed):
                    _export(session, store, Recording(target, second_kill))
            finish = Recording(target)
            _export(session, store, finish)
            assert "keys" not in finish.calls, (kill_at, second_kill)  # the manifest served
            _assert_snapshot(where, target, cold)


@pytest.mark.parametrize("kill_at", [3, 5])
def test_what_a_killed_export_wrote_goes_when_it_left_the_label(
    where: Where, session: Session, store: LocalStore, tmp_path: Path, kill_at: int
) -> None:
    add_wheel(session, store, tmp_path, "alpha", "1.0")
    target = where.new()
    _export(session, store, target)
    new = add_wheel(session, store, tmp_path, "alpha", "1.1")
    # Killed after the journal and both new files (3), or also alpha's two pages (5): pages
    # that name the new file, while the manifest still has the old pages' digests — which
    # are the digests needed again once the upload is removed.
    with pytest.raises(Killed):
        _export(session, store, Recording(target, kill_at))
    assert any(key.endswith(new.name) for key in where.objects(target))
    _remove(session, store, new)
    done = _export(session, store, target)
    sha = hashlib.sha256(new.read_bytes()).hexdigest()
    assert done.deleted == [f"files/{sha}/{new.name}", f"files/{sha}/{new.name}.metadata"]
    assert not any(new.name in key for key in where.objects(target))
    cold = where.new()
    _export(session, store, cold)
    _assert_snapshot(where, target, where.objects(cold))


@pytest.mark.parametrize("damage", ["missing", "garbage", "journal garbage"])
def test_an_unusable_manifest_falls_back_to_listing(
    where: Where, session: Session, store: LocalStore, tmp_path: Path, damage: str
) -> None:
    old, cold, _writes = _killed_scenario(where, session, store, tmp_path)
    target = where.copy(old)
    manifest = where.objects(target)[MANIFEST]
    if damage == "missing":
        target.delete([MANIFEST])
    elif damage == "garbage":
        target.put_bytes(MANIFEST, manifest[: len(manifest) // 2], "application/json")
    else:  # the manifest is still this label's: the place is the export's own to clean
        target.put_bytes(JOURNAL, b"{not json", "application/json")
        target.put_bytes("stray/put-by-hand.txt", b"not the export's", "text/plain")
    recorded = Recording(target)
    done = _export(session, store, recorded)
    assert recorded.calls["keys"] == 1
    strays = ["stray/put-by-hand.txt"] if damage == "journal garbage" else []
    assert [key for key in done.deleted if key.startswith("stray/")] == strays
    assert len(done.written) == 10 and len(done.deleted) == 4 + len(strays)
    _assert_snapshot(where, target, cold)


def _as_other_label(doc: bytes) -> bytes:
    return json.dumps({**json.loads(doc), "label": "dev"}).encode()


@pytest.mark.parametrize(
    "holding",
    [
        "files of its own",
        "a snapshot without its manifest, and a file of its own",
        "another label's snapshot",
        "another label's killed export",
    ],
)
def test_a_destination_that_is_not_this_labels_snapshot_is_refused_untouched(
    where: Where, session: Session, store: LocalStore, tmp_path: Path, holding: str
) -> None:
    """A listing would delete whatever the snapshot does not hold: a folder of other files,
    the yard's own data, or the snapshot of another label exported to the same place."""
    add_wheel(session, store, tmp_path, "alpha", "1.0")
    if holding == "files of its own":
        target = where.new()
        target.put_bytes("precious.txt", b"keep me", "text/plain")
        target.put_bytes("blog/post.html", b"<p>mine</p>", "text/html")
    else:
        target = where.new()
        _export(session, store, target)
        manifest = where.objects(target)[MANIFEST]
        if holding.startswith("a snapshot without"):
            target.delete([MANIFEST])
            target.put_bytes("notes/readme.txt", b"by hand", "text/plain")
        elif holding == "another label's snapshot":
            target.put_bytes(MANIFEST, _as_other_label(manifest), "application/json")
        else:
            target.delete([MANIFEST])
            journal = json.dumps({"format": 2, "owner": "alice", "label": "dev", "keys": []})
            target.put_bytes(JOURNAL, journal.encode(), "application/json")
    before = where.objects(target)
    add_wheel(session, store, tmp_path, "alpha", "1.1")
    recorded = Recording(target)
    with pytest.raises(Conflict) as refused:
        _export(session, store, recorded)
    assert "nothing was written or deleted" in refused.value.message
    if holding.startswith("another label"):
        assert "snapshot of alice/dev" in refused.value.message
    else:
        assert "not empty" in refused.value.message
    assert recorded.writes == 0 and where.objects(target) == before


def test_a_format_1_manifest_is_listed_once_and_keeps_its_page_digests(
    where: Where, session: Session, store: LocalStore, tmp_path: Path
) -> None:
    add_wheel(session, store, tmp_path, "alpha", "1.0")
    add_wheel(session, store, tmp_path, "beta", "1.0")
    target = where.new()
    _export(session, store, target)
    doc = json.loads(where.objects(target)[MANIFEST])
    old = {"owner": "alice", "label": "main", "pages": doc["pages"]}  # as exports wrote it
    target.put_bytes(MANIFEST, json.dumps(old, indent=1).encode(), "application/json")
    new = add_wheel(session, store, tmp_path, "alpha", "1.1")
    upgrade = Recording(target)
    done = _export(session, store, upgrade)
    assert upgrade.calls["keys"] == 1
    assert done.written[:2] == [k for k in done.written if new.name in k]
    assert done.written[2:] == ["simple/alpha/index.html", "simple/alpha/index.json"]
    again = Recording(target)
    assert _export(session, store, again).written == [] and "keys" not in again.calls


def test_an_object_put_by_hand_is_not_seen_while_the_manifest_is_there(
    where: Where, session: Session, store: LocalStore, tmp_path: Path
) -> None:
    add_wheel(session, store, tmp_path, "alpha", "1.0")
    target = where.new()
    _export(session, store, target)
    target.put_bytes("simple/by-hand/index.html", b"<html></html>", "text/html")
    add_wheel(session, store, tmp_path, "alpha", "1.1")
    _export(session, store, target)
    assert "simple/by-hand/index.html" in where.objects(target)  # the export owns its prefix


@pytest.mark.e2e
def test_pip_installs_from_s3_after_a_killed_export(
    session: Session, store: LocalStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = Where("s3", tmp_path, request)
    old, _cold, writes = _killed_scenario(where, session, store, tmp_path)
    target = where.copy(old)
    with pytest.raises(Killed):
        _export(session, store, Recording(target, kill_at=writes // 2))
    _export(session, store, target)
    mirror = tmp_path / "mirror"  # the bucket's objects as a static host would serve them
    for key, body in where.objects(target).items():
        (mirror / key).parent.mkdir(parents=True, exist_ok=True)
        (mirror / key).write_bytes(body)
    pip_install(f"file://{mirror}/simple", tmp_path / "site", "beta")
    assert (tmp_path / "site" / "beta-1.0.dist-info").is_dir()
    assert (tmp_path / "site" / "alpha-1.1.dist-info").is_dir()
    shutil.rmtree(mirror)
