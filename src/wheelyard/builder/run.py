"""Carrying out a plan: fetch wheels the yard or upstream already has, run build-setup.sh
once if anything is to be built, build and repair the rest (a pure project once, not once per
interpreter), then verify every interpreter whose exact wheel set has not passed before."""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import json
import shutil
import tarfile
import threading
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wheelyard.builder import buildflags, estimate, reuse, upstream
from wheelyard.builder import verified as record
from wheelyard.builder.buildenvs import Made, Need, SharedEnvs
from wheelyard.builder.compile import BuildResult, BuildTask, build_one
from wheelyard.builder.fetch import fetch
from wheelyard.builder.hook import SETUP_LOG, SetupFailed, Started, run_setup
from wheelyard.builder.interpreters import Interpreter, discover, probe
from wheelyard.builder.phases import Phases
from wheelyard.builder.plan import ANY, Plan, Step
from wheelyard.builder.progress import Reporter, Row
from wheelyard.builder.ready import Readiness
from wheelyard.builder.repair import PURE, Repaired, RepairFailed, is_pure, repair
from wheelyard.builder.runners import Runner
from wheelyard.builder.sdist import declared_build_requires, fetch_sdist
from wheelyard.builder.settings import BuildSettings
from wheelyard.builder.verify import Verified, verify
from wheelyard.client import ClientError, YardClient

BUILD_REQUIREMENTS = "requirements-build.txt"


@dataclass(frozen=True)
class Job:
    """The fixed inputs of one run."""

    folder: Path
    wheelhouse: Path
    interpreters: tuple[Interpreter, ...]
    settings: BuildSettings
    jobs: int
    token: str | None = None
    refresh: bool = False  # verify again even if this exact set passed before
    uv: tuple[str, ...] | None = None  # the uv command line, for verification venvs
    direct: bool = False  # upstream wheels downloaded by URL (uv resolved: no pip config)
    phases: Phases = field(default_factory=Phases, compare=False)
    # interpreter path → hash of the wheel set that passed, as the yard recorded it
    passed: Mapping[str, str] = field(default_factory=dict)
    # projects expected to build platform wheels (the yard holds some of theirs)
    platform: frozenset[str] = frozenset()
    setup: Started | None = field(default=None, compare=False)  # build-setup.sh begun ahead


@dataclass
class Outcome:
    """Everything a run produced, for the summary, ``--report`` and the exit status."""

    rows: list[Row] = field(default_factory=list)
    failed_builds: list[BuildResult] = field(default_factory=list)
    repair_failures: list[tuple[BuildTask, str]] = field(default_factory=list)
    fetch_failures: list[tuple[Step, str]] = field(default_factory=list)
    verified: list[Verified] = field(default_factory=list)
    setup_failed: SetupFailed | None = None
    wheels: list[Path] = field(default_factory=list)  # the wheelhouse's share of this run
    phases: Phases = field(default_factory=Phases)  # wall time per phase
    digests: dict[str, str] = field(default_factory=dict)  # interpreter path → set that passed
    build_envs: list[Made] = field(default_factory=list)  # shared build environments created

    @property
    def ok(self) -> bool:
        return not (
            self.failed_builds
            or self.repair_failures
            or self.fetch_failures
            or self.setup_failed
            or not all(v.ok for v in self.verified)
        )


