"""Blob store in a local folder: staging under ``.staging/``, commits by fsync + rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from wheelyard.storage.staging import StagedFile

_STAGING = ".staging"


class LocalStore:
    def __init__(self, root: Path, limit: int | None = None) -> None:
        self.root = root.absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.limit = limit

    def _path(self, key: str) -> Path:
        # Keys are built by the yard from validated names and hex digests; refuse anything else.
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"bad blob key {key!r}")
        return self.root.joinpath(*parts)

    def stage(self) -> StagedFile:
        return StagedFile(self.root / _STAGING, self.limit)

    def _publish(self, src: Path, key: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        dir_fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def commit(self, staged: StagedFile, key: str) -> None:
        staged.finish()
        self._publish(staged.path, key)
        staged.committed = True

    def put_bytes(self, key: str, data: bytes) -> None:
        staging = self.root / _STAGING
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging, prefix="put-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            self._publish(Path(name), key)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def sweep_staging(self, older_than: float) -> int:
        """Delete staging files older than ``older_than`` seconds (left by killed uploads)."""
        cutoff = time.time() - older_than
        removed = 0
        for path in (self.root / _STAGING).glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def iter_keys(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if not name.startswith("."):
                    yield (rel / name).as_posix()
