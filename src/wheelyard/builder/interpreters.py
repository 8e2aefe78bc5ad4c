"""Finding CPython interpreters in a build environment (on the host: PATH, pyenv, the
manylinux ``/opt/python`` layout; in a container: the image's ``/opt/python``), knowing each
as data, and choosing among them by version,
range, tag, path or glob."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wheelyard.builder.runners import Runner
from wheelyard.errors import InvalidInput

DEFAULT_MINIMUM = (3, 9)
# Run inside the candidate: what it is, its pip, and the platform tags its pip accepts
# (through pip's own packaging), so planning never assumes the host's view.
_PROBE = """
import json, sys
info = {"version": list(sys.version_info[:3]), "implementation": sys.implementation.name,
        "executable": sys.executable, "pip": None, "platforms": [], "markers": {}}
try:
    import pip
    info["pip"] = [int(p) for p in pip.__version__.split(".")[:2]]
    from pip._vendor.packaging import markers, tags
    info["platforms"] = list(tags.platform_tags())
    info["markers"] = markers.default_environment()
except Exception:
    pass
print(json.dumps(info))
"""


@dataclass(frozen=True, order=True)
class Interpreter:
    version: tuple[int, int, int]
    executable: Path
    implementation: str = "cpython"
    pip: tuple[int, int] | None = None
    platforms: tuple[str, ...] = ()  # best first, as its pip would accept them
    markers: tuple[tuple[str, str], ...] = ()  # its PEP 508 marker environment

    @property
    def marker_environment(self) -> dict[str, str]:
        return dict(self.markers)

    @property
    def minor(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def tag(self) -> str:
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def record_key(self) -> str:
        """What a resolution or a verification depends on, not where the interpreter lives:
        build records made by the same Python at another path (another machine, another
        pyenv root, a CI's tool cache) serve it too."""
        version = ".".join(map(str, self.version))
        return f"{self.implementation}-{version}-{self.platforms[0] if self.platforms else 'any'}"


def probe(executable: Path, runner: Runner) -> Interpreter | None:
    """Ask an executable what it is (run by ``runner``); None if it is not a working Python."""
    try:
        result = runner.capture([str(executable), "-c", _PROBE], timeout=20)
        data = json.loads(result.stdout) if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    major, minor, micro = data["version"]
    # The interpreter's own idea of itself: a pyenv shim resolves to the real executable, so
    # later runs do not depend on the cwd's .python-version.
    real = Path(data["executable"]) if data.get("executable") else Path(executable)
    pip = tuple(data["pip"]) if data.get("pip") else None
    return Interpreter(
        (major, minor, micro),
        real,
        data["implementation"],
        pip,
        tuple(data.get("platforms") or ()),
        tuple(sorted((data.get("markers") or {}).items())),
    )


def venv_commands(interp: Interpreter, venv: Path) -> tuple[list[str], list[str]]:
    """How to create ``venv`` and the pip command line that installs into it. A pip ≥ 22.3
    can install into another environment (``--python``), so the venv needs no pip of its
    own, which makes creating it instant."""
    python = str(venv / "bin" / "python")
    exe = str(interp.executable)
    if interp.pip is not None and interp.pip >= (22, 3):
        return (
            [exe, "-m", "venv", "--without-pip", str(venv)],
            [exe, "-m", "pip", "--disable-pip-version-check", "--python", python],
        )
    return (
        [exe, "-m", "venv", str(venv)],
        [python, "-m", "pip", "--disable-pip-version-check"],
    )


def discover(runner: Runner, paths: Iterable[Path] | None = None) -> list[Interpreter]:
    """CPython interpreters ``runner`` has (or among ``paths``), one per minor version (the
    first found wins), sorted."""
    by_minor: dict[str, Interpreter] = {}
    seen: set[Path] = set()
    unique = []
    for path in paths if paths is not None else runner.interpreter_candidates():
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(path)
    # Probed at once (each starts a Python that imports pip), kept in the candidates' order.
    with ThreadPoolExecutor(max(1, min(8, len(unique)))) as pool:
        for interp in pool.map(lambda p: probe(p, runner), unique):
            if interp is not None and interp.implementation == "cpython":
                by_minor.setdefault(interp.minor, interp)
    return sorted(by_minor.values())


_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_RANGE = re.compile(r"^(\d+\.\d+)-(\d+\.\d+)$")
_TAG = re.compile(r"^cp(\d)(\d+)$")


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def select(
    selectors: list[str], runner: Runner, found: list[Interpreter] | None = None
) -> list[Interpreter]:
    """Interpreters for ``--python`` values; default: every CPython >= 3.9 ``runner`` has
    (``found``: what discovery found already)."""
    if not selectors:
        chosen = [
            i
            for i in (found if found is not None else discover(runner))
            if i.version[:2] >= DEFAULT_MINIMUM
        ]
        if not chosen:
            raise InvalidInput("no CPython >= 3.9 found on PATH, in pyenv or in /opt/python")
        return chosen
    available = found if found is not None else discover(runner)
    result: dict[Path, Interpreter] = {}
    # Paths and globs are probed, each starting a Python: all at once, answers in order.
    with ThreadPoolExecutor(max(1, min(8, len(selectors)))) as pool:
        answers = list(pool.map(lambda sel: _matches(sel, available, runner), selectors))
    for sel, (matches, error) in zip(selectors, answers, strict=True):
        if error is not None:
            raise error
        if not matches:
            have = ", ".join(i.minor for i in available) or "none"
            raise InvalidInput(f"no Python matches {sel!r} (found: {have}; see --list-pythons)")
        for m in matches:
            result.setdefault(m.executable, m)
    return sorted(result.values())


def _matches(
    sel: str, available: list[Interpreter], runner: Runner
) -> tuple[list[Interpreter], InvalidInput | None]:
    """:func:`_match`, its refusal returned rather than raised (raised in selector order)."""
    try:
        return _match(sel, available, runner), None
    except InvalidInput as exc:
        return [], exc


def _match(sel: str, available: list[Interpreter], runner: Runner) -> list[Interpreter]:
    if m := _VERSION.match(sel):
        want = (int(m[1]), int(m[2]))
        return [i for i in available if i.version[:2] == want]
    if m := _RANGE.match(sel):
        low, high = _minor(m[1]), _minor(m[2])
        return [i for i in available if low <= i.version[:2] <= high]
    if m := _TAG.match(sel):
        want = (int(m[1]), int(m[2]))
        return [i for i in available if i.version[:2] == want]
    # Globs and paths name files where the interpreters live (in a container: its own).
    if any(c in sel for c in "*?["):
        return [i for i in (probe(_executable(p), runner) for p in runner.glob(sel)) if i]
    hits = runner.glob(sel)
    if hits:
        interp = probe(_executable(hits[0]), runner)
        if interp is None:
            raise InvalidInput(f"{sel} is not a working Python interpreter")
        return [interp]
    raise InvalidInput(
        f"cannot read --python {sel!r}: use a version (3.12), a range (3.10-3.13), a tag "
        f"(cp312), an interpreter path or a glob (/opt/python/cp3*) that exists "
        f"{'here' if runner.name == 'host' else 'in the ' + runner.name}"
    )


def _executable(path: Path) -> Path:
    """An interpreter's folder (``/opt/python/cp312-cp312``) means its ``bin/python``."""
    return path if path.name.startswith("python") else path / "bin" / "python"
