"""Turning operating-system storage failures into yard errors with a clear message."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from wheelyard.errors import InsufficientStorage, StorageError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def storage_error(exc: OSError, doing: str) -> StorageError:
    """The yard error for ``exc``: full disk or quota → InsufficientStorage, else StorageError."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _FULL:
        return InsufficientStorage(
            f"file storage is full while {doing} ({reason}); nothing was stored"
        )
    return StorageError(f"file storage failed while {doing} ({reason}); nothing was stored")


@contextmanager
def storage_faults(doing: str) -> Iterator[None]:
    """Re-raise any OSError inside the block as a StorageError naming what was being done."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, doing) from exc
