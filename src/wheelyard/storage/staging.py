"""Staging, the caller's side of a publish: a temporary local file written, hashed and checked
before ``BlobStore.put_file`` publishes it, plus the sweep of files left by killed uploads.

Memory stays constant (bytes go to disk as they arrive) and durability is the caller's to
start: ``finish`` fsyncs, then the store publishes atomically (the local store by a rename).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from wheelyard.errors import TooLarge
from wheelyard.storage.faults import storage_faults
from wheelyard.storage.local import sweep_parts
from wheelyard.storage.protocol import BlobStore, LocalFiles

_CHUNK = 1024 * 1024


class StagedFile:
    """A temporary file in ``directory`` that hashes (sha256, md5) and counts bytes as they
    arrive, refusing more than ``limit``; removed on close whether published or not."""

    def __init__(self, directory: Path, limit: int | None = None) -> None:
        with storage_faults("receiving an upload"):
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=directory, prefix="stage-", suffix=".part")
        self._fh = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.limit = limit
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.committed = False

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise TooLarge(f"upload exceeds the size limit of {self.limit} bytes")
        self._sha256.update(chunk)
        self._md5.update(chunk)
        with storage_faults("receiving an upload"):
            self._fh.write(chunk)

    def finish(self) -> None:
        """Flush and fsync so that a later rename publishes durable bytes."""
        if not self._fh.closed:
            with storage_faults("receiving an upload"):
                try:
                    self._fh.flush()
                    os.fsync(self._fh.fileno())
                finally:
                    self._close()

    def _close(self) -> None:
        # Closing flushes again; a full disk fails here too, and the bytes are discarded.
        with contextlib.suppress(OSError):
            self._fh.close()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def publish(self, store: BlobStore, key: str) -> None:
        """Make the bytes durable here, then publish them under ``key`` (once)."""
        if not self.committed:
            self.finish()
            store.put_file(key, self.path)
            self.committed = True

    def discard(self) -> None:
        if not self._fh.closed:
            self._close()
        # Published or not, the staged file is ours to remove (a store may have copied it).
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def sweep_staging(directory: Path, older_than: float) -> int:
    """Delete staged files older than ``older_than`` seconds (left by killed uploads)."""
    return sweep_parts(directory, older_than)


@contextlib.contextmanager
def local_copy(store: BlobStore, key: str, directory: Path | None = None) -> Iterator[Path]:
    """A local file with the blob's bytes: its own path when the store has one, else a
    temporary copy in ``directory`` (the system's temporary folder by default)."""
    if isinstance(store, LocalFiles) and (path := store.local_path(key)) is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(dir=directory, prefix="blob-") as tmp:
        copy = Path(tmp) / "blob"
        with store.open(key) as src, copy.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        yield copy
