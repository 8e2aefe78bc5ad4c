"""The builder as a library: :func:`plan` (interpreters, resolution, the yard's holdings, the
plan), :func:`run` (carry the plan out), :func:`publish` (the wheelhouse to a label) and
:func:`report` (the run as data). ``wheelyard build`` and ``bench/builder.py`` call these; the
CLI only parses arguments, loads settings and prints.

Every step gets its runner (where commands run) explicitly, and every result is typed data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wheelyard.builder import partial, preflight
from wheelyard.builder import uv as uvtool
from wheelyard.builder.hook import SCRIPT as SETUP_SCRIPT
from wheelyard.builder.hook import SETUP_LOG, Started
from wheelyard.builder.interpreters import Interpreter, select
from wheelyard.builder.phases import Phases
from wheelyard.builder.pinned import How, Pinned, Resolution, read_pinned, resolve_all
from wheelyard.builder.plan import Plan, make_plan, platform_projects
from wheelyard.builder.progress import Reporter
from wheelyard.builder.publish import Published, default_label
from wheelyard.builder.publish import publish as publish_files
from wheelyard.builder.run import Job, Outcome, execute
from wheelyard.builder.runners import Runner
from wheelyard.builder.settings import BuildSettings
from wheelyard.builder.yardquery import held_files
from wheelyard.builder.yardrecord import REQUIREMENTS, Record, inputs_key
from wheelyard.client import ClientError, YardClient
from wheelyard.errors import InvalidInput

Held = Mapping[str, Mapping[str, str]]  # project → {file name: sha256} the owner holds


def _no_token() -> str | None:
    return None


@dataclass(frozen=True)
class Request:
    """What to build and how: the folder holding requirements.txt, its settings, and pip's
    configuration variables (they key the resolution cache)."""

    folder: Path
    settings: BuildSettings
    environ: Mapping[str, str]
    refresh: bool = False  # resolve and verify again even if nothing changed
    # Asked each time the yard is contacted (a --token-file is read when first needed).
    token: Callable[[], str | None] = _no_token
    upload: bool = False  # publishing follows: checked before any work (builder/preflight.py)
    phases: Phases = dataclasses.field(default_factory=Phases, compare=False)

    def __post_init__(self) -> None:
        # Absolute: commands are written with host paths that a container runner maps to its
        # own, and it can map only absolute ones (``wheelyard build .``).
        object.__setattr__(self, "folder", Path(self.folder).absolute())

    @property
    def requirements(self) -> Path:
        return self.folder / REQUIREMENTS

    @property
    def wheelhouse(self) -> Path:
        return self.settings.wheelhouse.absolute()

    @property
    def jobs(self) -> int:
        return self.settings.jobs or os.cpu_count() or 1


@dataclass(frozen=True)
class Planned:
    """A plan and what it was made from."""

    request: Request
    interpreters: tuple[Interpreter, ...]
    resolutions: Mapping[Interpreter, Resolution]
    held: Held
    plan: Plan
    warnings: tuple[str, ...] = ()  # things the user should change, said before the run
    key: str = ""  # the hash of every input of the run (builder/yardrecord.py)
    record: Record | None = None  # what the yard kept under that key from an earlier run
    lines_key: str = ""  # the hash of every input but the pins (builder/partial.py)
    setup: Started | None = None  # build-setup.sh started ahead (plan(ahead=True))

    def notes(self) -> list[tuple[Interpreter, Resolution]]:
        """Resolutions worth telling the user about: all but a plain full resolution."""
        return [(i, r) for i, r in self.resolutions.items() if r.how is not How.RESOLVED]


def no_binary_warnings(requirements: Path) -> list[str]:
    """A ``--no-binary`` line in requirements.txt: installing from the label with that file
    would refuse the very wheels built for it."""
    try:
        text = requirements.read_text()
    except OSError:
        return []
    lines = [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    if not any(line.startswith("--no-binary") for line in lines):
        return []
    return [
        f"{requirements.name} says --no-binary: pip install -r {requirements.name} from the "
        "label will refuse the wheels built for it; name those projects in the no-binary "
        "setting (or --no-binary) instead and remove the line"
    ]


def interpreters(settings: BuildSettings, runner: Runner) -> list[Interpreter]:
    """The interpreters the ``python`` setting selects among those ``runner`` has."""
    wanted = list(settings.python)
    preflight.selectors(wanted)
    # Interpreters named by path need no discovery (it probes every Python there is).
    paths_only = bool(wanted) and all(Path(w).is_file() for w in wanted)
    try:
        return select(wanted, runner, [] if paths_only else None)
    except InvalidInput:
        preflight.old_paths(wanted, runner)  # a Python 2.7 path: say so rather than "not working"
        raise


def resolve(
    request: Request, interps: list[Interpreter], runner: Runner
) -> dict[Interpreter, Resolution]:
    """Each interpreter's closure. pip must be told what is built from source, or it resolves
    to a wheel; with ``from-source``, a first pass finds the whole closure and, if it holds
    more than the forced projects, a second pass resolves all of it as sdists."""
    settings = request.settings
    forced = set(settings.forced_from_source())
    cache = request.wheelhouse / ".cache"
    chosen = uvtool.choose(settings.resolver, request.environ, runner)
    by_uv = [i for i in interps if chosen is not None or uvtool.needs_uv(i)]
    by_pip = [i for i in interps if i not in by_uv]
    uv = chosen or (uvtool.find(runner) if by_uv else None)
    pinned = read_pinned(request.requirements) is not None

    def with_uv(which: list[Interpreter], pip_args: list[str]) -> dict[Interpreter, Resolution]:
        """uv's resolution of ``which`` (all at once, else each alone); an interpreter is
        missing from it when uv failed where pip may do (``resolver = "auto"``:
        requirements.txt may hold what only pip reads, such as per-line options)."""
        assert uv is not None, "preflight refuses interpreters no resolver can serve"

        def kept(group: list[Interpreter]) -> dict[Interpreter, Resolution]:
            found, was_kept = uvtool.resolve_kept(
                uv,
                group,
                request.requirements,
                runner,
                request.environ,
                pip_args,
                cache,
                request.refresh,
            )
            how = How.REUSED if was_kept else How.UV
            return {i: Resolution(tuple(closure), how) for i, closure in found.items()}

        # A pinned set: one universal resolution builds each sdist's metadata once, where one
        # run per interpreter builds it in each (interpreters without markers known: alone).
        if len(which) > 1 and pinned and all(i.markers for i in which):
            try:
                return kept(which)
            except InvalidInput:
                pass  # each alone below: the error then names the interpreter

        def alone(interp: Interpreter) -> dict[Interpreter, Resolution]:
            try:
                return kept([interp])
            except InvalidInput:
                if settings.resolver == "uv" or uvtool.needs_uv(interp):
                    raise
                return {}

        found: dict[Interpreter, Resolution] = {}
        with ThreadPoolExecutor(max(1, len(which))) as pool:
            for answer in pool.map(alone, which):
                found.update(answer)
        return found

    def once(names: set[str]) -> dict[Interpreter, Resolution]:
        pip_args = ["--no-binary", ",".join(sorted(names))] if names else []

        def with_pip(which: list[Interpreter]) -> dict[Interpreter, Resolution]:
            if not which:
                return {}
            return resolve_all(
                which,
                request.requirements,
                cache,
                runner,
                request.environ,
                request.refresh,
                pip_args,
                request.jobs,
            )

        with ThreadPoolExecutor(1) as pool:
            by_uv_done = pool.submit(with_uv, by_uv, pip_args) if by_uv else None
            found = with_pip(by_pip)
            answers = by_uv_done.result() if by_uv_done is not None else {}
        found.update(answers)
        found.update(with_pip([i for i in by_uv if i not in answers]))
        return {i: found[i] for i in interps}

    found = once(forced)
    if settings.from_source:
        everything = {r.name for res in found.values() for r in res.closure}
        if everything - forced:
            found = once(forced | everything)
    return found


def held(request: Request, projects: Iterable[str]) -> dict[str, dict[str, str]]:
    """What the owner already holds in the yard of these projects (nothing without a yard)."""
    settings = request.settings
    if not settings.url:
        return {}
    if not settings.owner:
        raise InvalidInput("--url needs --owner")
    with YardClient(settings.url, request.token()) as yard:
        return held_files(yard, settings.owner, projects)


def record_label(request: Request) -> str | None:
    """The label whose build records the run reads and writes: the setting, else the git
    branch; None when neither is known (no records then)."""
    try:
        return request.settings.label or default_label(request.folder)
    except (InvalidInput, OSError):  # OSError: no git here
        return None


def stored_record(request: Request, key: str) -> Record | None:
    """The yard's record of an earlier run with the same inputs (one request); None without
    a yard or label, with --refresh, or when the yard has none (or cannot be asked: the run
    then simply does the work)."""
    settings = request.settings
    if request.refresh or not (settings.url and settings.owner):
        return None
    label = record_label(request)
    if label is None:
        return None
    try:
        with YardClient(settings.url, request.token()) as yard:
            data = yard.build_record(settings.owner, label, key)
    except ClientError:
        return None
    return Record.from_json(data) if data else None


def resolve_changed(
    request: Request,
    interps: list[Interpreter],
    runner: Runner,
    pinned: Pinned | None,
    lines_key: str,
) -> dict[Interpreter, Resolution] | None:
    """Closures built on the yard's record of this set with other pins: only the lines that
    changed are resolved (builder/partial.py); None when the set is to be resolved whole."""
    settings = request.settings
    if pinned is None or not lines_key or settings.from_source:
        return None
    uv = uvtool.choose(settings.resolver, request.environ, runner)
    earlier = stored_record(request, lines_key) if uv is not None else None
    if uv is None or earlier is None:
        return None
    forced = sorted(settings.forced_from_source())
    pip_args = ["--no-binary", ",".join(forced)] if forced else []
    found = partial.resolve_changed(
        uv, interps, request.requirements, pinned, earlier, runner, request.environ, pip_args
    )
    if found is None:
        return None
    closures, changed = found
    return {i: Resolution(tuple(c), How.CHANGED, changed=changed) for i, c in closures.items()}


def plan_from(
    settings: BuildSettings, resolutions: Mapping[Interpreter, Resolution], in_yard: Held
) -> Plan:
    """The plan for resolved closures (pure: no process, no network)."""
    closures = {interp: res.closure for interp, res in resolutions.items()}
    return make_plan(
        closures,
        in_yard,
        from_source=settings.from_source,
        no_binary=settings.forced_from_source(),
    )


def plan(
    request: Request,
    runner: Runner,
    on_resolved: Callable[[Planned], None] | None = None,
    ahead: bool = False,
) -> Planned:
    """Select interpreters, resolve, ask the yard what it holds, and plan. ``on_resolved``
    sees the resolutions before the yard is asked (``held`` and ``plan`` still empty).

    ``ahead`` (a run follows): when the yard holds no record of these inputs, so the set is
    to be resolved, build-setup.sh starts in a container runner right away, and the set is
    resolved meanwhile in its pristine twin (``Runner.pristine``), which the script never
    touches: resolution sees the image as it is either way."""
    if not request.requirements.is_file():
        raise InvalidInput(f"no requirements.txt in {request.folder.absolute()}")
    settings = request.settings
    # Everything a later step needs is checked first: a run fails in its first second.
    preflight.yard(settings, request.token, request.upload)
    if request.upload:
        preflight.label(settings, request.folder)
    runner.share(request.folder.absolute(), request.wheelhouse)
    interps = interpreters(settings, runner)
    preflight.interpreters(interps, settings.resolver, request.environ, runner)
    key = inputs_key(request.folder, settings, runner.identity, interps, request.environ)
    record = stored_record(request, key)
    setup, resolver = None, runner
    if ahead and record is None and (request.folder / SETUP_SCRIPT).is_file():
        twin = runner.pristine()
        if twin is not runner:
            setup = Started(runner, request.folder, request.wheelhouse / "logs" / SETUP_LOG)
            resolver = twin
    # A recorded resolution stands only for a set pinned throughout (a range may pick a newer
    # release today).
    pinned = read_pinned(request.requirements)
    kept = record.resolutions_for(interps) if record is not None and pinned else None
    lines_key = ""
    if pinned is not None:
        where = runner.identity
        lines_key = inputs_key(request.folder, settings, where, interps, request.environ, pinned)
    with request.phases.timing("resolve"):
        changed = None
        if kept is None and record is None:
            changed = resolve_changed(request, interps, resolver, pinned, lines_key)
        resolutions = kept or changed or resolve(request, interps, resolver)
    warnings = tuple(no_binary_warnings(request.requirements))
    planned = Planned(
        request, tuple(interps), resolutions, {}, Plan(()), warnings, key, record, lines_key, setup
    )
    if on_resolved is not None:
        on_resolved(planned)
    in_yard, result = _against_yard(request, resolutions)
    if kept is not None and any(step.source != "yard" for step in result.steps):
        # The yard no longer holds everything the recorded run published: resolve as usual
        # (the record's URLs may name another machine's folders).
        with request.phases.timing("resolve"):
            resolutions = resolve(request, interps, resolver)
        planned = dataclasses.replace(planned, resolutions=resolutions)
        if on_resolved is not None:
            on_resolved(planned)
        in_yard, result = _against_yard(request, resolutions)
    return dataclasses.replace(planned, held=in_yard, plan=result)


def _against_yard(
    request: Request, resolutions: Mapping[Interpreter, Resolution]
) -> tuple[dict[str, dict[str, str]], Plan]:
    """What the owner holds of the closures' projects, and the plan that follows."""
    projects = {r.name for res in resolutions.values() for r in res.closure}
    in_yard = held(request, projects)
    return in_yard, plan_from(request.settings, resolutions, in_yard)


