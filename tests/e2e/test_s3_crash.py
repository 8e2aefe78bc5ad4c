"""kill -9 of a server publishing a big upload to S3 in parts: killed before the multipart
upload completes, nothing is visible, the database and bucket agree and the abandoned parts
are cleaned up; killed after the blob is under its final key but before its row commits,
nothing is visible either, and ``wheelyard check`` reports the orphan that ``check --repair``
deletes once it is older than the grace period. And a slow publish to S3: accepted while its
row commits inside the grace period (less a margin), refused past that."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import JSON, Yard, files_in, start_yard, stop_yard
from tests.postgres import new_database
from tests.s3server import client as s3client
from tests.s3server import new_bucket, yard_env
from wheelyard.db.models import File
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import unit_of_work
from wheelyard.errors import StorageError
from wheelyard.storage.faults import PAUSE_AFTER_PUBLISH
from wheelyard.storage.s3 import TRANSFER, S3Store
from wheelyard.storage.staging import StagedFile
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts, integrity
from wheelyard.yard.distfile import inspect_file
from wheelyard.yard.uploads import blob_key, store_upload

pytestmark = pytest.mark.e2e


def _post(yard: Yard, token: str, wheel: Path) -> None:
    # The server is killed under it: no answer comes.
    with contextlib.suppress(httpx.TransportError), wheel.open("rb") as fh:
        httpx.post(
            f"{yard.url}/alice",
            auth=("__token__", token),
            files={"content": (wheel.name, fh)},
            data={":action": "file_upload"},
            timeout=120,
        )


def test_kill_9_mid_multipart_leaves_nothing_visible(s3_endpoint: str, tmp_path: Path) -> None:
    bucket = new_bucket(s3_endpoint)
    env = yard_env(s3_endpoint, bucket)
    yard = start_yard(tmp_path / "yard", env)
    token = yard.user("alice")
    (tmp_path / "w").mkdir()
    wheel = make_wheel(tmp_path / "w", "huge", "1.0", padding=8 * TRANSFER.multipart_chunksize)

    sender = threading.Thread(target=_post, args=(yard, token, wheel))
    sender.start()
    s3 = s3client(s3_endpoint)
    deadline = time.monotonic() + 90
    while not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"):
        assert time.monotonic() < deadline, "the server never began a multipart upload"
        time.sleep(0.02)
    os.kill(yard.process.pid, signal.SIGKILL)
    yard.process.wait()
    sender.join(30)

    again = start_yard(tmp_path / "yard", env)
    try:
        assert files_in(again, "alice", "main", "huge") == []
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # no blob published
        checked = again.cli("check")
        assert "ok: database and storage agree" in checked.stdout
        # `check` aborts incomplete uploads older than 6 hours; moto dates every upload in
        # 2010, so here it aborts this one at once (on AWS it would wait the 6 hours).
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    finally:
        stop_yard(again)


# The real CLI, in a process whose wall clock reads ``argv[1]`` seconds ahead: blob ages are
# the bucket's LastModified against the checking host's clock, so this is `wheelyard check`
# run that much later (tests/storage/test_s3.py moves the collector's clock the same way).
_LATER = """
import sys, time
real, ahead = time.time, float(sys.argv[1])
time.time = lambda: real() + ahead
from wheelyard.cli.main import main
sys.argv = ["wheelyard", *sys.argv[2:]]
raise SystemExit(main())
"""
TWO_HOURS = 7200.0  # past the default grace period (WHEELYARD_BLOB_GRACE=3600)


def _check_later(yard: Yard, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", _LATER, str(TWO_HOURS), "check", *args]
    return subprocess.run(cmd, env=yard.env(), capture_output=True, text=True, timeout=120)


def test_kill_9_after_publishing_leaves_an_orphan_that_check_repair_removes(
    postgres: str, s3_endpoint: str, tmp_path: Path
) -> None:
    """The blob is complete under its final key (a finished multipart upload) and its row is
    not committed when the server dies: nothing shows it, `check` reports it once it is older
    than the grace period (not before: it could be an upload about to commit), and `check
    --repair` deletes it, every version, after which `check` is clean."""
    bucket = new_bucket(s3_endpoint)
    env = {"WHEELYARD_DATABASE_URL": new_database(postgres), **yard_env(s3_endpoint, bucket)}
    paused = tmp_path / "published"
    yard = start_yard(tmp_path / "yard", {**env, PAUSE_AFTER_PUBLISH: str(paused)})
    token = yard.user("alice")
    (tmp_path / "w").mkdir()
    wheel = make_wheel(tmp_path / "w", "huge", "1.0", padding=2 * TRANSFER.multipart_chunksize)
    assert wheel.stat().st_size > TRANSFER.multipart_threshold
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    key = blob_key("huge", sha256)
    orphans = sorted([key, key + ".metadata"])

    sender = threading.Thread(target=_post, args=(yard, token, wheel))
    sender.start()
    s3 = s3client(s3_endpoint)
    try:
        deadline = time.monotonic() + 90
        while not paused.exists():  # the server waits in the hook: its row is not committed
            assert yard.process.poll() is None, yard.log.read_text()
            assert time.monotonic() < deadline, "the server never published the upload"
            time.sleep(0.02)
        assert paused.read_text() == key
        head = s3.head_object(Bucket=bucket, Key=f"yard/{key}")
        # Published whole, in parts: a multipart object's ETag ends in "-<number of parts>".
        assert head["ContentLength"] == wheel.stat().st_size and head["ETag"].endswith('-3"')
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    finally:
        yard.process.send_signal(signal.SIGKILL)  # (a no-op if it already died)
        yard.process.wait()
        sender.join(30)

    again = start_yard(tmp_path / "yard", env)
    try:
        # Nothing visible: simple index (JSON and HTML), the Anaconda JSON API, downloads.
        assert files_in(again, "alice", "main", "huge") == []
        assert httpx.get(f"{again.url}/alice/simple/huge/").status_code == 404
        listing = httpx.get(f"{again.url}/alice/simple/", headers=JSON).json()
        assert listing["projects"] == []
        auth = {"Authorization": f"token {token}"}
        for path in (
            "/api/package/alice/huge",
            f"/api/dist/alice/huge/1.0/{wheel.name}",
            f"/api/download/alice/huge/1.0/{wheel.name}",
            f"/alice/files/{sha256}/{wheel.name}",
        ):
            answer = httpx.get(again.url + path, headers=auth)
            assert answer.status_code == 404, (path, answer.status_code, answer.text)

        # Young, it may belong to an upload about to commit: neither reported nor collected.
        assert "ok: database and storage agree" in again.cli("check").stdout
        kept = again.cli("check", "--repair").stdout
        assert "deleted 0 orphan blob(s)" in kept and "ok: database and storage agree" in kept
        assert s3.head_object(Bucket=bucket, Key=f"yard/{key}")["ContentLength"] > 0

        # Past the grace period: reported (exit status 1), then deleted by --repair.
        later = _check_later(again)
        assert later.returncode == 1, later.stderr
        reported = sorted(
            line.split(": ")[1] for line in later.stdout.splitlines() if line.startswith("orphan")
        )
        assert reported == orphans, later.stdout + later.stderr
        assert "2 problem(s) found" in later.stdout
        repaired = _check_later(again, "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        for orphan in orphans:
            assert f"deleted orphan: {orphan}" in repaired.stdout
        assert "deleted 2 orphan blob(s)" in repaired.stdout
        assert "ok: database and storage agree" in repaired.stdout
        after = _check_later(again)
        assert after.returncode == 0 and "ok: database and storage agree" in after.stdout
        assert "ok: database and storage agree" in again.cli("check").stdout
        # Gone from the bucket for good: no version and no delete marker is left.
        versions = s3.list_object_versions(Bucket=bucket, Prefix="yard/huge/")
        assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
        assert s3.list_objects_v2(Bucket=bucket, Prefix="yard/").get("KeyCount", 0) == 0
    finally:
        stop_yard(again)


class _Clock:
    """The upload's clock: monotonic time plus whatever the slow bucket made it skip."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def now(self) -> float:
        return time.monotonic() + self.skipped


