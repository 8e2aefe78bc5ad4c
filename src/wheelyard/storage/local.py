"""Blob store in a local folder: publishes by fsync + rename, collects through ``.trash/``.

Blobs are only ever removed by garbage collection, through a claim: the candidate is renamed
into ``.trash/`` (atomically, so a concurrent publish of the same key is never half-deleted),
then either put back with a hard link that never overwrites, or deleted for good. The store's
own temporaries (``put_bytes``, a ``put_file`` from another filesystem) live in ``.staging/``,
which is also where callers stage uploads by default (same filesystem: publishing is a rename).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote

from wheelyard.errors import StorageError
from wheelyard.storage.faults import storage_faults
from wheelyard.storage.protocol import Claim

STAGING = ".staging"
_TRASH = ".trash"


class _Window(io.RawIOBase):
    """At most ``length`` bytes of an open file, from its current position."""

    def __init__(self, fh: BinaryIO, length: int) -> None:
        self._fh = fh
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        # A view, not a slice: slicing a bytearray would read into a copy.
        got = self._fh.readinto(memoryview(buffer)[:want])  # type: ignore[attr-defined]
        self._left -= got
        return int(got)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    """``wheelyard.storage.protocol.YardStore`` (and ``LocalFiles``) over a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys are built by the yard from validated names and hex digests; refuse anything else.
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"bad blob key {key!r}")
        return self.root.joinpath(*parts)

    def _temp(self, prefix: str) -> tuple[int, Path]:
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging, prefix=prefix, suffix=".part")
        return fd, Path(name)

    def _publish(self, src: Path, key: str) -> None:
        """Rename the durable file ``src`` onto ``key`` and make the rename durable."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # A fresh mtime marks the blob as in flight until its row commits: the garbage
        # collector leaves blobs younger than the grace period alone.
        os.utime(src)
        os.replace(src, dest)
        _fsync_dir(dest.parent)

    def put_file(self, key: str, path: Path) -> None:
        self._path(key)  # a bad key fails before anything moves
        with storage_faults("storing a file"):
            with path.open("rb") as fh:
                os.fsync(fh.fileno())  # usually already synced by the stager: cheap
            try:
                self._publish(path, key)
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            # Staged on another filesystem: copy in next to the blobs, then rename.
            with path.open("rb") as src:
                self._write_new(key, lambda out: shutil.copyfileobj(src, out, 1024 * 1024))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._path(key)
        with storage_faults("storing a file"):
            self._write_new(key, lambda out: out.write(data))

    def _write_new(self, key: str, write: Callable[[BinaryIO], object]) -> None:
        """Fill a new file next to the blobs with ``write``, make it durable and publish it
        onto ``key``; on any failure the partial file is removed."""
        fd, tmp = self._temp("put-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            self._publish(tmp, key)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def open(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
        return self.open_sized(key, start, end)[0]

    def open_sized(self, key: str, start: int = 0, end: int | None = None) -> tuple[BinaryIO, int]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad byte range [{start}, {end})")
        fh = self._path(key).open("rb")
        size = os.fstat(fh.fileno()).st_size  # of the file opened, whatever replaces it later
        if start:
            fh.seek(start)
        if end is None:
            return fh, size
        return io.BufferedReader(_Window(fh, end - start)), size

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        # Walk only the folder the prefix's complete path segments name, when they are valid.
        top = self.root
        folder = prefix.rpartition("/")[0]
        if folder:
            try:
                top = self._path(folder)
            except ValueError:
                return
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(self.root)
            for name in sorted(filenames):
                key = (rel / name).as_posix()
                if not name.startswith(".") and key.startswith(prefix):
                    yield key

    def check(self) -> None:
        # The folder itself: everything else (listing, reading a missing blob) reads a gone
        # volume as merely empty. The path stays out of the message: /-/ready is public.
        try:
            mode = os.stat(self.root).st_mode
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise StorageError(f"file storage failed while checking its folder ({reason})") from exc
        if not stat.S_ISDIR(mode):
            raise StorageError("file storage failed while checking its folder (not a folder)")

    def url(
        self, key: str, filename: str | None = None, media_type: str | None = None
    ) -> str | None:
        return None  # served from the file itself (local_path), never redirected

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    # Garbage collection: claim → (re-check references) → restore or forget.

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        trash = self.root / _TRASH
        trash.mkdir(parents=True, exist_ok=True)  # a new yard's store folder may not exist yet
        with (trash / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def mtime(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def claim(self, key: str) -> Claim | None:
        src = self._path(key)
        dest = self.root / _TRASH / f"{quote(key, safe='')}.{secrets.token_hex(6)}"
        dest.parent.mkdir(exist_ok=True)
        try:
            os.rename(src, dest)
        except FileNotFoundError:
            return None
        return Claim(key, str(dest), dest.stat().st_mtime)  # mtime read after the rename

    def restore(self, claim: Claim) -> None:
        dest = self._path(claim.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(claim.handle, dest)  # never overwrites a fresher copy
        Path(claim.handle).unlink()

    def forget(self, claim: Claim) -> None:
        Path(claim.handle).unlink(missing_ok=True)

    def pending_claims(self) -> Iterator[Claim]:
        trash = self.root / _TRASH
        for path in sorted(trash.glob("*.*")) if trash.is_dir() else []:
            if path.name.startswith("."):
                continue
            key = unquote(path.name.rsplit(".", 1)[0])
            with contextlib.suppress(FileNotFoundError, ValueError):
                self._path(key)
                yield Claim(key, str(path), path.stat().st_mtime)

    def sweep_incomplete(self, older_than: float) -> int:
        return sweep_parts(self.root / STAGING, older_than)


def sweep_parts(directory: Path, older_than: float) -> int:
    """Delete ``*.part`` files in ``directory`` older than ``older_than`` seconds."""
    cutoff = time.time() - older_than
    removed = 0
    for path in directory.glob("*.part") if directory.is_dir() else []:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