def run(planned: Planned, runner: Runner, reporter: Reporter) -> Outcome:
    """Carry the plan out: fetch, build-setup.sh, build, repair, verify."""
    request = planned.request
    job = Job(
        folder=request.folder.absolute(),
        wheelhouse=request.wheelhouse,
        interpreters=planned.interpreters,
        settings=request.settings,
        jobs=request.jobs,
        token=request.token() if request.settings.url else None,
        refresh=request.refresh,
        uv=tuple(uv) if (uv := uvtool.find(runner)) else None,
        direct=uvtool.choose(request.settings.resolver, request.environ, runner) is not None,
        phases=request.phases,
        passed=planned.record.verified if planned.record else {},
        platform=platform_projects(planned.held),
        setup=planned.setup,
    )
    runner.share(job.folder, job.wheelhouse)
    try:
        return execute(planned.plan, job, runner, reporter)
    finally:
        runner.release()  # its containers go while the wheels are uploaded


@dataclass(frozen=True)
class Publication:
    owner: str
    label: str
    results: tuple[Published, ...]
    url: str = ""  # the label's index, what pip is given to install from it
    note: str = ""  # something the user should know that did not fail the publication

    def summary(self) -> str:
        """ "3 uploaded, 12 already on main", as counts of each action."""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.action] = counts.get(r.action, 0) + 1
        return ", ".join(
            f"{n} {'already on ' + self.label if action == 'already' else action}"
            for action, n in sorted(counts.items())
        )

    @property
    def ok(self) -> bool:
        return not any(p.action in ("conflict", "failed") for p in self.results)


