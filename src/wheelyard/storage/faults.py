"""Turning operating-system storage failures into yard errors with a clear message, and the
one fault-injection hook the crash tests need (``after_publish``, inert unless its test-only
environment variable is set)."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


# --- test hook ------------------------------------------------------------------------------
# Set only by the test suite (tests/e2e/test_s3_crash.py), never on a real yard: unset, the hook
# costs one environment lookup per upload and does nothing.
PAUSE_AFTER_PUBLISH = "WHEELYARD_TEST_PAUSE_AFTER_PUBLISH"


def after_publish(key: str) -> None:
    """Test hook: an upload's bytes are under their final ``key``, its row not yet committed.

    With ``WHEELYARD_TEST_PAUSE_AFTER_PUBLISH=PATH``, write ``key`` to ``PATH`` and wait until
    ``PATH`` is removed: a test kills the server at exactly this moment (it waits for the file,
    not for a guessed time), or removes the file to let the upload go on.
    """
    marker = os.environ.get(PAUSE_AFTER_PUBLISH)
    if not marker:
        return
    path = Path(marker)
    written = path.with_name(path.name + ".tmp")
    written.write_text(key)
    written.replace(path)  # the test never sees a half-written marker
    while path.exists():
        time.sleep(0.05)
