"""Finding CPython interpreters (PATH, pyenv, the manylinux ``/opt/python`` layout) and
choosing among them by version, range, tag, path or glob."""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wheelyard.yard.errors import InvalidInput

DEFAULT_MINIMUM = (3, 9)
_PROBE = (
    "import json, sys; print(json.dumps({'version': list(sys.version_info[:3]), "
    "'implementation': sys.implementation.name, 'executable': sys.executable}))"
)


@dataclass(frozen=True, order=True)
class Interpreter:
    version: tuple[int, int, int]
    executable: Path
    implementation: str = "cpython"

    @property
    def minor(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def tag(self) -> str:
        return f"cp{self.version[0]}{self.version[1]}"


def probe(executable: Path) -> Interpreter | None:
    """Ask an executable what it is; None if it is not a working Python."""
    try:
        out = subprocess.run(
            [str(executable), "-c", _PROBE], capture_output=True, text=True, timeout=20, check=True
        ).stdout
        data = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    major, minor, micro = data["version"]
    # The interpreter's own idea of itself: a pyenv shim resolves to the real executable, so
    # later runs do not depend on the cwd's .python-version.
    real = Path(data["executable"]) if data.get("executable") else Path(executable)
    return Interpreter((major, minor, micro), real, data["implementation"])


@functools.cache
def pip_can_target(executable: Path) -> bool:
    """Whether the interpreter's pip (≥ 22.3) can install into another environment
    (``--python``), which makes a venv without pip of its own enough."""
    out = subprocess.run(
        [str(executable), "-m", "pip", "--version"], capture_output=True, text=True
    ).stdout
    found = re.match(r"pip (\d+)\.(\d+)", out)
    return found is not None and (int(found[1]), int(found[2])) >= (22, 3)


def venv_commands(interp: Interpreter, venv: Path) -> tuple[list[str], list[str]]:
    """How to create ``venv`` and the pip command line that installs into it."""
    python = str(venv / "bin" / "python")
    if pip_can_target(interp.executable):
        return (
            [str(interp.executable), "-m", "venv", "--without-pip", str(venv)],
            [
                str(interp.executable),
                "-m",
                "pip",
                "--disable-pip-version-check",
                "--python",
                python,
            ],
        )
    return (
        [str(interp.executable), "-m", "venv", str(venv)],
        [python, "-m", "pip", "--disable-pip-version-check"],
    )


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def candidates() -> list[Path]:
    """Executables worth probing, in order of preference: PATH, pyenv, /opt/python."""
    found: list[Path] = []
    for name in ["python3", *(f"python3.{m}" for m in range(6, 16))]:
        path = shutil.which(name)
        if path:
            found.append(Path(path))
    found += sorted(_pyenv_root().glob("versions/*/bin/python3"))
    found += sorted(Path("/opt/python").glob("*/bin/python"))
    return found


def discover(paths: Iterable[Path] | None = None) -> list[Interpreter]:
    """CPython interpreters found, one per minor version (the first found wins), sorted."""
    by_minor: dict[str, Interpreter] = {}
    seen: set[Path] = set()
    for path in paths if paths is not None else candidates():
        real = path.resolve()
        if real in seen:
            continue
        seen.add(real)
        interp = probe(path)
        if interp is not None and interp.implementation == "cpython":
            by_minor.setdefault(interp.minor, interp)
    return sorted(by_minor.values())


_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_RANGE = re.compile(r"^(\d+\.\d+)-(\d+\.\d+)$")
_TAG = re.compile(r"^cp(\d)(\d+)$")


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def select(selectors: list[str], found: list[Interpreter] | None = None) -> list[Interpreter]:
    """Interpreters for ``--python`` values; default: every CPython >= 3.9 found."""
    if not selectors:
        chosen = [
            i
            for i in (found if found is not None else discover())
            if i.version[:2] >= DEFAULT_MINIMUM
        ]
        if not chosen:
            raise InvalidInput("no CPython >= 3.9 found on PATH, in pyenv or in /opt/python")
        return chosen
    available = found if found is not None else discover()
    result: dict[Path, Interpreter] = {}
    for sel in selectors:
        matches = _match(sel, available)
        if not matches:
            have = ", ".join(i.minor for i in available) or "none"
            raise InvalidInput(f"no Python matches {sel!r} (found: {have}; see --list-pythons)")
        for m in matches:
            result.setdefault(m.executable, m)
    return sorted(result.values())


def _match(sel: str, available: list[Interpreter]) -> list[Interpreter]:
    if m := _VERSION.match(sel):
        want = (int(m[1]), int(m[2]))
        return [i for i in available if i.version[:2] == want]
    if m := _RANGE.match(sel):
        low, high = _minor(m[1]), _minor(m[2])
        return [i for i in available if low <= i.version[:2] <= high]
    if m := _TAG.match(sel):
        want = (int(m[1]), int(m[2]))
        return [i for i in available if i.version[:2] == want]
    if any(c in sel for c in "*?["):
        paths = []
        for hit in sorted(glob.glob(sel)):
            p = Path(hit)
            paths.append(p / "bin" / "python" if p.is_dir() else p)
        return [i for i in (probe(p) for p in paths if p.exists()) if i is not None]
    path = Path(sel)
    if path.exists():
        interp = probe(path / "bin" / "python" if path.is_dir() else path)
        if interp is None:
            raise InvalidInput(f"{sel} is not a working Python interpreter")
        return [interp]
    raise InvalidInput(
        f"cannot read --python {sel!r}: use a version (3.12), a range (3.10-3.13), a tag "
        "(cp312), an interpreter path or a glob (/opt/python/cp3*)"
    )
