"""The blob-store contract, run against every implementation (the local folder store, and the
S3 store on a real S3-compatible server: e2e), plus staging and the backend choice."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import DATA, ProtocolOnly
from tests.s3server import client as s3client
from tests.s3server import new_bucket
from wheelyard.errors import InvalidInput, StorageError, TooLarge
from wheelyard.storage import YardStore, default_staging_dir, open_store
from wheelyard.storage.local import LocalStore
from wheelyard.storage.s3 import S3Store
from wheelyard.storage.staging import StagedFile, local_copy, sweep_staging


def _s3(request: pytest.FixtureRequest) -> Callable[[Path], YardStore]:
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = new_bucket(endpoint)
    # Every store object the test makes (a "new process") sees the same bucket and prefix.
    return lambda tmp: S3Store(s3client(endpoint), bucket, "yard/prefix")


IMPLEMENTATIONS: dict[str, Callable[[pytest.FixtureRequest], Callable[[Path], YardStore]]] = {
    "local": lambda request: lambda tmp: LocalStore(tmp / "files"),
    "s3": _s3,
}


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.e2e)])
def make(request: pytest.FixtureRequest) -> Callable[[Path], YardStore]:
    return IMPLEMENTATIONS[request.param](request)


@pytest.fixture
def store(make: Callable[[Path], YardStore], tmp_path: Path) -> YardStore:
    return make(tmp_path)


def _staged(tmp_path: Path, data: bytes) -> Path:
    """A finished staged file, as an upload edge hands one over."""
    with StagedFile(tmp_path / "staging") as staged:
        staged.write(data)
        staged.finish()
        keep = tmp_path / f"staged-{time.monotonic_ns()}.part"
        staged.path.rename(keep)
        return keep


def _read(store: YardStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    with store.open(key, start, end) as fh:
        return fh.read()


class TestBlobStoreContract:
    def test_put_file_publishes_the_staged_bytes(self, store: YardStore, tmp_path: Path) -> None:
        store.put_file("proj/ab/abc", _staged(tmp_path, DATA))
        assert store.exists("proj/ab/abc")
        assert store.size("proj/ab/abc") == len(DATA)
        assert _read(store, "proj/ab/abc") == DATA

    def test_put_bytes_publishes_and_replaces(self, store: YardStore) -> None:
        store.put_bytes("proj/ab/abc.metadata", b"Metadata-Version: 2.1\n")
        assert _read(store, "proj/ab/abc.metadata") == b"Metadata-Version: 2.1\n"
        store.put_bytes("proj/ab/abc.metadata", b"again")
        assert _read(store, "proj/ab/abc.metadata") == b"again"
        assert store.size("proj/ab/abc.metadata") == 5

    def test_a_missing_key_reads_as_missing(self, store: YardStore) -> None:
        assert not store.exists("proj/ab/none")
        with pytest.raises(FileNotFoundError):
            store.size("proj/ab/none")
        with pytest.raises(FileNotFoundError):
            store.open("proj/ab/none")
        with pytest.raises(FileNotFoundError):
            store.open("proj/ab/none", 5, 10)
        with pytest.raises(FileNotFoundError):
            store.open_sized("proj/ab/none")
        store.delete("proj/ab/none")  # no error
        assert store.mtime("proj/ab/none") is None

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (0, None),
            (0, 1),
            (3, 10),
            (1000, 1001),
            (256, 9000),
            (len(DATA) - 1, None),
            (len(DATA), None),
            (7, 7),
            (9000, len(DATA) + 500),
            (len(DATA) + 9, None),
        ],
    )
    def test_open_reads_exactly_the_range(
        self, store: YardStore, start: int, end: int | None
    ) -> None:
        store.put_bytes("r/blob", DATA)
        assert _read(store, "r/blob", start, end) == DATA[start:end]
        # open_sized: the same bytes, and the whole blob's size from the same request.
        fh, size = store.open_sized("r/blob", start, end)
        with fh:
            assert (fh.read(), size) == (DATA[start:end], len(DATA))

    def test_a_range_streams_in_small_reads(self, store: YardStore) -> None:
        big = DATA * 300  # about 3 MiB
        store.put_bytes("r/big", big)
        got = bytearray()
        with store.open("r/big", 12345, 2_000_001) as fh:
            while chunk := fh.read(64 * 1024):
                assert len(chunk) <= 64 * 1024
                got += chunk
        assert bytes(got) == big[12345:2_000_001]

    @pytest.mark.parametrize(("start", "end"), [(-1, None), (10, 5)])
    def test_a_bad_range_is_refused(self, store: YardStore, start: int, end: int | None) -> None:
        store.put_bytes("r/blob", DATA)
        with pytest.raises(ValueError):
            store.open("r/blob", start, end)

    def test_delete_removes_only_that_key(self, store: YardStore) -> None:
        store.put_bytes("d/one", b"1")
        store.put_bytes("d/two", b"2")
        store.delete("d/one")
        assert not store.exists("d/one") and store.exists("d/two")
        assert list(store.iter_keys()) == ["d/two"]
        store.delete("d/one")  # twice is fine

    def test_iter_keys_filters_by_string_prefix(self, store: YardStore) -> None:
        keys = ["a/b/1", "a/b/2", "a/bc/6", "a/c/3", "ab/4", "b/5", "b/5.metadata"]
        for key in keys:
            store.put_bytes(key, key.encode())
        assert sorted(store.iter_keys()) == sorted(keys)
        assert sorted(store.iter_keys("")) == sorted(keys)
        assert sorted(store.iter_keys("a/")) == ["a/b/1", "a/b/2", "a/bc/6", "a/c/3"]
        assert sorted(store.iter_keys("a/b")) == ["a/b/1", "a/b/2", "a/bc/6"]  # as S3 does
        assert sorted(store.iter_keys("a/b/")) == ["a/b/1", "a/b/2"]
        assert sorted(store.iter_keys("a")) == ["a/b/1", "a/b/2", "a/bc/6", "a/c/3", "ab/4"]
        assert sorted(store.iter_keys("b/5")) == ["b/5", "b/5.metadata"]
        assert list(store.iter_keys("zz")) == []
        assert list(store.iter_keys("../")) == []

    def test_internal_files_are_never_keys(self, store: YardStore, tmp_path: Path) -> None:
        store.put_file("k/one", _staged(tmp_path, DATA))
        store.put_bytes("k/two", b"x")
        claim = store.claim("k/two")
        assert claim is not None
        with store.collecting():
            pass  # leaves the lock file behind
        assert list(store.iter_keys()) == ["k/one"]

    @pytest.mark.parametrize("key", ["", "../escape", ".staging/x", "a//b", "a/./b", "a/.hidden"])
    def test_bad_keys_are_refused(self, store: YardStore, tmp_path: Path, key: str) -> None:
        with pytest.raises(ValueError):
            store.put_bytes(key, b"x")
        staged = _staged(tmp_path, b"x")
        with pytest.raises(ValueError):
            store.put_file(key, staged)
        assert staged.read_bytes() == b"x"  # nothing was taken
        assert list(store.iter_keys()) == []

    def test_url_is_a_string_or_none(self, store: YardStore) -> None:
        store.put_bytes("u/blob", b"x")
        url = store.url("u/blob")
        assert url is None or url.startswith(("http://", "https://"))

    def test_readers_never_see_a_partial_put(self, store: YardStore, tmp_path: Path) -> None:
        """While blobs are published (new, then replaced by bytes of the same size), every
        read sees nothing or one whole version: never a prefix, never a mix."""
        first, second = b"A" * (4 << 20), b"B" * (4 << 20)
        seen: set[str] = set()
        bad: list[str] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                try:
                    with store.open("atomic/blob") as fh:
                        data = fh.read()
                except FileNotFoundError:
                    seen.add("missing")
                    continue
                if data == first:
                    seen.add("first")
                elif data == second:
                    seen.add("second")
                else:
                    bad.append(f"{len(data)} bytes, starting {data[:1]!r}")

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for _ in range(5):
                store.put_file("atomic/blob", _staged(tmp_path, first))
                store.put_file("atomic/blob", _staged(tmp_path, second))
                store.delete("atomic/blob")
        finally:
            stop.set()
            thread.join(30)
        assert bad == []
        assert seen & {"first", "second"}

    def test_a_failed_put_publishes_nothing(self, store: YardStore, tmp_path: Path) -> None:
        with pytest.raises(StorageError):
            store.put_file("f/blob", tmp_path / "never-staged.part")
        directory = tmp_path / "a-directory"
        directory.mkdir()
        with pytest.raises(StorageError):
            store.put_file("f/blob", directory)
        assert not store.exists("f/blob") and list(store.iter_keys()) == []

    def test_put_gives_a_fresh_mtime(self, store: YardStore, tmp_path: Path) -> None:
        staged = _staged(tmp_path, DATA)
        old = time.time() - 7200
        os.utime(staged, (old, old))  # staged long ago, published now
        store.put_file("m/blob", staged)
        mtime = store.mtime("m/blob")
        assert mtime is not None and abs(time.time() - mtime) < 60


class TestCollectableContract:
    def test_claim_takes_the_blob_out_of_service(self, store: YardStore) -> None:
        store.put_bytes("g/blob", DATA)
        claim = store.claim("g/blob")
        assert claim is not None and claim.key == "g/blob"
        assert abs(time.time() - claim.mtime) < 60
        assert not store.exists("g/blob") and list(store.iter_keys()) == []
        assert [c.key for c in store.pending_claims()] == ["g/blob"]
        assert store.claim("g/blob") is None  # nothing left to claim
        store.restore(claim)
        assert _read(store, "g/blob") == DATA
        assert list(store.pending_claims()) == []

    def test_restore_never_overwrites_a_fresher_copy(self, store: YardStore) -> None:
        store.put_bytes("g/blob", b"old")
        claim = store.claim("g/blob")
        assert claim is not None
        store.put_bytes("g/blob", b"new")  # published while claimed
        store.restore(claim)
        assert _read(store, "g/blob") == b"new"
        assert list(store.pending_claims()) == []

    def test_forget_deletes_the_claim_only(self, store: YardStore) -> None:
        store.put_bytes("g/blob", b"old")
        claim = store.claim("g/blob")
        assert claim is not None
        store.put_bytes("g/blob", b"new")
        store.forget(claim)
        assert _read(store, "g/blob") == b"new"  # a publish after the claim stays
        assert list(store.pending_claims()) == []

    def test_pending_claims_survive_a_new_store_object(
        self, store: YardStore, make: Callable[[Path], YardStore], tmp_path: Path
    ) -> None:
        """A collector that died half-way: the next one (a new process) finds its claims."""
        store.put_bytes("g/a", b"a")
        store.put_bytes("g/b", b"b")
        assert store.claim("g/a") is not None
        again = make(tmp_path)
        pending = list(again.pending_claims())
        assert [c.key for c in pending] == ["g/a"]
        again.restore(pending[0])
        assert sorted(again.iter_keys()) == ["g/a", "g/b"]

    def test_one_collector_at_a_time(self, store: YardStore) -> None:
        order: list[str] = []
        entered = threading.Event()

        def second() -> None:
            with store.collecting():
                order.append("second")

        with store.collecting():
            thread = threading.Thread(target=second)
            thread.start()
            entered.wait(0.5)  # give the second collector time to (wrongly) get in
            order.append("first done")
        thread.join(10)
        assert order == ["first done", "second"]


class TestLocalStore:
    def test_put_file_from_another_filesystem_copies(self, tmp_path: Path) -> None:
        shm = Path("/dev/shm")
        if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
            pytest.skip("no second filesystem to stage on")
        store = LocalStore(tmp_path / "files")
        with StagedFile(shm) as staged:
            staged.write(DATA)
            staged.publish(store, "x/blob")
        assert not staged.path.exists()  # the caller's copy is gone once closed
        assert _read(store, "x/blob") == DATA
        assert list((tmp_path / "files" / ".staging").glob("*")) == []

    def test_sweep_incomplete_takes_only_old_leftovers(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "files")
        staging = tmp_path / "files" / ".staging"
        staging.mkdir()
        old, young = staging / "put-old.part", staging / "put-young.part"
        old.write_bytes(b"x")
        young.write_bytes(b"x")
        os.utime(old, (time.time() - 7200, time.time() - 7200))
        assert store.sweep_incomplete(3600) == 1
        assert not old.exists() and young.exists()

    def test_local_path_is_the_blob(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "files")
        store.put_bytes("p/blob", b"bytes")
        path = store.local_path("p/blob")
        assert path == tmp_path / "files" / "p" / "blob" and path.read_bytes() == b"bytes"


class TestStaging:
    def test_staged_file_hashes_counts_and_publishes_once(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "files")
        with StagedFile(tmp_path / "staging") as staged:
            for i in range(0, len(DATA), 1000):
                staged.write(DATA[i : i + 1000])
            assert staged.size == len(DATA)
            assert staged.sha256 == hashlib.sha256(DATA).hexdigest()
            assert staged.md5 == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
            staged.publish(store, "s/blob")
            staged.publish(store, "s/blob")  # a retry does not publish again
        assert _read(store, "s/blob") == DATA
        assert list((tmp_path / "staging").iterdir()) == []

    def test_an_oversized_upload_is_refused_and_removed(self, tmp_path: Path) -> None:
        with pytest.raises(TooLarge), StagedFile(tmp_path / "staging", limit=100) as staged:
            staged.write(b"x" * 60)
            staged.write(b"x" * 60)
        assert list((tmp_path / "staging").iterdir()) == []

    def test_sweep_staging_takes_only_old_files(self, tmp_path: Path) -> None:
        staging = tmp_path / "staging"
        live = StagedFile(staging)
        abandoned = StagedFile(staging)
        abandoned.finish()
        os.utime(abandoned.path, (time.time() - 7200, time.time() - 7200))
        assert sweep_staging(staging, 3600) == 1
        assert live.path.exists() and not abandoned.path.exists()
        live.discard()
        assert sweep_staging(tmp_path / "nowhere", 0) == 0

    def test_local_copy_without_a_local_path(self, tmp_path: Path) -> None:
        inner = LocalStore(tmp_path / "files")
        inner.put_bytes("c/blob", DATA)
        with local_copy(inner, "c/blob") as path:
            assert path == inner.local_path("c/blob")
        view = ProtocolOnly(inner)
        with local_copy(view, "c/blob", tmp_path) as path:  # type: ignore[arg-type]
            assert path.read_bytes() == DATA and path != inner.local_path("c/blob")
            copy = path
        assert not copy.exists()


class TestBackendChoice:
    def test_folder_paths_and_file_urls_open_the_local_store(self, tmp_path: Path) -> None:
        for url in (str(tmp_path / "a"), f"file://{tmp_path / 'b'}"):
            store = open_store(url)
            assert isinstance(store, LocalStore)
            assert store.root == Path(url.removeprefix("file://"))

    def test_s3_urls_open_the_s3_store(self) -> None:
        assert isinstance(open_store("s3://bucket/prefix"), S3Store)  # no request made yet

    def test_an_unknown_scheme_is_named(self) -> None:
        with pytest.raises(InvalidInput, match="unknown storage scheme 'gs://'"):
            open_store("gs://bucket")

    def test_staging_defaults_next_to_local_blobs(self, tmp_path: Path) -> None:
        files = tmp_path / "files"
        assert default_staging_dir(str(files), tmp_path) == files / ".staging"
        assert default_staging_dir(f"file://{files}", tmp_path) == files / ".staging"
        assert default_staging_dir("s3://bucket", tmp_path) == tmp_path / "staging"
