"""Consistency under concurrency: no interleaving loses a committed blob or an added label.

Two kinds of test. The interleaving tests drive the yard services in two sessions and force
the ordering that lost data before (one operation is held just before its commit while the
other runs); they run on SQLite and PostgreSQL. The parallel test drives a real server with
uploads, removals, label copies and pip-style reads in threads for a fixed number of rounds,
then asks ``wheelyard check`` and the index whether anything committed was lost.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import Yard, start_yard, stop_yard
from tests.postgres import new_database
from wheelyard.db.models import File, FileLabel, Label
from wheelyard.db.unit import transaction
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.copying import copy_files
from wheelyard.yard.importer import import_file
from wheelyard.yard.integrity import check
from wheelyard.yard.labels import get_label, remove_label
from wheelyard.yard.removal import remove_files
from wheelyard.yard.uploads import Stored

# ---------------------------------------------------------------- forced interleavings


class Held:
    """Runs ``fn(session)`` in a thread and holds it just before (or after) its first commit."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        fn: Callable[[Session], Any],
        when: str = "before_commit",
    ) -> None:
        self.session = sessions()
        self.reached = threading.Event()
        self.go = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        event.listen(self.session, when, self._hold)
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()
        assert self.reached.wait(30), "operation never reached its commit"

    def _hold(self, _session: Session) -> None:
        if not self.reached.is_set():
            self.reached.set()
            self.go.wait(60)

    def _run(self, fn: Callable[[Session], Any]) -> None:
        try:
            with transaction(self.session):  # the edge: one unit, committed at its end
                self.result = fn(self.session)
        except BaseException as exc:
            self.error = exc
        finally:
            self.session.close()

    def release(self) -> None:
        self.go.set()
        self.thread.join(60)