def _load_seconds(wheelhouse: Path) -> dict[str, float]:
    try:
        data = json.loads((wheelhouse / ".cache" / "seconds.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _load_platform(wheelhouse: Path) -> set[str]:
    try:
        data = json.loads((wheelhouse / ".cache" / "platform.json").read_text())
    except (OSError, ValueError):
        return set()
    return {str(p) for p in data} if isinstance(data, list) else set()


def _save_platform(wheelhouse: Path, known: set[str], rows: Iterable[Row]) -> None:
    """Remember which projects built platform wheels: next time all interpreters start
    together."""
    platform = set(known)
    for row in rows:
        if row.source == "built" and row.state == "done":
            (platform.discard if row.tag == PURE else platform.add)(row.project)
    path = wheelhouse / ".cache" / "platform.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(sorted(platform)))
    tmp.replace(path)


def _save_seconds(wheelhouse: Path, history: dict[str, float], rows: Iterable[Row]) -> None:
    """Remember how long each project's builds take, to schedule the next run."""
    seconds = dict(history)
    for row in rows:
        if row.source == "built" and row.seconds:
            seconds[row.project] = max(row.seconds, seconds.get(row.project, 0.0))
    path = wheelhouse / ".cache" / "seconds.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(seconds, indent=1, sort_keys=True))
    tmp.replace(path)


# Seconds per weighted byte of compiled source when no project of the run has both a recorded
# time and an estimate to calibrate by (about what -O2/-O3 C compiles at).
_DEFAULT_RATE = 1e-4


def _seconds_per_byte(history: Mapping[str, float], estimates: Mapping[str, int]) -> float:
    """The median build seconds per estimated byte among projects known both ways."""
    rates = sorted(history[p] / cost for p, cost in estimates.items() if cost > 0 and p in history)
    return rates[len(rates) // 2] if rates else _DEFAULT_RATE


class Schedule:
    """The order builds start in (pure logic, no process). Each (project, version) is built
    with one interpreter first; a pure result serves all, a platform result queues the other
    interpreters' builds. A project known to build platform wheels (``platform``: its last
    build here made one; or, never built here, its sdist holds compiled sources: ``estimates``,
    builder/estimate.py) starts on every interpreter at once. Longest first: those of a slow
    project (as its first build just showed, as the last run recorded in ``history``, or as
    its estimate suggests) start before quick ones, so no long build is left running alone at
    the end."""

    def __init__(
        self,
        steps: Iterable[Step],
        history: Mapping[str, float],
        platform: Iterable[str] = (),
        estimates: Mapping[str, int] | None = None,
    ) -> None:
        self.groups: dict[tuple[str, str], list[Step]] = defaultdict(list)
        for step in steps:
            self.groups[(step.project, step.version)].append(step)
        self.history = dict(history)
        self.estimates = dict(estimates or {})
        self._rate = _seconds_per_byte(self.history, self.estimates)
        self._order = itertools.count()
        self._queued: set[tuple[str, str]] = set()
        self._pure: set[tuple[str, str]] = set()
        self._ready = [
            (-self.seconds(k[0]), next(self._order), g[0], True) for k, g in self.groups.items()
        ]
        heapq.heapify(self._ready)
        known = set(platform)
        guessed = {p for p, cost in self.estimates.items() if cost > 0 and p not in self.history}
        for (project, _version), group in self.groups.items():
            if project in known or project in guessed:
                self.queue_others(group[0], self.seconds(project))

    def seconds(self, project: str) -> float:
        """How long a build of ``project`` is expected to take (0: no idea)."""
        if project in self.history:
            return self.history[project]
        return self.estimates.get(project, 0) * self._rate

    @property
    def ready(self) -> bool:
        return bool(self._ready)

    def upcoming(self) -> list[Step]:
        """The builds queued now, in the order they will start."""
        return [entry[2] for entry in sorted(self._ready, key=lambda e: e[:2])]

    def pop(self) -> tuple[Step, bool]:
        """The next build to start, and whether it is its project's first."""
        _, _, step, first = heapq.heappop(self._ready)
        return step, first

    def group(self, step: Step) -> list[Step]:
        """Every interpreter's step of ``step``'s (project, version), the first build first."""
        return self.groups[(step.project, step.version)]

    def drop(self, step: Step) -> bool:
        """``step``'s project made a pure wheel, which serves every interpreter: its builds
        not started yet are dropped. True the first time it is said of that project."""
        key = (step.project, step.version)
        if key in self._pure:
            return False
        self._pure.add(key)
        self._queued.add(key)
        self._ready = [e for e in self._ready if (e[2].project, e[2].version) != key]
        heapq.heapify(self._ready)
        return True

    def queue_others(self, first: Step, seconds: float) -> None:
        """The first build made a platform wheel in ``seconds``: the other interpreters of
        its project are to be built too, ahead of projects known to be quicker."""
        key = (first.project, first.version)
        if key in self._queued:
            return
        self._queued.add(key)
        for other in self.group(first)[1:]:
            heapq.heappush(self._ready, (-seconds, next(self._order), other, False))


class _Run:
    def __init__(self, plan: Plan, job: Job, runner: Runner, reporter: Reporter) -> None:
        self.plan, self.job, self.runner, self.reporter = plan, job, runner, reporter
        self.by_minor = {i.minor: i for i in job.interpreters}
        self.outcome = Outcome(phases=job.phases)
        self.rows: dict[tuple[str, str, str], Row] = {}
        # per interpreter minor: the wheels its verification installs from
        self.sets: dict[str, list[Path]] = defaultdict(list)
        self.ours: list[Path] = []  # wheels we built or took from the yard: verify imports them
        # per build environment (a package's own image is a second one): its shared build
        # envs and what its build-setup.sh exported
        self.shared: dict[int, SharedEnvs] = {}
        self.setup: dict[int, dict[str, str]] = {}
        # Verification: each interpreter as soon as its builds settled and downloads are in.
        self.work = job.wheelhouse / ".verify"
        self.readiness = Readiness((), ())
        self._fetched = threading.Event()
        self._verifying: dict[str, Future[tuple[Verified, str] | None]] = {}
        self._verify_pool: ThreadPoolExecutor | None = None
        self._stack = ExitStack()  # holds the clean verification environment while in use
        self._clean: Runner | None = None
        self._clean_lock = threading.Lock()
        # (project, version) → the pure wheel its first finished build made in this run
        self._pure: dict[tuple[str, str], Repaired] = {}
        self._pure_lock = threading.Lock()
        # works out, in the background, the build environments to make ahead (schedule_all)
        self._preparing = ThreadPoolExecutor(1, thread_name_prefix="wheelyard-prepare")
        self._shared_lock = threading.Lock()

    def runner_for(self, project: str) -> Runner:
        image = self.job.settings.override(project).container
        return self.runner.variant(image) if image else self.runner

    def shared_for(self, runner: Runner) -> SharedEnvs:
        with self._shared_lock:  # builds and the environments made ahead ask at once
            if id(runner) not in self.shared:
                root = self.job.wheelhouse / ".envs"
                if runner is not self.runner:
                    # Another image: its own folder, so two images never build one env at once.
                    digest = hashlib.sha256(runner.identity.encode()).hexdigest()[:12]
                    root = root / f"image-{digest}"
                # uv resolved: pip's configuration is not in play
                uv = self.job.uv if self.job.direct else None
                self.shared[id(runner)] = SharedEnvs(runner, root, self.job.refresh, uv)
            return self.shared[id(runner)]

    def show(self, row: Row, **changes: object) -> Row:
        row = dataclasses.replace(row, **changes)  # type: ignore[arg-type]
        self.rows[row.key] = row
        self.reporter.update(row)
        return row

    def add_to_sets(self, python: str, wheel: Path) -> None:
        for minor in self.by_minor if python == ANY else [python]:
            self.sets[minor].append(wheel)

    def pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max(1, self.job.jobs))

    # -- fetch --------------------------------------------------------------------------
    def fetch(self, steps: Sequence[Step]) -> None:
        url, owner = self.job.settings.url, self.job.settings.owner
        client, yard = None, None
        if url and owner and any(step.source == "yard" for step in steps):
            # One client (one connection pool) for every download from the yard in this run.
            client = YardClient(url, self.job.token)
            yard = (client, owner)

        def one(step: Step) -> None:
            row = self.rows[(step.project, step.version, step.python)]
            row = self.show(row, state="fetching", filename=step.filename)
            interp = self.by_minor.get(step.python, self.job.interpreters[0])
            try:
                with self.job.phases.timing("fetch"):
                    path = fetch(
                        self.runner, self.job.wheelhouse, interp, step, yard, self.job.direct
                    )
            except (OSError, ClientError, httpx.HTTPError) as exc:
                self.outcome.fetch_failures.append((step, str(exc)))
                self.show(row, state="failed", detail=str(exc))
                return
            tag = PURE if is_pure(path) else path.name[:-4].rsplit("-", 1)[-1]
            self.show(row, state="done", tag=tag)
            self.add_to_sets(step.python, path)
            self.outcome.wheels.append(path)
            if step.source == "yard":
                self.ours.append(path)

        try:
            # Downloads wait on the network, not the CPU: more at once than there are builds.
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(one, steps))
        finally:
            if client is not None:
                client.close()

    # -- build + repair ------------------------------------------------------------------
    def task(self, step: Step) -> BuildTask:
        override = self.job.settings.override(step.project)
        environment = self.setup[id(self.runner_for(step.project))]
        build_reqs = self.job.folder / BUILD_REQUIREMENTS
        return BuildTask(
            step.project,
            step.version,
            self.by_minor[step.python],
            step.url or step.filename,
            {**environment, **override.environment},
            (build_reqs,) if build_reqs.is_file() else (),
            override.build_requires,
        )

    def inputs(self, task: BuildTask, options: Sequence[str]) -> tuple[BuildTask, str | None]:
        """``task`` on the fetched sdist with its build flags, and the key of its inputs
        (builder/reuse.py); the task as given and None when the sdist cannot be read."""
        settings = self.job.settings
        try:
            sdist = fetch_sdist(task.source, self.job.wheelhouse / ".sdists")
            environment = buildflags.environment(task.environment, settings.strip, sdist)
            task = dataclasses.replace(task, source=str(sdist), environment=environment)
            exclude = settings.override(task.project).exclude
            repair_inputs = (settings.plat or "", *exclude, *options)
            key = reuse.inputs(
                sdist,
                task.interpreter,
                environment,
                task.requirement_files,
                task.build_requires,
                repair_inputs,
            ).key()
        except (OSError, ValueError, httpx.HTTPError, tarfile.TarError, zipfile.BadZipFile):
            return task, None  # build_one fetches again and reports why it could not
        return task, key

    def make(self, task: BuildTask) -> Repaired | None:
        """Build then repair one task, showing each state; None when either failed."""
        row = self.rows[(task.project, task.version, task.interpreter.minor)]
        settings = self.job.settings
        exclude = settings.override(task.project).exclude
        options = buildflags.repair_flags(self.runner_for(task.project), settings.strip)
        task, key = self.inputs(task, options)
        found = reuse.lookup(self.job.wheelhouse, key) if key and not self.job.refresh else None
        if found is not None:
            repaired = Repaired(found.wheel, found.policy, found.grafted)
            if found.policy == PURE:
                with self._pure_lock:
                    first = self._pure.setdefault((task.project, task.version), repaired)
                if first is not repaired:
                    self.show(row, state="done", filename=first.wheel.name, tag=PURE,
                              detail="pure: built once")  # fmt: skip
                    return first
            self.show(row, state="done", filename=found.wheel.name, tag=found.policy,
                      grafted=found.grafted, detail="reused: inputs unchanged")  # fmt: skip
            self._keep(task, repaired)
            return repaired
        row = self.show(row, state="building")
        runner = self.runner_for(task.project)
        with self.job.phases.timing("build"):
            result = build_one(runner, task, self.job.wheelhouse, self.shared_for(runner))
        row = self.show(row, seconds=result.seconds, cpu=result.cpu, log=str(result.log))
        if result.wheel is None:
            self.outcome.failed_builds.append(result)
            self.show(row, state="failed", detail=result.hint or "build failed")
            return None
        row = self.show(row, state="repairing")
        try:
            guard = self._pure_lock if is_pure(result.wheel) else nullcontext()
            with self.job.phases.timing("repair"), guard:
                # A pure wheel is copied once: builds of other interpreters started together
                # (the project was expected to build platform wheels) take that one.
                twin = self._pure.get((task.project, task.version))
                if twin is not None:
                    self.show(row, state="done", filename=twin.wheel.name, tag=PURE,
                              detail="pure: built once")  # fmt: skip
                    return twin
                repaired = repair(
                    result.wheel,
                    self.job.wheelhouse,
                    runner,
                    settings.plat,
                    exclude,
                    task.interpreter.platforms,
                    options,
                    task.environment,
                )
                if repaired.policy == PURE:
                    self._pure[(task.project, task.version)] = repaired
        except RepairFailed as exc:
            self.outcome.repair_failures.append((task, str(exc)))
            self.show(row, state="failed", detail=str(exc))
            return None
        self.show(
            row,
            state="done",
            filename=repaired.wheel.name,
            tag=repaired.policy,
            grafted=repaired.grafted,
        )
        if key:
            reuse.remember(
                self.job.wheelhouse, key, repaired.wheel, repaired.policy, repaired.grafted
            )
        self._keep(task, repaired)
        return repaired

    def _keep(self, task: BuildTask, repaired: Repaired) -> None:
        self.outcome.wheels.append(repaired.wheel)
        self.ours.append(repaired.wheel)
        if repaired.policy != PURE:
            self.add_to_sets(task.interpreter.minor, repaired.wheel)

    def estimate(self, step: Step) -> int:
        """The sdist's compiled-source estimate (builder/estimate.py), fetching it for the
        builds; 0 when it cannot be fetched (its build then reports why)."""
        try:
            sdist = fetch_sdist(step.url or step.filename, self.job.wheelhouse / ".sdists")
        except (OSError, ValueError, httpx.HTTPError):
            return 0
        return estimate.compiled_bytes(sdist)

    def build(self, steps: Sequence[Step]) -> None:
        # Every sdist is fetched at once, while build-setup.sh runs: its file list orders the
        # builds, and each build then finds it here.
        firsts: dict[tuple[str, str], Step] = {}
        for step in steps:
            firsts.setdefault((step.project, step.version), step)
        with ThreadPoolExecutor(8) as pool:
            costs = {key: pool.submit(self.estimate, step) for key, step in firsts.items()}
            if not self.setup_all(steps):
                return
        estimates: dict[str, int] = {}
        for (project, _version), cost in costs.items():
            estimates[project] = max(estimates.get(project, 0), cost.result())
        self.schedule_all(steps, estimates)

    def setup_all(self, steps: Sequence[Step]) -> bool:
        """build-setup.sh, once in each environment that builds something; False if failed."""
        found = {id(r): r for r in (self.runner_for(step.project) for step in steps)}
        runners = sorted(found.values(), key=lambda r: r is not self.runner)
        ahead = self.job.setup
        for number, runner in enumerate(runners):
            name = SETUP_LOG if number == 0 else f"build-setup-{number + 1}.log"
            log = self.job.wheelhouse / "logs" / name
            try:
                if ahead is not None and ahead.runner is runner:
                    environment = ahead.result()
                else:
                    environment = run_setup(runner, self.job.folder, log)
            except SetupFailed as exc:
                self.outcome.setup_failed = exc
                for step in steps:
                    row = self.rows[(step.project, step.version, step.python)]
                    self.show(row, state="failed", detail="build-setup.sh failed")
                return False
            self.setup[id(runner)] = environment
            if environment:
                where = f" (in {runner.identity})" if len(runners) > 1 else ""
                self.reporter.message(f"build-setup.sh set {', '.join(sorted(environment))}{where}")
        return True

    def schedule_all(self, steps: Sequence[Step], estimates: Mapping[str, int]) -> None:
        """Build and repair every step, ``jobs`` at a time, in the :class:`Schedule`'s order."""
        history = _load_seconds(self.job.wheelhouse)
        platform = _load_platform(self.job.wheelhouse)
        schedule = Schedule(steps, history, platform | self.job.platform, estimates)
        # The environments of the builds queued now are made ahead, in the same order; what
        # they are is worked out in the background too (each build's inputs are hashed).
        self._preparing.submit(self.prepare, schedule.upcoming())
        try:
            self.build_in_order(schedule)
        finally:
            # The builds are over: environments not begun are not needed.
            self._preparing.shutdown(wait=True, cancel_futures=True)
            for envs in list(self.shared.values()):
                envs.close()
        for envs in self.shared.values():
            self.outcome.build_envs.extend(envs.made())
        _save_seconds(self.job.wheelhouse, history, self.rows.values())
        _save_platform(self.job.wheelhouse, platform, self.rows.values())

    def build_in_order(self, schedule: Schedule) -> None:
        """Build and repair every step of ``schedule``, ``jobs`` at a time."""
        with self.pool() as pool:
            pending: dict[Future[Repaired | None], tuple[Step, bool]] = {}
            while schedule.ready or pending:
                while schedule.ready and len(pending) < self.job.jobs:
                    step, first = schedule.pop()
                    pending[pool.submit(self.make, self.task(step))] = (step, first)
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    step, first = pending.pop(future)
                    repaired = future.result()
                    if repaired is not None and repaired.policy == PURE:
                        # Served by one build: the rest of its project's builds are dropped
                        # (or, already running, take that wheel when they finish).
                        if schedule.drop(step):
                            self.share_pure(schedule.group(step), step, repaired)
                        self.start_verifying(self.readiness.settle(step))
                        continue
                    # Settled once its wheel is in the interpreter's set (verify may start).
                    self.start_verifying(self.readiness.settle(step))
                    if first:
                        took = self.rows[(step.project, step.version, step.python)].seconds
                        schedule.queue_others(step, took)
                        self._preparing.submit(self.prepare, schedule.group(step)[1:])

    def need(self, step: Step) -> Need | None:
        """The shared build environment ``step``'s build will ask for (as build_one does);
        None when it will not build (its wheel is reused) or its sdist cannot be read (the
        build reports why)."""
        task = self.task(step)
        options = buildflags.repair_flags(self.runner_for(task.project), self.job.settings.strip)
        task, key = self.inputs(task, options)
        if key is None or (not self.job.refresh and reuse.lookup(self.job.wheelhouse, key)):
            return None
        try:
            requires = (*declared_build_requires(Path(task.source)), *task.build_requires)
        except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile):
            return None
        return Need(task.interpreter, requires, task.requirement_files, task.environment)

    def prepare(self, steps: Sequence[Step]) -> None:
        """Have these builds' environments made ahead (buildenvs.py)."""
        logs = self.job.wheelhouse / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for step in steps:
            need = self.need(step)
            if need is not None:
                envs = self.shared_for(self.runner_for(step.project))
                envs.ahead([need], logs, self.job.phases)

    def share_pure(self, group: Sequence[Step], built: Step, repaired: Repaired) -> None:
        """``built`` made a pure wheel: it serves every interpreter of its project."""
        self.add_to_sets(ANY, repaired.wheel)
        others = [step for step in group if step != built]
        for step in others:
            row = self.rows[(step.project, step.version, step.python)]
            self.show(
                row, state="done", filename=repaired.wheel.name, tag=PURE, detail="pure: built once"
            )
            self.start_verifying(self.readiness.settle(step))

    # -- verify --------------------------------------------------------------------------
    def broken(self) -> bool:
        """Whether a build, repair, fetch or build-setup.sh failed: nothing is verified then."""
        o = self.outcome
        return bool(o.failed_builds or o.repair_failures or o.fetch_failures or o.setup_failed)

    def clean(self) -> Runner:
        """The environment verification runs in, entered on first use (``Runner.clean``)."""
        with self._clean_lock:
            if self._clean is None:
                self._clean = self._stack.enter_context(self.runner.clean())
            return self._clean

    def start_verifying(self, minors: Iterable[str]) -> None:
        """Verify these interpreters (their builds all settled) once the downloads are in."""
        assert self._verify_pool is not None, "run() opens the pool"
        for minor in minors:
            interp = self.by_minor[minor]
            self._verifying[minor] = self._verify_pool.submit(self.verify_when_fetched, interp)

    def verify_when_fetched(self, interp: Interpreter) -> tuple[Verified, str] | None:
        self._fetched.wait()
        if self.broken():
            return None
        return self.verify_one(interp)

    def verify_one(self, interp: Interpreter) -> tuple[Verified, str]:
        """The verdict for one interpreter and the hash of the set it judged."""
        clean = self.clean()
        tests = {n: o.test for n, o in self.job.settings.packages.items() if o.test}
        wheels = self.sets[interp.minor]
        pins = self.plan.sets.get(interp.minor, ())
        digest = record.set_hash(interp, pins, wheels, tests, clean.identity)
        log = self.job.wheelhouse / "logs" / f"verify-{interp.tag}.log"
        if not self.job.refresh and (
            record.is_verified(self.job.wheelhouse, interp, digest)
            or self.job.passed.get(interp.record_key) == digest
        ):
            self.reporter.message(f"verify Python {interp.minor}: passed before, skipped")
            return Verified(interp, True, log, skipped=True), digest
        there = counterpart(clean, interp) if clean is not self.runner else interp
        if there is None:
            missing = (f"no Python {interp.minor} in {clean.identity}",)
            return Verified(interp, False, log, missing), digest
        self.reporter.message(f"verify Python {interp.minor}: installing and importing")
        # Only this interpreter's own wheels are imported (another's may not install here).
        mine = set(wheels)
        ours = [w for w in self.ours if w in mine]
        with self.job.phases.timing("verify"):
            verdict = verify(
                clean, there, pins, self.job.wheelhouse, ours, self.work, tests, self.job.uv
            )
        return dataclasses.replace(verdict, interpreter=interp), digest

    def finish_verifying(self) -> None:
        """Wait for every verification (those not started yet start now, in the order of
        the interpreters), then keep the passes."""
        left = [i.minor for i in self.job.interpreters if i.minor not in self._verifying]
        self.start_verifying(left)
        verdicts = [self._verifying[i.minor].result() for i in self.job.interpreters]
        if self.broken():
            return
        where = self.clean().identity
        for verdict in verdicts:
            if verdict is None:
                continue
            v, digest = verdict
            self.outcome.verified.append(v)
            if v.ok:
                self.outcome.digests[v.interpreter.record_key] = digest
            if v.ok and not v.skipped:
                record.record(self.job.wheelhouse, v.interpreter, digest, where)

    def run(self) -> Outcome:
        self.job.wheelhouse.mkdir(parents=True, exist_ok=True)
        for step in self.plan.steps:
            source = "built" if step.source == "build" else step.source
            self.show(Row(step.project, step.version, step.python, source))
        with self._stack, ThreadPoolExecutor(max(1, self.job.jobs)) as verifying:
            self._verify_pool = verifying
            self._carry_out()
        shutil.rmtree(self.work, ignore_errors=True)
        moved = reuse.set_aside(self.job.wheelhouse, self.outcome.wheels)
        if moved:
            self.reporter.message(
                f"{len(moved)} wheel{'s' if len(moved) > 1 else ''} of earlier runs moved to "
                f"{self.job.wheelhouse / reuse.SUPERSEDED}"
            )
        self.outcome.rows = list(self.rows.values())
        return self.outcome

    def _carry_out(self) -> None:
        # Downloads overlap the builds: a build needs no fetched wheel, verification needs all.
        def fetch_all() -> None:
            try:
                self.fetch([s for s in self.plan.steps if s.source in ("yard", "upstream")])
            finally:
                self._fetched.set()

        fetching = threading.Thread(target=fetch_all, name="wheelyard-fetch")
        fetching.start()
        theirs: dict[tuple[str, str, str], int] = {}
        sizing = threading.Thread(
            target=lambda: theirs.update(upstream.sizes(self.plan.steps, self.job.interpreters)),
            name="wheelyard-upstream-sizes",
            daemon=True,  # never holds the run up: a slow answer is simply not shown
        )
        sizing.start()
        to_build = self.plan.by_source("build")
        self.readiness = Readiness(to_build, [i.minor for i in self.job.interpreters])
        # Interpreters with nothing to build are verified as soon as their downloads are in.
        self.start_verifying(self.readiness.ready())
        try:
            if to_build:
                self.build(to_build)
        finally:
            fetching.join()
        self.finish_verifying()
        sizing.join(timeout=10)
        for row in list(self.rows.values()):
            wheel = self.job.wheelhouse / row.filename
            if row.state == "done" and row.filename and wheel.is_file():
                self.show(row, size=wheel.stat().st_size, upstream_size=theirs.get(row.key, 0))


def counterpart(clean: Runner, interp: Interpreter) -> Interpreter | None:
    """``interp``'s twin in a verify environment: the same executable when it has it (the
    same image), else its Python of the same minor version (another image)."""
    same = probe(interp.executable, clean)
    if same is not None and same.minor == interp.minor:
        return same
    return next((i for i in discover(clean) if i.minor == interp.minor), None)


def execute(plan: Plan, job: Job, runner: Runner, reporter: Reporter) -> Outcome:
    return _Run(plan, job, runner, reporter).run()
