"""The gate before publishing: for each interpreter, a fresh virtual environment installs the
whole requirements set from the wheelhouse only, then imports every built project (or runs
the project's own test command, from its per-package override)."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.hints import tail
from wheelyard.build.interpreters import Interpreter


@dataclass(frozen=True)
class Verified:
    interpreter: Interpreter
    ok: bool
    log: Path
    failed: tuple[str, ...] = ()  # "install", modules that did not import, failed tests
    tail: tuple[str, ...] = ()
    skipped: bool = False  # this exact set passed before


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
    tests: Mapping[str, str] | None = None,
) -> Verified:
    """``tests`` maps a project to a shell command that replaces importing it."""
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
    commands_of = {canonicalize_name(k): v for k, v in (tests or {}).items()}
    modules: set[str] = set()
    commands: dict[str, str] = {}
    for wheel in built:
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        if project in commands_of:
            commands[project] = commands_of[project]
        else:
            modules.update(top_level_modules(wheel))
    # Everything runs outside the requirements folder, so a source checkout cannot shadow
    # the installed wheels.
    for module in sorted(modules):
        if env.run([python, "-c", f"import {module}"], log, cwd=venv) != 0:
            failed.append(module)
    activated = {
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for name, command in sorted(commands.items()):
        if env.run(["bash", "-c", command], log, activated, cwd=venv) != 0:
            failed.append(f"{name} (test: {command})")
    text = log.read_text()
    return Verified(interp, not failed, log, tuple(failed), tuple(tail(text)) if failed else ())
