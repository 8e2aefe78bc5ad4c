"""Building wheels from sdists (PEP 517, through pip, or uv where uv made the environment),
in parallel, one log per build.

Each build runs with ``--no-build-isolation`` in a shared environment holding the sdist's
declared ``build-system.requires`` plus ``requirements-build.txt`` and the package's
``build-requires`` (``buildenvs.py``) — the field's way (cibuildwheel's ``before-build``) of
letting an sdist import numpy or Cython without declaring them. Without such extras, a build
that fails there is tried once more with pip's own isolation, which also installs what a
backend asks for only at build time.

One failure never stops the others; each result says where its log is, its last lines and,
when the cause is recognisable, what to change.
"""

from __future__ import annotations

import shutil
import tarfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wheelyard.builder import cputime
from wheelyard.builder.buildenvs import SharedEnvs
from wheelyard.builder.hints import hint, tail
from wheelyard.builder.interpreters import Interpreter, venv_commands
from wheelyard.builder.runners import Runner
from wheelyard.builder.sdist import declared_build_requires, fetch_sdist

UV_BUILD = (3, 8)  # the oldest Python uv builds for; older ones build with their own pip


@dataclass(frozen=True)
class BuildTask:
    project: str
    version: str
    interpreter: Interpreter
    source: str  # the sdist: a URL pip can fetch or a local path
    environment: Mapping[str, str] = field(default_factory=dict)
    requirement_files: tuple[Path, ...] = ()  # installed into the build env first
    build_requires: tuple[str, ...] = ()  # extra requirements for this project

    @property
    def stem(self) -> str:
        return f"{self.project}-{self.version}-{self.interpreter.tag}"

    @property
    def prepared(self) -> bool:
        """Whether this build needs its own prepared environment rather than pip's isolation."""
        return bool(self.requirement_files or self.build_requires)


@dataclass(frozen=True)
class BuildResult:
    task: BuildTask
    wheel: Path | None
    log: Path
    seconds: float
    tail: tuple[str, ...] = ()
    hint: str | None = None
    cpu: float = 0.0  # CPU seconds (user + system) of the build's processes

    @property
    def ok(self) -> bool:
        return self.wheel is not None


def _timed(task: BuildTask, cmd: list[str]) -> list[str]:
    """``cmd`` run under builder/cputime.py's wrapper, which writes its CPU seconds to the log."""
    return cputime.timed(task.interpreter.executable, cmd)


def _pip(task: BuildTask) -> list[str]:
    return [str(task.interpreter.executable), "-m", "pip", "--disable-pip-version-check"]


def _frontend(
    task: BuildTask, venv: Path, uv: Sequence[str] | None, sdist: Path, out: Path
) -> list[str]:
    """The command that builds ``sdist`` in the prepared ``venv``: ``uv build`` when uv makes
    the environments (it calls the backend itself, where pip starts twice per build with
    ``--python``), else pip; both with the environment as it is (``--no-build-isolation``)."""
    if uv is not None and task.interpreter.version[:2] >= UV_BUILD:
        python = str(venv / "bin" / "python")
        return [*uv, "build", "--quiet", "--wheel", "--no-build-isolation", "--python", python,
                "--out-dir", str(out), str(sdist)]  # fmt: skip
    pip = venv_commands(task.interpreter, venv)[1]
    return [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(sdist)]


def _isolated(runner: Runner, task: BuildTask, source: str, out: Path, log: Path) -> int:
    cmd = [*_pip(task), "wheel", "--no-deps", "-w", str(out), source]
    return runner.run(_timed(task, cmd), log, task.environment)


def build_one(
    runner: Runner, task: BuildTask, wheelhouse: Path, shared: SharedEnvs | None = None
) -> BuildResult:
    work = wheelhouse / ".build" / task.stem
    shutil.rmtree(work, ignore_errors=True)
    out = work / "out"
    out.mkdir(parents=True)
    log = wheelhouse / "logs" / f"{task.stem}.log"
    log.unlink(missing_ok=True)
    shared = shared or SharedEnvs(runner, wheelhouse / ".envs")
    started = time.perf_counter()
    try:
        sdist = fetch_sdist(task.source, wheelhouse / ".sdists")
        requires = (*declared_build_requires(sdist), *task.build_requires)
    except (OSError, httpx.HTTPError, tarfile.TarError, zipfile.BadZipFile, ValueError) as exc:
        with log.open("a") as fh:
            fh.write(f"could not read the sdist {task.source}: {exc}\n")
        sdist, requires = None, ()
    status = 1
    venv = (
        shared.venv(task.interpreter, requires, task.requirement_files, log, task.environment)
        if sdist is not None
        else None
    )
    if venv is not None and sdist is not None:
        cmd = _frontend(task, venv, shared.uv, sdist, out)
        status = runner.run(_timed(task, cmd), log, task.environment, cwd=work)
    if status != 0 and not task.prepared:
        # A backend may ask for more than it declares (get_requires_for_build_wheel): pip's
        # own isolation installs that too.
        with log.open("a") as fh:
            fh.write("# building again with pip's build isolation\n")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        status = _isolated(runner, task, str(sdist or task.source), out, log)
    seconds = time.perf_counter() - started
    wheels = sorted(out.glob("*.whl"))
    text = log.read_text(errors="replace")
    if status == 0 and wheels:
        return BuildResult(task, wheels[0], log, seconds, cpu=cputime.total(text))
    return BuildResult(task, None, log, seconds, tuple(tail(text)), hint(text), cputime.total(text))


def build_all(
    runner: Runner, tasks: Sequence[BuildTask], wheelhouse: Path, jobs: int
) -> list[BuildResult]:
    """Build every task, ``jobs`` at a time; results in the order of ``tasks``."""
    shared = SharedEnvs(runner, wheelhouse / ".envs")
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(lambda t: build_one(runner, t, wheelhouse, shared), tasks))