def record_of(planned: Planned, outcome: Outcome) -> Record | None:
    """What the yard should keep of this run for the next one; None when it keeps that
    already (an unchanged rerun writes nothing) or the run failed."""
    if not outcome.ok:
        return None
    resolutions = {i.record_key: r.closure for i, r in planned.resolutions.items()}
    lines: tuple[str, ...] = ()
    pinned = read_pinned(planned.request.requirements)
    known = partial.with_requires(resolutions, outcome.wheels) if pinned is not None else None
    if pinned is not None and known is not None:
        # Every entry's requirements known: a run with other pins may build on this one.
        resolutions, lines = known, tuple(sorted(pinned.lines))
    record = Record(resolutions, dict(outcome.digests), lines)
    return None if record == planned.record else record


def publish(
    request: Request,
    wheels: list[Path],
    record: tuple[str, Record] | None = None,
    lines_key: str = "",
) -> Publication:
    """Publish ``wheels`` to the label (the setting, else the git branch) of the owner, then,
    if that went well, store ``record`` (key, record) beside the label, and under
    ``lines_key`` too when it holds its lines (for a later run with other pins)."""
    settings = request.settings
    if not (settings.url and settings.owner):
        raise InvalidInput("--upload needs --url and --owner")
    token = request.token()  # read again: a --token-file is read when publishing begins
    if not token:
        raise InvalidInput("--upload needs a token: WHEELYARD_TOKEN or --token-file")
    label = settings.label or default_label(request.folder)
    with YardClient(settings.url, token) as yard, request.phases.timing("upload"):
        results = publish_files(yard, settings.owner, label, wheels)
        index = f"{yard.url}/{settings.owner}/label/{label}/simple/"
        publication = Publication(settings.owner, label, tuple(results), index)
        if record is not None and publication.ok:
            keys = [record[0], *([lines_key] if lines_key and record[1].lines else [])]
            try:
                for key in keys:
                    yard.put_build_record(settings.owner, label, key, record[1].to_json())
            except ClientError as exc:  # the wheels are published; the next run just works more
                publication = dataclasses.replace(
                    publication, note=f"the build record was not stored: {exc}"
                )
    return publication


def report(outcome: Outcome, ok: bool, published: Publication | None) -> dict[str, object]:
    """``--report``'s verdicts (the rows are added by ``progress.write_report``)."""
    return {
        "ok": ok,
        "phases": outcome.phases.walls(),  # wall seconds each phase was running
        # The shared build environments this run created: build-phase work whose CPU no
        # build's row holds (bench/README.md: counted apart in the build efficiency).
        "build_envs": {
            "created": len(outcome.build_envs),
            "seconds": round(sum(m.seconds for m in outcome.build_envs), 2),
            "cpu": round(sum(m.cpu for m in outcome.build_envs), 2),
        },
        "verified": [
            {
                "python": v.interpreter.minor,
                "executable": str(v.interpreter.executable),
                "ok": v.ok,
                "skipped": v.skipped,
                "failed": list(v.failed),
            }
            for v in outcome.verified
        ],
        "published": [dataclasses.asdict(p) for p in published.results] if published else [],
    }
