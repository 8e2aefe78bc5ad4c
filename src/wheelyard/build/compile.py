"""Building wheels from sdists (PEP 517, through pip), in parallel, one log per build.

One failure never stops the others; each result says where its log is, its last lines and,
when the cause is recognisable, what to change.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.hints import hint, tail
from wheelyard.build.interpreters import Interpreter


@dataclass(frozen=True)
class BuildTask:
    project: str
    version: str
    interpreter: Interpreter
    source: str  # the sdist: a URL pip can fetch or a local path


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


def build_one(
    env: BuildEnvironment,
    task: BuildTask,
    wheelhouse: Path,
    extra_env: Mapping[str, str] | None = None,
) -> BuildResult:
    stem = f"{task.project}-{task.version}-{task.interpreter.tag}"
    out = wheelhouse / ".build" / stem
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log = wheelhouse / "logs" / f"{stem}.log"
    log.unlink(missing_ok=True)
    started = time.perf_counter()
    status = env.run(
        [
            str(task.interpreter.executable),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(out),
            task.source,
        ],
        log,
        extra_env,
    )
    seconds = time.perf_counter() - started
    wheels = sorted(out.glob("*.whl"))
    if status == 0 and wheels:
        return BuildResult(task, wheels[0], log, seconds)
    text = log.read_text(errors="replace")
    return BuildResult(task, None, log, seconds, tuple(tail(text)), hint(text))


def build_all(
    env: BuildEnvironment,
    tasks: Sequence[BuildTask],
    wheelhouse: Path,
    jobs: int,
    extra_env: Mapping[str, str] | None = None,
) -> list[BuildResult]:
    """Build every task, ``jobs`` at a time; results in the order of ``tasks``."""
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(lambda t: build_one(env, t, wheelhouse, extra_env), tasks))
