"""What an sdist is likely to cost to build, read from its file list before any build ran: the
bytes of source a compiler will see (Cython and Rust weighted up: each line becomes much more
to compile). A project with such sources is taken to build platform wheels, so all its
interpreters start together; the costliest start first. Only the order of builds depends on
it (longest first, so no long build is left running alone at the end), never a result; a run
that recorded real build times and wheel kinds (builder/run.py) uses those instead."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

# Source kinds a build compiles, and how much compiling one byte of each costs, roughly
# (Cython generates C ten or more times the size of its .pyx; a crate pulls in others).
WEIGHTS = {
    ".c": 1,
    ".cc": 1,
    ".cpp": 1,
    ".cxx": 1,
    ".f": 1,
    ".f90": 1,
    ".pyx": 10,
    ".rs": 20,
}


def _sizes(sdist: Path) -> list[tuple[str, int]]:
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as zf:
            return [(i.filename, i.file_size) for i in zf.infolist() if not i.is_dir()]
    with tarfile.open(sdist) as tf:
        return [(m.name, m.size) for m in tf if m.isfile()]


def compiled_bytes(sdist: Path) -> int:
    """The weighted bytes of compiled source in ``sdist``; 0 for a pure project or one that
    cannot be read (it is then simply scheduled as one with no estimate)."""
    try:
        files = _sizes(sdist)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, ValueError, EOFError):
        return 0
    total = 0
    for name, size in files:
        suffix = Path(name).suffix.lower()
        total += WEIGHTS.get(suffix, 0) * size
    return total
