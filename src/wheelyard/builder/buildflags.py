"""The variables every build gets on top of the user's: small and reproducible wheels.

* Strip (``strip = true``, the default): ``-g0`` appended to ``CFLAGS`` and ``CXXFLAGS`` so
  no debug information is compiled in (setuptools appends them to Python's own flags; after
  the user's: the last ``-g`` wins), and auditwheel's ``--strip`` for the repaired wheel's
  extensions and grafted libraries, when the runner's auditwheel has it. Without debug
  information no build path ends up in an extension, which reproducibility needs too.
  ``strip = false`` keeps both as they were.
* Reproducible: ``SOURCE_DATE_EPOCH`` from the sdist (the newest file time inside it, as
  the sdist's own ``PKG-INFO`` carries it), so the same sdist built with the same settings
  gives the same bytes (the ``wheel`` package and auditwheel date the zip entries with it).
  A value the user set is kept.
"""

from __future__ import annotations

import tarfile
import threading
import weakref
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from wheelyard.builder.runners import Runner

_STRIP_FLAGS = ("CFLAGS", "CXXFLAGS")
_strip_support: weakref.WeakKeyDictionary[Runner, bool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def sdist_epoch(sdist: Path) -> int | None:
    """The newest modification time of a file in the sdist (None when it cannot be read)."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as zf:
                times = [
                    int(datetime(*i.date_time, tzinfo=timezone.utc).timestamp())
                    for i in zf.infolist()
                ]
        else:
            with tarfile.open(sdist) as tf:
                times = [int(m.mtime) for m in tf if m.isfile()]
    except (OSError, tarfile.TarError, zipfile.BadZipFile, ValueError):
        return None
    # zip cannot store a time before 1980: the wheel package refuses such an epoch.
    return max(max(times), 315532800) if times else None


def environment(base: Mapping[str, str], strip: bool, sdist: Path | None) -> dict[str, str]:
    """``base`` (the build-setup.sh and per-package variables) plus the builder's flags."""
    env = dict(base)
    if strip:
        for name in _STRIP_FLAGS:
            env[name] = f"{env[name]} -g0" if env.get(name) else "-g0"
    if "SOURCE_DATE_EPOCH" not in env and sdist is not None:
        epoch = sdist_epoch(sdist)
        if epoch is not None:
            env["SOURCE_DATE_EPOCH"] = str(epoch)
    return env


def repair_flags(runner: Runner, strip: bool) -> tuple[str, ...]:
    """Extra ``auditwheel repair`` options: ``--strip`` when asked for and supported."""
    if not strip:
        return ()
    with _lock:
        if runner not in _strip_support:
            auditwheel, env = runner.repair_command()
            result = runner.capture([*auditwheel, "repair", "--help"], env=env, timeout=60)
            _strip_support[runner] = "--strip" in result.stdout
        return ("--strip",) if _strip_support[runner] else ()
