"""Blob store in a local folder: staging under ``.staging/``, commits by fsync + rename.

Blobs are only ever removed by garbage collection, through a claim: the candidate is renamed
into ``.trash/`` (atomically, so a concurrent publish of the same key is never half-deleted),
then either put back with a hard link that never overwrites, or deleted for good.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote

from wheelyard.storage.faults import storage_faults
from wheelyard.storage.staging import StagedFile

_STAGING = ".staging"
_TRASH = ".trash"


class Claim:
    """A blob taken out of service by the garbage collector: restore it or forget it."""

    def __init__(self, key: str, path: Path) -> None:
        self.key = key
        self.path = path
        self.mtime = path.stat().st_mtime


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
        with storage_faults("storing a file"):
            dest.parent.mkdir(parents=True, exist_ok=True)
            # A fresh mtime marks the blob as in flight until its row commits: the garbage
            # collector leaves blobs younger than the grace period alone.
            os.utime(src)
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
        with storage_faults("storing a file"):
            staging.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=staging, prefix="put-", suffix=".part")
        try:
            with storage_faults("storing a file"), os.fdopen(fd, "wb") as fh:
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

    def mtime(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def iter_keys(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if not name.startswith("."):
                    yield (rel / name).as_posix()

    # Garbage collection: claim → (re-check references) → restore or forget.

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        """Hold the store's collector lock: one garbage collection at a time."""
        trash = self.root / _TRASH
        trash.mkdir(exist_ok=True)
        with (trash / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def claim(self, key: str) -> Claim | None:
        """Move the blob at ``key`` out of service atomically; None when there is none."""
        src = self._path(key)
        dest = self.root / _TRASH / f"{quote(key, safe='')}.{secrets.token_hex(6)}"
        try:
            os.rename(src, dest)
        except FileNotFoundError:
            return None
        return Claim(key, dest)

    def restore(self, claim: Claim) -> None:
        """Put a claimed blob back, unless a publish filled the key meanwhile (same bytes)."""
        dest = self._path(claim.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(claim.path, dest)  # never overwrites a fresher copy
        claim.path.unlink()

    def forget(self, claim: Claim) -> None:
        """Delete a claimed blob for good."""
        claim.path.unlink(missing_ok=True)

    def pending_claims(self) -> Iterator[Claim]:
        """Claims left behind by a collector that stopped half-way."""
        trash = self.root / _TRASH
        for path in sorted(trash.glob("*.*")) if trash.is_dir() else []:
            if path.name.startswith("."):
                continue
            key = unquote(path.name.rsplit(".", 1)[0])
            with contextlib.suppress(FileNotFoundError, ValueError):
                self._path(key)
                yield Claim(key, path)
