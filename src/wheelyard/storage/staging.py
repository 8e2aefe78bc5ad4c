"""A staged upload: a temporary file that hashes (sha256, md5) and counts bytes as they arrive."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType

from wheelyard.storage.faults import storage_faults
from wheelyard.yard.errors import TooLarge


class StagedFile:
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

    def discard(self) -> None:
        if not self._fh.closed:
            self._close()
        if not self.committed:
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
