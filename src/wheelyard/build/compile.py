"""Building wheels from sdists (PEP 517, through pip), in parallel, one log per build.

Without extra build requirements pip's own build isolation is used. With them
(``requirements-build.txt`` or a package's ``build-requires``), each build gets a fresh venv
holding those plus the sdist's declared ``build-system.requires``, and pip builds in it with
``--no-build-isolation`` — the field's way (cibuildwheel's ``before-build``) of letting an
sdist import numpy or Cython without declaring them.

One failure never stops the others; each result says where its log is, its last lines and,
when the cause is recognisable, what to change.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.hints import hint, tail
from wheelyard.build.interpreters import Interpreter, venv_commands

# What pip assumes for an sdist without [build-system] (PEP 518).
_LEGACY_REQUIRES = ["setuptools>=40.8.0"]


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

    @property
    def ok(self) -> bool:
        return self.wheel is not None


def _pip(task: BuildTask) -> list[str]:
    return [str(task.interpreter.executable), "-m", "pip", "--disable-pip-version-check"]


def local_sdist(source: str, folder: Path) -> Path:
    """The sdist as a local file: a path, a file:// URL, or downloaded over http(s)."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme not in ("http", "https"):
        return Path(source)
    target = folder / unquote(Path(parsed.path).name)
    with httpx.stream("GET", source.split("#", 1)[0], follow_redirects=True, timeout=300) as resp:
        resp.raise_for_status()
        with target.open("wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)
    return target


def declared_build_requires(sdist: Path) -> list[str]:
    """``[build-system] requires`` of an sdist (pip's default when it declares none)."""
    text = None
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as zf:
            names = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml")
            ]
            text = zf.read(names[0]).decode() if names else None
    else:
        with tarfile.open(sdist) as tf:
            for member in tf:
                if member.name.count("/") == 1 and member.name.endswith("/pyproject.toml"):
                    handle = tf.extractfile(member)
                    text = handle.read().decode() if handle else None
                    break
    if text is None:
        return list(_LEGACY_REQUIRES)
    system = tomllib.loads(text).get("build-system")
    if not isinstance(system, dict) or "requires" not in system:
        return list(_LEGACY_REQUIRES)
    return [str(r) for r in system["requires"]]


def _prepared_build(
    env: BuildEnvironment, task: BuildTask, work: Path, out: Path, log: Path
) -> int:
    sdist = local_sdist(task.source, work)
    requirements = [a for f in task.requirement_files for a in ("-r", str(f))]
    requirements += declared_build_requires(sdist) + list(task.build_requires)
    create, pip = venv_commands(task.interpreter, work / "env")
    for cmd in (
        create,
        [*pip, "install", *requirements],
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(sdist)],
    ):
        status = env.run(cmd, log, task.environment, cwd=work)
        if status != 0:
            return status
    return 0


def build_one(env: BuildEnvironment, task: BuildTask, wheelhouse: Path) -> BuildResult:
    work = wheelhouse / ".build" / task.stem
    shutil.rmtree(work, ignore_errors=True)
    out = work / "out"
    out.mkdir(parents=True)
    log = wheelhouse / "logs" / f"{task.stem}.log"
    log.unlink(missing_ok=True)
    started = time.perf_counter()
    if task.prepared:
        try:
            status = _prepared_build(env, task, work, out, log)
        except (OSError, httpx.HTTPError, tarfile.TarError, zipfile.BadZipFile) as exc:
            with log.open("a") as fh:
                fh.write(f"could not prepare the build of {task.source}: {exc}\n")
            status = 1
    else:
        status = env.run(
            [*_pip(task), "wheel", "--no-deps", "-w", str(out), task.source],
            log,
            task.environment,
        )
    seconds = time.perf_counter() - started
    wheels = sorted(out.glob("*.whl"))
    if status == 0 and wheels:
        return BuildResult(task, wheels[0], log, seconds)
    text = log.read_text(errors="replace")
    return BuildResult(task, None, log, seconds, tuple(tail(text)), hint(text))


def build_all(
    env: BuildEnvironment, tasks: Sequence[BuildTask], wheelhouse: Path, jobs: int
) -> list[BuildResult]:
    """Build every task, ``jobs`` at a time; results in the order of ``tasks``."""
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(lambda t: build_one(env, t, wheelhouse), tasks))