class _SlowBucket(S3Store):
    """The real bucket behind a link so slow that each transfer takes ``seconds`` on the
    upload's clock: the bytes really go up, the clock is moved rather than slept."""

    def __init__(self, store: S3Store, clock: _Clock, seconds: float) -> None:
        super().__init__(store.client, store.bucket, store.prefix)
        self.clock, self.seconds = clock, seconds

    def put_file(self, key: str, path: Path) -> None:
        super().put_file(key, path)
        self.clock.skipped += self.seconds


def _slow_upload(
    monkeypatch: pytest.MonkeyPatch,
    postgres: str,
    s3_endpoint: str,
    tmp_path: Path,
    grace: str | None,
    seconds: float,
) -> tuple[Callable[[], object], sessionmaker[Session], S3Store]:
    """A yard on PostgreSQL whose process runs with ``WHEELYARD_BLOB_GRACE=grace`` (unset:
    the default), a bucket that takes ``seconds`` per transfer, and the upload of one wheel
    to it (to be called), stored as the server stores it (``store_upload``)."""
    engine = make_engine(new_database(postgres))
    migrate(engine)
    sessions = make_sessionmaker(engine)
    for name, value in yard_env(s3_endpoint, new_bucket(s3_endpoint)).items():
        monkeypatch.setenv(name, value)  # boto3 reads the credentials from the environment
    if grace is None:
        monkeypatch.delenv("WHEELYARD_BLOB_GRACE", raising=False)
    else:
        monkeypatch.setenv("WHEELYARD_BLOB_GRACE", grace)
    clock = _Clock()
    bucket = S3Store.from_url(os.environ["WHEELYARD_STORAGE_URL"].removeprefix("s3://"))
    store = _SlowBucket(bucket, clock, seconds)
    with unit_of_work(sessions) as unit:
        accounts.create_user(unit.session, "alice", "long enough password")
    wheel = make_wheel(tmp_path, "slow", "1.0")
    staged = StagedFile(tmp_path / "staging")
    staged.write(wheel.read_bytes())
    staged.finish()
    dist = inspect_file(staged.path, wheel.name)

    def upload() -> object:
        with staged, unit_of_work(sessions) as unit:
            alice = accounts.get_owner(unit.session, "alice")
            return store_upload(
                unit.session, store, alice, ["main"], staged, dist, None, clock=clock.now
            )

    return upload, sessions, store


