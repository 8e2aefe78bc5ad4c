"""Import distribution files from the local filesystem through the same validation and storage
path as an HTTP upload (used by ``wheelyard import`` and the benchmarks)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from wheelyard.db.models import Owner
from wheelyard.storage import BlobStore
from wheelyard.storage.staging import StagedFile
from wheelyard.yard.distfile import inspect_file
from wheelyard.yard.uploads import Stored, store_upload

_CHUNK = 1024 * 1024


def import_file(
    session: Session,
    store: BlobStore,
    owner: Owner,
    labels: list[str],
    path: Path,
    staging: Path | None = None,
) -> Stored:
    """Stage a copy of ``path`` (in ``staging``, else the system's temporary folder) and store
    it; the user's file itself is never handed to the store, which may move what it gets."""
    directory = staging or Path(tempfile.gettempdir())
    with StagedFile(directory) as staged, path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            staged.write(chunk)
        staged.finish()
        dist = inspect_file(staged.path, path.name)
        return store_upload(session, store, owner, labels, staged, dist, uploader_id=None)


def find_dists(paths: list[Path]) -> list[Path]:
    """The wheels and sdists named, or found (not recursively) in the folders named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.name.endswith((".whl", ".tar.gz")))
        else:
            found.append(path)
    return found
