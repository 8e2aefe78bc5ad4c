"""Getting at an sdist before building it: a local copy (fetched once per run, whatever the
number of interpreters) and its declared ``[build-system] requires``."""

from __future__ import annotations

import sys
import tarfile
import threading
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from wheelyard.builder.fetch import download

# What pip assumes for an sdist without [build-system] (PEP 518; pip < 23.1 added wheel,
# which setuptools < 70.1 needs to build wheels at all).
LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")
_locks: dict[Path, threading.Lock] = {}
_guard = threading.Lock()


def fetch_sdist(source: str, folder: Path) -> Path:
    """The sdist as a local file: a path, a file:// URL, or downloaded over http(s) into
    ``folder`` (atomically, once: concurrent builds of the same sdist wait for the first)."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme not in ("http", "https"):
        return Path(source)
    target = folder / unquote(Path(parsed.path).name)
    with _guard:
        lock = _locks.setdefault(target, threading.Lock())
    with lock:
        if target.exists():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        download(source.split("#", 1)[0], target)
    return target


def _pyproject(sdist: Path) -> str | None:
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as zf:
            names = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml")
            ]
            return zf.read(names[0]).decode() if names else None
    with tarfile.open(sdist) as tf:
        for member in tf:
            if member.name.count("/") == 1 and member.name.endswith("/pyproject.toml"):
                handle = tf.extractfile(member)
                return handle.read().decode() if handle else None
    return None


def declared_build_requires(sdist: Path) -> tuple[str, ...]:
    """``[build-system] requires`` of an sdist (pip's default when it declares none)."""
    text = _pyproject(sdist)
    system = tomllib.loads(text).get("build-system") if text else None
    if not isinstance(system, dict) or "requires" not in system:
        return LEGACY_REQUIRES
    return tuple(str(r) for r in system["requires"])
