"""Carrying out a plan: fetch wheels the yard or upstream already has, build and repair the
rest (a pure project once, not once per interpreter), then verify every interpreter."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wheelyard.build.compile import BuildResult, BuildTask, build_all
from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.interpreters import Interpreter
from wheelyard.build.plan import Plan, Step
from wheelyard.build.repair import Repaired, RepairFailed, is_pure, repair
from wheelyard.build.verify import Verified, verify


@dataclass
class Outcome:
    """Everything a run produced, for the summary table and the exit status."""

    fetched: list[Path] = field(default_factory=list)
    built: list[tuple[BuildResult, Repaired | None]] = field(default_factory=list)
    repair_failures: list[tuple[BuildResult, str]] = field(default_factory=list)
    verified: list[Verified] = field(default_factory=list)

    def wheels(self) -> list[Path]:
        """The wheelhouse's share of this run: fetched and repaired wheels."""
        return self.fetched + [r.wheel for _, r in self.built if r is not None]

    @property
    def ok(self) -> bool:
        return (
            all(r.ok for r, _ in self.built)
            and not self.repair_failures
            and all(v.ok for v in self.verified)
        )


def _fetch(
    env: BuildEnvironment,
    interp: Interpreter,
    step: Step,
    wheelhouse: Path,
    yard_url: str | None,
    owner: str | None,
    token: str | None,
) -> Path:
    target = wheelhouse / step.filename
    if target.exists():
        return target
    if step.source == "yard":
        assert yard_url and owner
        headers = {"Authorization": f"token {token}"} if token else {}
        url = f"{yard_url.rstrip('/')}/api/download/{owner}/{step.project}/{step.version}/"
        with httpx.stream("GET", url + step.filename, headers=headers, timeout=300) as resp:
            resp.raise_for_status()
            with target.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    fh.write(chunk)
        return target
    # Upstream: the interpreter's pip fetches, so the user's index credentials and certs apply.
    log = wheelhouse / "logs" / "download.log"
    status = env.run(
        [
            str(interp.executable),
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
            str(wheelhouse),
            step.url,
        ],
        log,
    )
    if status != 0 or not target.exists():
        raise RuntimeError(f"could not download {step.filename}; see {log}")
    return target


def execute(
    plan: Plan,
    interpreters: Sequence[Interpreter],
    requirements: Path,
    wheelhouse: Path,
    env: BuildEnvironment,
    jobs: int,
    plat: str | None = None,
    yard_url: str | None = None,
    owner: str | None = None,
    token: str | None = None,
) -> Outcome:
    wheelhouse.mkdir(parents=True, exist_ok=True)
    by_minor: Mapping[str, Interpreter] = {i.minor: i for i in interpreters}
    outcome = Outcome()
    for step in plan.steps:
        if step.source in ("yard", "upstream"):
            interp = by_minor.get(step.python, interpreters[0])
            outcome.fetched.append(_fetch(env, interp, step, wheelhouse, yard_url, owner, token))

    # Build each (project, version) with one interpreter first; a pure result serves all.
    builds: dict[tuple[str, str], list[Step]] = defaultdict(list)
    for step in plan.by_source("build"):
        builds[(step.project, step.version)].append(step)
    first = [steps[0] for steps in builds.values()]
    results = _build(env, first, by_minor, wheelhouse, jobs)
    rest = [
        s
        for (key, steps), r in zip(builds.items(), results, strict=True)
        if not (r.wheel is not None and is_pure(r.wheel))
        for s in steps[1:]
    ]
    results += _build(env, rest, by_minor, wheelhouse, jobs)

    for result in results:
        if result.wheel is None:
            outcome.built.append((result, None))
            continue
        try:
            outcome.built.append((result, repair(result.wheel, wheelhouse, plat)))
        except RepairFailed as exc:
            outcome.repair_failures.append((result, str(exc)))
    if outcome.ok:
        built = [r.wheel for _, r in outcome.built if r is not None]
        work = wheelhouse / ".verify"
        outcome.verified = [
            verify(env, i, requirements, wheelhouse, built, work) for i in interpreters
        ]
        shutil.rmtree(work, ignore_errors=True)
    return outcome


def _build(
    env: BuildEnvironment,
    steps: Sequence[Step],
    by_minor: Mapping[str, Interpreter],
    wheelhouse: Path,
    jobs: int,
) -> list[BuildResult]:
    tasks = [
        BuildTask(s.project, s.version, by_minor[s.python], s.url or s.filename) for s in steps
    ]
    return build_all(env, tasks, wheelhouse, jobs)