@pytest.mark.parametrize(
    ("grace", "seconds"),
    [(None, 200.0), ("900", 700.0)],  # deadlines: 3420 s (the default hour), 720 s
)
def test_a_publish_slower_than_two_minutes_is_accepted_within_the_grace_period(
    postgres: str,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    grace: str | None,
    seconds: float,
) -> None:
    """A big upload to a bucket at a few MB/s takes minutes; its row commits well inside the
    grace period the collector (and the server) run with, so it is stored (it used to be
    refused past two minutes, whatever the grace)."""
    upload, sessions, store = _slow_upload(
        monkeypatch, postgres, s3_endpoint, tmp_path, grace, seconds
    )
    assert getattr(upload(), "outcome", None) == "created"
    with sessions() as session:
        assert [f.filename for f in session.scalars(select(File))] == ["slow-1.0-py3-none-any.whl"]
        assert list(integrity.check(session, store, True, float(grace or 3600))) == []


@pytest.mark.parametrize(
    ("grace", "seconds"),
    [(None, 3500.0), ("900", 750.0), ("300", 200.0)],  # past 3420 s, 720 s, and 120 s
)
def test_a_publish_past_the_deadline_is_still_refused(
    postgres: str,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    grace: str | None,
    seconds: float,
) -> None:
    """Past the grace period less the margin, the collector may already take the blob: the
    upload stores nothing and asks to be sent again (the shortest grace, 300 s, keeps the
    two-minute deadline)."""
    upload, sessions, store = _slow_upload(
        monkeypatch, postgres, s3_endpoint, tmp_path, grace, seconds
    )
    deadline = integrity.publish_deadline(float(grace or 3600))
    with pytest.raises(StorageError, match=f"took longer than {deadline:.0f}s"):
        upload()
    with sessions() as session:
        assert list(session.scalars(select(File))) == []
    assert len(list(store.iter_keys())) == 2  # wheel and metadata: orphans for the collector
