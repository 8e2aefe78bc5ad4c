"""The gate before publishing: for each interpreter, a fresh virtual environment installs the
whole requirements set from the wheelhouse only, then imports every built project."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.hints import tail
from wheelyard.build.interpreters import Interpreter


@dataclass(frozen=True)
class Verified:
    interpreter: Interpreter
    ok: bool
    log: Path
    failed: tuple[str, ...] = ()  # "install" or the modules that did not import
    tail: tuple[str, ...] = ()


def top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names of a wheel (top_level.txt when present, else its files)."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        listed = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        if listed:
            return sorted(
                {m.strip() for m in zf.read(listed[0]).decode().splitlines() if m.strip()}
            )
    found = set()
    for name in names:
        first = name.split("/", 1)[0]
        if first.endswith((".dist-info", ".data", ".libs")):
            continue
        if "/" in name:
            found.add(first)
        elif name.endswith(".py"):
            found.add(name[:-3])
        elif name.endswith(".so"):
            found.add(name.split(".", 1)[0])
    return sorted(m for m in found if m.isidentifier())


def verify(
    env: BuildEnvironment,
    interp: Interpreter,
    requirements: Path,
    wheelhouse: Path,
    built: Iterable[Path],
    workdir: Path,
) -> Verified:
    venv = workdir / f"verify-{interp.tag}"
    log = wheelhouse / "logs" / f"verify-{interp.tag}.log"
    log.unlink(missing_ok=True)
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    steps = [
        [str(interp.executable), "-m", "venv", str(venv)],
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "-r",
            str(requirements),
        ],
    ]
    for cmd in steps:
        if env.run(cmd, log, cwd=requirements.parent) != 0:
            return Verified(interp, False, log, ("install",), tuple(tail(log.read_text())))
    failed = []
    # Imports run outside the requirements folder, so a source checkout cannot shadow them.
    for module in sorted({m for w in built for m in top_level_modules(w)}):
        if env.run([python, "-c", f"import {module}"], log, cwd=venv) != 0:
            failed.append(module)
    text = log.read_text()
    return Verified(interp, not failed, log, tuple(failed), tuple(tail(text)) if failed else ())
