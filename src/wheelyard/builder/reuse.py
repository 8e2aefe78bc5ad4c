"""Reusing wheels already built: the wheelhouse's record of each repaired wheel, keyed by
everything its build depended on — the sdist's sha256, the build's variables (build-setup.sh,
per-package ``environment``, builder flags), the build requirements (requirements-build.txt,
``build-requires``), the repair settings (``plat``, ``exclude``, strip) and the interpreter.
Same inputs, same wheel: a run that failed at upload, ran without ``--upload`` or added a
``test`` override (verification is not an input) builds nothing again.

Also keeps the wheelhouse's top level to the current run's wheels: the others are moved to
``superseded/`` (where a later run may still find a wheel to reuse), so that uploading
``wheelhouse/*.whl`` with another tool uploads exactly the current set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelyard.builder.interpreters import Interpreter
from wheelyard.digest import file_sha256

RECORD = Path(".cache") / "builds.json"
SUPERSEDED = "superseded"
_lock = threading.Lock()


@dataclass(frozen=True)
class Inputs:
    """What one build depends on."""

    sdist_sha256: str
    interpreter: Interpreter
    environment: Mapping[str, str]
    build_requirements: tuple[str, ...]  # requirement strings and requirement files' text
    repair: tuple[str, ...]  # plat, excluded libraries, auditwheel options

    def key(self) -> str:
        h = hashlib.sha256()
        interp = self.interpreter
        parts = [
            self.sdist_sha256,
            str(interp.executable),
            ".".join(map(str, interp.version)),
            json.dumps(sorted(self.environment.items())),
            json.dumps(list(self.build_requirements)),
            json.dumps(list(self.repair)),
        ]
        h.update("\0".join(parts).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Reused:
    wheel: Path
    policy: str
    grafted: tuple[str, ...]


def inputs(
    sdist: Path,
    interp: Interpreter,
    environment: Mapping[str, str],
    requirement_files: Sequence[Path],
    build_requires: Sequence[str],
    repair: Sequence[str],
) -> Inputs:
    files = tuple(f.read_text(errors="replace") for f in requirement_files)
    return Inputs(
        file_sha256(sdist), interp, dict(environment), (*files, *build_requires), tuple(repair)
    )


def _load(wheelhouse: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((wheelhouse / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(wheelhouse: Path, key: str) -> Reused | None:
    """The wheel built from these inputs before, back in the top level, if its bytes are
    still those recorded."""
    with _lock:
        entry = _load(wheelhouse).get(key)
    if not isinstance(entry, dict):
        return None
    name = str(entry.get("wheel", ""))
    if not name or "/" in name:
        return None
    target = wheelhouse / name
    for place in (target, wheelhouse / SUPERSEDED / name):
        if place.is_file() and file_sha256(place) == entry.get("sha256"):
            if place != target:
                place.replace(target)
            grafted = entry.get("grafted") or []
            assert isinstance(grafted, list)
            return Reused(target, str(entry.get("policy", "")), tuple(map(str, grafted)))
    return None


def remember(wheelhouse: Path, key: str, wheel: Path, policy: str, grafted: Sequence[str]) -> None:
    """Record a repaired wheel under its inputs' key (atomically: a rename)."""
    with _lock:
        data = _load(wheelhouse)
        data[key] = {
            "wheel": wheel.name,
            "sha256": file_sha256(wheel),
            "policy": policy,
            "grafted": list(grafted),
        }
        path = wheelhouse / RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)


def set_aside(wheelhouse: Path, current: Iterable[Path]) -> list[str]:
    """Move every top-level wheel not in ``current`` to ``superseded/``; their names."""
    keep = {p.name for p in current}
    moved = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        if wheel.name in keep:
            continue
        aside = wheelhouse / SUPERSEDED
        aside.mkdir(exist_ok=True)
        shutil.move(str(wheel), aside / wheel.name)
        moved.append(wheel.name)
    return moved