class Background:
    """Runs ``fn(session)`` in a thread with its own session."""

    def __init__(self, sessions: sessionmaker[Session], fn: Callable[[Session], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            with sessions() as session:
                try:
                    with transaction(session):
                        self.result = fn(session)
                except BaseException as exc:
                    self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finished_within(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()

    def join(self) -> None:
        self.thread.join(60)
        assert not self.thread.is_alive()


def _setup(
    sessions: sessionmaker[Session], tmp_path: Path, *labels: tuple[str, str]
) -> tuple[LocalStore, Path]:
    """Users alice and bob, the given (owner, label) pairs, and alice's wheel on her main."""
    store = LocalStore(tmp_path / "files")
    with sessions() as session, transaction(session):
        for name in ("alice", "bob"):
            accounts.create_user(session, name, "long enough password")
        session.flush()
        for owner, label in labels:
            get_label(session, accounts.get_owner(session, owner), label, create=True)
    wheel = make_wheel(tmp_path, "race", "1.0")
    with sessions() as session, transaction(session):
        _upload(store, "alice", "main", wheel)(session)
    return store, wheel


def _upload(store: LocalStore, owner: str, label: str, wheel: Path) -> Callable[[Session], Stored]:
    def upload(session: Session) -> Stored:
        return import_file(session, store, accounts.get_owner(session, owner), [label], wheel)

    return upload


def _labels(session: Session, owner: str, filename: str) -> set[str]:
    session.rollback()  # read afresh
    return set(
        session.scalars(
            select(Label.name)
            .join(FileLabel, FileLabel.label_id == Label.id)
            .join(File, File.id == FileLabel.file_id)
            .where(
                File.filename == filename, File.owner_id == accounts.get_owner(session, owner).id
            )
        )
    )


def _lost_blobs(session: Session, store: LocalStore) -> list[str]:
    session.rollback()  # read afresh
    return [f"{p.kind} {p.key}" for p in check(session, store) if p.kind != "orphan"]


def test_removal_racing_an_upload_of_the_same_bytes_keeps_the_blob(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Bob uploads the bytes Alice is removing: Bob's committed file keeps its blob."""
    store, wheel = _setup(sessions, tmp_path, ("alice", "main"), ("bob", "main"))

    def remove(session: Session) -> int:
        alice = accounts.get_owner(session, "alice")
        files = list(session.scalars(select(File).where(File.owner_id == alice.id)))
        return remove_files(session, store, alice, files, "alice")

    # Alice's removal has committed; Bob's upload publishes the same bytes and is about to
    # commit its row when the removal goes on (before the fix: "no row uses the blob").
    removal = Held(sessions, remove, when="after_commit")
    upload = Held(sessions, _upload(store, "bob", "main", wheel))
    removal.release()
    upload.release()
    assert upload.error is None and removal.error is None, (upload.error, removal.error)
    assert upload.result.outcome == "created" and removal.result == 1
    with sessions() as session:
        assert _lost_blobs(session, store) == []
        bob = accounts.get_owner(session, "bob")
        kept = session.scalar(
            select(File).where(File.owner_id == bob.id, File.filename == wheel.name)
        )
        assert kept is not None
        with store.open(kept.blob_key) as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == kept.sha256


def test_label_removal_racing_an_upload_keeps_the_added_label(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Removing label main (the file's last label) while an upload adds label dev to the same
    file: the upload's 200 says dev was added, so the file must still be under dev."""
    store, wheel = _setup(sessions, tmp_path, ("alice", "main"), ("alice", "dev"))

    def drop_main(session: Session) -> int:
        return remove_label(session, store, accounts.get_owner(session, "alice"), "main")

    removal = Held(sessions, drop_main)  # decided "no label left": file row to delete
    upload = Background(sessions, _upload(store, "alice", "dev", wheel))
    upload.finished_within(2)  # before the fix (PostgreSQL): commits dev on the doomed row
    removal.release()
    upload.join()
    assert removal.error is None and upload.error is None, (removal.error, upload.error)
    assert "dev" in upload.result.labels_added
    with sessions() as session:
        assert _labels(session, "alice", wheel.name) == {"dev"}
        assert _lost_blobs(session, store) == []


def test_removal_racing_a_copy_across_owners_keeps_the_blob(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Bob copies Alice's file while Alice removes it: if the copy commits, its blob stays."""
    store, wheel = _setup(sessions, tmp_path, ("alice", "main"), ("bob", "main"))

    def copy(session: Session) -> list[File]:
        alice = accounts.get_owner(session, "alice")
        files = list(session.scalars(select(File).where(File.owner_id == alice.id)))
        bob = accounts.get_owner(session, "bob")
        return copy_files(session, store, files, bob, "main", False, "bob")

    copying = Held(sessions, copy)

    def remove(session: Session) -> int:
        alice = accounts.get_owner(session, "alice")
        files = list(session.scalars(select(File).where(File.owner_id == alice.id)))
        return remove_files(session, store, alice, files, "alice")

    removal = Background(sessions, remove)
    removal.finished_within(2)  # before the fix (PostgreSQL): deletes the blob under the copy
    copying.release()
    removal.join()
    assert copying.error is None and removal.error is None, (copying.error, removal.error)
    with sessions() as session:
        assert _labels(session, "bob", wheel.name) == {"main"}
        assert _lost_blobs(session, store) == []


# ---------------------------------------------------------------- parallel, real server

ROUNDS = int(os.environ.get("WHEELYARD_RACE_ROUNDS", "25"))
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@dataclass
class Op:
    kind: str  # "upload" | "remove" | "copy"
    owner: str
    filename: str
    label: str
    start: float
    end: float
    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Journal:
    ops: list[Op] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)

    def fail(self, why: str) -> None:
        with self.lock:
            self.failures.append(why)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _uploader(y: Yard, owner: str, token: str, label: str, wheels: list[Path], j: Journal):  # type: ignore[no-untyped-def]
    def run() -> None:
        with httpx.Client(auth=("__token__", token), timeout=60) as client:
            for i in range(ROUNDS):
                wheel = wheels[i % len(wheels)]
                start = time.monotonic()
                r = client.post(
                    f"{y.url}/{owner}/label/{label}/",
                    files={"content": (wheel.name, wheel.read_bytes())},
                    data={":action": "file_upload"},
                )
                j.add(
                    Op(
                        "upload",
                        owner,
                        wheel.name,
                        label,
                        start,
                        time.monotonic(),
                        r.status_code,
                        _json(r),
                    )
                )
                if r.status_code >= 500:
                    j.fail(f"upload {owner}/{label}/{wheel.name}: {r.status_code} {r.text}")

    return run


def _remover(y: Yard, owner: str, token: str, wheels: list[Path], j: Journal):  # type: ignore[no-untyped-def]
    """Alternates ``anaconda remove`` of one file and removal of its whole release."""

    def run() -> None:
        with httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60) as client:
            for i in range(ROUNDS):
                wheel = wheels[(i * 7) % len(wheels)]
                version = wheel.name.split("-")[1]
                start = time.monotonic()
                if i % 2:
                    r = client.delete(f"{y.url}/api/dist/{owner}/race/{version}/{wheel.name}")
                else:  # one wheel per release: the same file
                    r = client.delete(f"{y.url}/api/release/{owner}/race/{version}")
                j.add(Op("remove", owner, wheel.name, "*", start, time.monotonic(), r.status_code))
                if r.status_code >= 500:
                    j.fail(f"remove {owner}/{wheel.name}: {r.status_code} {r.text}")
                time.sleep(0.01)

    return run


def _copier(y: Yard, owner: str, token: str, j: Journal):  # type: ignore[no-untyped-def]
    def run() -> None:
        with httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60) as client:
            for _ in range(ROUNDS):
                start = time.monotonic()
                r = client.post(f"{y.url}/api/channels/{owner}/main/copy/stable")
                j.add(Op("copy", owner, "*", "stable", start, time.monotonic(), r.status_code))
                if r.status_code >= 500:
                    j.fail(f"copy {owner}: {r.status_code} {r.text}")

    return run


def _reader(y: Yard, owners: list[str], j: Journal):  # type: ignore[no-untyped-def]
    """pip's requests: the project page, then every file; a 200 must carry the right bytes."""

    def run() -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(ROUNDS):
                owner = owners[i % len(owners)]
                page = client.get(f"{y.url}/{owner}/simple/race/", headers=JSON)
                if page.status_code != 200:
                    continue
                for f in page.json()["files"]:
                    r = client.get(httpx.URL(f"{y.url}/{owner}/simple/race/").join(f["url"]))
                    if r.status_code == 200:
                        if hashlib.sha256(r.content).hexdigest() != f["hashes"]["sha256"]:
                            j.fail(f"read {owner}/{f['filename']}: 200 with the wrong bytes")
                    elif r.status_code >= 500:
                        j.fail(f"read {owner}/{f['filename']}: {r.status_code} {r.text}")

    return run


def _final_labels(y: Yard, owner: str, label: str) -> set[str]:
    r = httpx.get(f"{y.url}/{owner}/label/{label}/simple/race/", headers=JSON)
    return {f["filename"] for f in r.json()["files"]} if r.status_code == 200 else set()


def _race(y: Yard, tmp_path: Path) -> Journal:
    owners = ["racea", "raceb"]
    tokens = {o: y.user(o) for o in owners}
    wheels = [make_wheel(tmp_path, "race", f"1.{i}", padding=20_000) for i in range(3)]
    j = Journal()
    workers = [
        *(_uploader(y, o, tokens[o], lb, wheels, j) for o in owners for lb in ("main", "dev")),
        *(_remover(y, o, tokens[o], wheels, j) for o in owners),
        _copier(y, owners[0], tokens[owners[0]], j),
        _reader(y, owners, j),
    ]
    threads = [threading.Thread(target=w, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
        assert not t.is_alive(), "a worker hung"

    # Labels: an upload answered 2xx with the label added must still hold it, unless a
    # removal of that file could have been ordered after it (it ended after the upload began).
    for owner in owners:
        held = {lb: _final_labels(y, owner, lb) for lb in ("main", "dev")}
        for op in j.ops:
            if op.kind != "upload" or op.owner != owner or op.status != 200:
                continue
            later_removal = any(
                r.kind == "remove"
                and r.owner == owner
                and r.filename == op.filename
                and r.status < 300
                and r.end > op.start
                for r in j.ops
            )
            if not later_removal and op.filename not in held[op.label]:
                j.fail(f"{owner}: {op.filename} lost label {op.label} added by a 200 upload")
    return j


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_parallel_uploads_removals_copies_and_reads_lose_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = {}
    if backend == "postgres":
        env["WHEELYARD_DATABASE_URL"] = new_database(request.getfixturevalue("postgres"))
    y = start_yard(tmp_path / "data", env)
    try:
        journal = _race(y, tmp_path)
        checked = y.cli("check", check=False)
    finally:
        stop_yard(y)
    done = {
        k: sum(1 for o in journal.ops if o.kind == k and o.status < 300)
        for k in ("upload", "remove", "copy")
    }
    assert done["upload"] and done["remove"] and done["copy"], done  # the race really ran
    assert journal.failures == [], "\n".join(journal.failures[:20])
    assert checked.returncode == 0, checked.stdout  # every row's blob present, right hash
    assert not re.search(r"^(missing|size|hash):", checked.stdout, re.M)


# ---------------------------------------------------------------- first uploads at once

FIRST_TAGS = [f"cp3{minor}-cp3{minor}-manylinux_2_17_x86_64" for minor in range(8, 16)]


def _together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call at the same moment, one thread each (as twine or the builder do)."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * len(calls)

    def run(i: int) -> None:
        barrier.wait(60)
        try:
            answers[i] = calls[i]()
        except httpx.HTTPError as exc:
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
        assert not t.is_alive(), "a request hung"
    out = []
    for a in answers:
        assert isinstance(a, httpx.Response), repr(a)
        out.append(a)
    return out


def _at_once(token: str, jobs: list[tuple[str, Path]]) -> list[httpx.Response]:
    """Legacy-API uploads (what twine sends) of every (upload URL, file), all at once."""

    def upload(url: str, path: Path) -> Callable[[], httpx.Response]:
        body = path.read_bytes()
        return lambda: httpx.post(
            url,
            auth=("__token__", token),
            files={"content": (path.name, body)},
            data={":action": "file_upload"},
            timeout=120,
        )

    return _together([upload(url, p) for url, p in jobs])


def _listed(y: Yard, path: str) -> set[str]:
    r = httpx.get(f"{y.url}{path}", headers=JSON, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return {f["filename"] for f in r.json()["files"]}


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_first_uploads_of_a_new_project_all_succeed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The builder uploads every wheel of a release at once, to a project and label that do
    not exist yet: each distinct file is stored (never a 500), and a real clash is a 409."""
    env = {}
    if backend == "postgres":
        env["WHEELYARD_DATABASE_URL"] = new_database(request.getfixturevalue("postgres"))
    y = start_yard(tmp_path / "data", env)
    try:
        token = y.user("builder")
        wheels = tmp_path / "wheels"
        wheels.mkdir()

        # One new project, one new release, eight wheels, on the default label.
        one = [make_wheel(wheels, "fresh", "1.0", tag=t) for t in FIRST_TAGS]
        answers = _at_once(token, [(f"{y.url}/builder/", w) for w in one])
        assert [(r.status_code, r.text) for r in answers] == [(200, r.text) for r in answers], (
            "a first upload of a distinct file failed"
        )
        assert _listed(y, "/builder/simple/fresh/") == {w.name for w in one}

        # Several new projects at once, with two versions each, onto a label not made yet.
        many = [
            make_wheel(wheels, f"proj{p}", version, tag=t)
            for p in range(3)
            for version in ("2.0", "2.1")
            for t in FIRST_TAGS[:2]
        ]
        label_url = f"{y.url}/builder/label/nightly/"
        answers = _at_once(token, [(label_url, w) for w in many])
        assert [r.status_code for r in answers] == [200] * len(many), [
            r.text for r in answers if r.status_code != 200
        ]
        for p in range(3):
            expected = {w.name for w in many if w.name.startswith(f"proj{p}-")}
            assert _listed(y, f"/builder/label/nightly/simple/proj{p}/") == expected

        # One new file name, different bytes each time: exactly one is stored, the rest clash.
        clash = []
        for i in range(6):
            d = tmp_path / f"clash{i}"
            d.mkdir()
            clash.append(make_wheel(d, "clash", "1.0", module_body=f"variant = {i}\n"))
        answers = _at_once(token, [(f"{y.url}/builder/", w) for w in clash])
        codes = sorted(r.status_code for r in answers)
        assert codes == [200] + [409] * 5, [(r.status_code, r.text) for r in answers]
        winner = clash[[r.status_code for r in answers].index(200)]
        page = httpx.get(f"{y.url}/builder/simple/clash/", headers=JSON, timeout=30).json()
        [stored] = page["files"]
        assert stored["hashes"]["sha256"] == hashlib.sha256(winner.read_bytes()).hexdigest()

        # anaconda-client's first steps for a new package, from several uploads at once.
        api = {"Authorization": f"token {token}"}
        for path in ("/api/package/builder/condanew", "/api/release/builder/condanew/1.0"):
            answers = _together(
                [
                    lambda path=path: httpx.post(f"{y.url}{path}", headers=api, json={}, timeout=60)
                    for _ in range(8)
                ]
            )
            assert [r.status_code for r in answers] == [200] * 8, [
                r.text for r in answers if r.status_code != 200
            ]
        r = httpx.get(f"{y.url}/api/release/builder/condanew/1.0", headers=api, timeout=30)
        assert r.status_code == 200 and r.json()["version"] == "1.0", r.text
    finally:
        stop_yard(y)
