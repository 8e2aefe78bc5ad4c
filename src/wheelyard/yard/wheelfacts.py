"""Facts about a built wheel kept on its file row: its manylinux/musllinux policy (from the
platform tags of its file name) and the shared libraries auditwheel grafted into it (the
files under its top-level ``<name>.libs/`` folder).

Both are derived once, when a file is stored; rows stored before they existed are filled by
``wheelyard check --repair`` (``fill_missing``), which reads only each wheel's zip directory.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File
from wheelyard.storage import BlobStore
from wheelyard.storage.protocol import LocalFiles

_POLICY_PREFIXES = ("manylinux", "musllinux")
MAX_POLICY = 400  # width of files.platform_policy; a file name is at most 400 characters


@dataclass(frozen=True)
class WheelFacts:
    policy: str  # space-separated manylinux/musllinux platform tags; "" for none (or an sdist)
    grafted: str  # newline-separated grafted library file names; "" for none


def policy_of(filename: str) -> str:
    """The manylinux/musllinux platform tags of a wheel's file name, sorted; "" if none."""
    if not filename.endswith(".whl"):
        return ""
    try:
        tags = parse_wheel_filename(filename)[3]
    except (InvalidWheelFilename, ValueError):
        return ""
    found = sorted({t.platform for t in tags if t.platform.startswith(_POLICY_PREFIXES)})
    return " ".join(found)[:MAX_POLICY]


def grafted_of(names: Iterable[str]) -> str:
    """The libraries under a top-level ``*.libs/`` folder of a wheel's member names."""
    found = set()
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".libs") and parts[1]:
            found.add(parts[1])
    return "\n".join(sorted(found))


def facts_of(filename: str, names: Iterable[str]) -> WheelFacts:
    if not filename.endswith(".whl"):
        return WheelFacts("", "")
    return WheelFacts(policy_of(filename), grafted_of(names))


def _names_in_blob(store: BlobStore, key: str) -> list[str]:
    """Member names of a stored wheel; a remote blob is spooled to a temporary file since
    reading a zip's directory needs to seek."""
    path = store.local_path(key) if isinstance(store, LocalFiles) else None
    if path is not None:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    with tempfile.TemporaryFile() as spool, store.open(key) as fh:
        shutil.copyfileobj(fh, spool, 1024 * 1024)
        spool.seek(0)
        with zipfile.ZipFile(spool) as archive:
            return archive.namelist()


def fill_missing(session: Session, store: BlobStore) -> tuple[int, list[str]]:
    """Derive the facts of every file row that lacks them; (rows filled, problems)."""
    filled, problems = 0, []
    rows = session.scalars(select(File).where(File.grafted_libs.is_(None))).all()
    for file in rows:
        names: list[str] = []
        if file.kind == "wheel":
            try:
                names = _names_in_blob(store, file.blob_key)
            except (OSError, zipfile.BadZipFile) as exc:
                problems.append(f"{file.filename}: cannot read the wheel: {exc}")
                continue
        facts = facts_of(file.filename, names)
        file.platform_policy, file.grafted_libs = facts.policy, facts.grafted
        filled += 1
    session.flush()
    return filled, problems
