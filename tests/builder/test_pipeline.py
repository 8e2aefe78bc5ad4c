"""The builder as a library, without building: planning from typed resolutions, the order
builds start in, the notes a run shows, and the runner registry. Pure: no process, no
network (the runner tests start nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.pinned import How, Resolution
from wheelyard.builder.pipeline import Planned, Request, plan_from
from wheelyard.builder.plan import ANY, Plan, Step
from wheelyard.builder.resolve import Resolved
from wheelyard.builder.run import Schedule
from wheelyard.builder.runners import RUNNERS, make_runner
from wheelyard.builder.runners.host import HostRunner
from wheelyard.builder.settings import BuildSettings, load
from wheelyard.errors import InvalidInput

PLATFORM = "manylinux_2_17_x86_64"


def _interp(minor: int) -> Interpreter:
    # Interpreters are data to the planner: version, path, the platforms their pip accepts.
    return Interpreter((3, minor, 0), Path(f"/nonexistent/python3.{minor}"), platforms=(PLATFORM,))


PY311, PY312 = _interp(11), _interp(12)


def _dist(name: str, version: str, filename: str) -> Resolved:
    return Resolved(canonicalize_name(name), version, filename, f"https://files.test/{filename}")


def _closure(interp: Interpreter) -> tuple[Resolved, ...]:
    return (
        _dist("binpkg", "1.0", f"binpkg-1.0-{interp.tag}-{interp.tag}-{PLATFORM}.whl"),
        _dist("heldpkg", "2.0", "heldpkg-2.0.tar.gz"),
        _dist("purepkg", "1.0", "purepkg-1.0-py3-none-any.whl"),
        _dist("srcpkg", "1.0", "srcpkg-1.0.tar.gz"),
    )


RESOLUTIONS = {i: Resolution(_closure(i), How.RESOLVED) for i in (PY311, PY312)}
HELD = {"heldpkg": {"heldpkg-2.0-py3-none-any.whl": "ab" * 32}}


def test_plan_says_where_each_wheel_comes_from() -> None:
    plan = plan_from(BuildSettings(), RESOLUTIONS, HELD)
    got = {(s.project, s.python, s.source) for s in plan.steps}
    assert got == {
        ("binpkg", "3.11", "upstream"),
        ("binpkg", "3.12", "upstream"),
        ("heldpkg", ANY, "yard"),  # a pure wheel the owner holds serves every interpreter
        ("purepkg", ANY, "upstream"),
        ("srcpkg", "3.11", "build"),
        ("srcpkg", "3.12", "build"),
    }
    assert plan.sets["3.12"] == ("binpkg==1.0", "heldpkg==2.0", "purepkg==1.0", "srcpkg==1.0")


def test_no_binary_and_from_source_never_take_an_upstream_wheel() -> None:
    # pip was told --no-binary, so it found sdists for those: they are built, per interpreter.
    sdists = {
        i: Resolution(
            tuple(
                _dist(r.name, r.version, f"{r.name}-{r.version}.tar.gz")
                if r.name == "purepkg"
                else r
                for r in _closure(i)
            ),
            How.RESOLVED,
        )
        for i in (PY311, PY312)
    }
    plan = plan_from(BuildSettings(no_binary=("PurePkg",)), sdists, {})
    assert {s.python for s in plan.steps if s.project == "purepkg"} == {"3.11", "3.12"}
    assert all(s.source == "build" for s in plan.steps if s.project == "purepkg")
    # A wheel where a build was asked for means pip had no sdist: refused, not taken.
    with pytest.raises(InvalidInput, match=r"binpkg 1\.0 is to be built from source"):
        plan_from(BuildSettings(from_source=True), RESOLUTIONS, {})


def test_only_unusual_resolutions_are_noted() -> None:
    request = Request(Path("."), BuildSettings(), {})
    resolutions = {
        PY311: Resolution((), How.RESOLVED),
        PY312: Resolution((), How.CHANGED, changed=2),
    }
    planned = Planned(request, (PY311, PY312), resolutions, {}, Plan(()))
    assert [(i.minor, r.describe()) for i, r in planned.notes()] == [("3.12", "2 changed lines")]


def _build(project: str, python: str) -> Step:
    return Step(project, "1.0", python, "build", f"{project}-1.0.tar.gz")


def _drain(schedule: Schedule) -> list[tuple[str, str, bool]]:
    started = []
    while schedule.ready:
        step, first = schedule.pop()
        started.append((step.project, step.python, first))
    return started


def test_builds_start_longest_first_one_interpreter_per_project_first() -> None:
    steps = [_build(p, v) for p in ("quick", "slow", "unknown") for v in ("3.11", "3.12")]
    schedule = Schedule(steps, {"quick": 2.0, "slow": 90.0})
    # One build per project first; the slowest last time starts first; unknown ones keep
    # the plan's order behind those known to take time.
    assert _drain(schedule) == [
        ("slow", "3.11", True),
        ("quick", "3.11", True),
        ("unknown", "3.11", True),
    ]
    assert [s.python for s in schedule.group(_build("slow", "3.11"))] == ["3.11", "3.12"]


def test_a_platform_result_queues_the_others_by_how_long_it_took() -> None:
    steps = [_build(p, v) for p in ("a", "b") for v in ("3.11", "3.12", "3.13")]
    schedule = Schedule(steps, {})
    assert [p for p, _v, _f in _drain(schedule)] == ["a", "b"]
    schedule.queue_others(_build("b", "3.11"), 5.0)
    schedule.queue_others(_build("a", "3.11"), 40.0)
    # a took longer: its other interpreters start before b's.
    assert _drain(schedule) == [
        ("a", "3.12", False),
        ("a", "3.13", False),
        ("b", "3.12", False),
        ("b", "3.13", False),
    ]


def test_the_runner_setting_picks_from_the_registry(tmp_path: Path) -> None:
    assert set(RUNNERS) >= {"host", "container"}
    settings = load(tmp_path, {"runner": "host"}, environ={})
    runner = make_runner(settings, {"PATH": "/usr/bin", "WHEELYARD_TOKEN": "wy_x"})
    assert isinstance(runner, HostRunner) and runner.name == "host"
    assert "WHEELYARD_TOKEN" not in runner.base  # never handed to what it runs
    (tmp_path / "wheelyard.toml").write_text('[build]\nrunner = "podman"\n')
    chosen = load(tmp_path, {}, environ={}).runner
    assert chosen == "podman"
    with pytest.raises(
        InvalidInput, match=r"unknown runner 'podman' \(known: auto, container, host\)"
    ):
        make_runner(load(tmp_path, {}, environ={}), {})
    assert load(tmp_path, {"runner": "host"}, environ={"WHEELYARD_RUNNER": "x"}).runner == "host"


def test_a_project_known_to_be_platform_starts_on_every_interpreter_together() -> None:
    steps = [_build(p, v) for p in ("ext", "pure") for v in ("3.11", "3.12", "3.13")]
    schedule = Schedule(steps, {"ext": 30.0}, platform={"ext"})
    started = _drain(schedule)
    assert started[:3] == [("ext", "3.11", True), ("ext", "3.12", False), ("ext", "3.13", False)]
    assert started[3:] == [("pure", "3.11", True)]
    # The first build's platform result queues nothing twice.
    schedule.queue_others(_build("ext", "3.11"), 30.0)
    assert not schedule.ready


def test_never_built_here_the_costliest_sdists_start_first_on_every_interpreter() -> None:
    steps = [_build(p, v) for p in ("ext", "big", "pure") for v in ("3.11", "3.12")]
    # No history: the sdists' compiled sources say which build platform wheels and how long.
    schedule = Schedule(steps, {}, estimates={"ext": 20_000, "big": 90_000, "pure": 0})
    assert _drain(schedule) == [
        ("big", "3.11", True),
        ("big", "3.12", False),
        ("ext", "3.11", True),
        ("ext", "3.12", False),
        ("pure", "3.11", True),  # no compiled source: one build first, as ever
    ]


def test_estimates_are_calibrated_by_the_projects_with_a_recorded_time() -> None:
    steps = [_build(p, "3.11") for p in ("known", "new")]
    # known: 10 s for 10,000 bytes; new has 30,000 bytes, so about 30 s: it goes first.
    schedule = Schedule(steps, {"known": 10.0}, estimates={"known": 10_000, "new": 30_000})
    assert schedule.seconds("new") == pytest.approx(30.0)
    assert [p for p, _v, _f in _drain(schedule)] == ["new", "known"]


def test_upcoming_lists_the_queued_builds_in_the_order_they_start() -> None:
    steps = [_build(p, v) for p in ("ext", "big", "pure") for v in ("3.11", "3.12")]
    schedule = Schedule(steps, {}, estimates={"ext": 20_000, "big": 90_000, "pure": 0})
    # What the run makes build environments ahead for: the same order as the builds start,
    # and only what is queued (pure's 3.12 waits for its first build's kind).
    upcoming = [(s.project, s.python) for s in schedule.upcoming()]
    assert upcoming == [(p, v) for p, v, _first in _drain(schedule)]
    assert ("pure", "3.12") not in upcoming and len(upcoming) == 5


def test_a_pure_result_drops_the_rest_of_its_project_once() -> None:
    steps = [_build(p, v) for p in ("guess", "other") for v in ("3.11", "3.12", "3.13")]
    schedule = Schedule(steps, {}, estimates={"guess": 5_000, "other": 1_000})
    step, first = schedule.pop()
    assert (step.project, step.python, first) == ("guess", "3.11", True)
    # It was expected to build platform wheels, but made a pure one: nobody else builds it.
    assert schedule.drop(step)
    assert not schedule.drop(_build("guess", "3.12"))  # said once
    assert [p for p, _v, _f in _drain(schedule)] == ["other", "other", "other"]
    schedule.queue_others(step, 3.0)  # a late platform report queues nothing back
    assert not schedule.ready


def test_an_interpreter_is_ready_when_its_own_builds_settled() -> None:
    from wheelyard.builder.ready import Readiness

    steps = [_build(p, v) for p in ("a", "b") for v in ("3.11", "3.12")]
    ready = Readiness(steps, ["3.11", "3.12", "3.13"])
    assert ready.ready() == ["3.13"]  # nothing to build for it
    assert ready.settle(_build("a", "3.11")) == []
    assert ready.settle(_build("b", "3.11")) == ["3.11"]
    assert ready.settle(_build("b", "3.11")) == []  # each is named once
    ready.settle(_build("a", "3.12"))
    assert ready.settle(_build("b", "3.12")) == ["3.12"]
    assert ready.ready() == []


def test_the_yard_tells_which_projects_build_platform_wheels() -> None:
    from wheelyard.builder.plan import platform_projects

    held = {
        "ext": {f"ext-0.9-cp312-cp312-{PLATFORM}.whl": "", "ext-0.9.tar.gz": ""},
        "pure": {"pure-1.0-py3-none-any.whl": ""},
        "sdistonly": {"sdistonly-1.0.tar.gz": ""},
    }
    assert platform_projects(held) == {"ext"}


def test_no_binary_in_requirements_warns(tmp_path: Path) -> None:
    from wheelyard.builder.pipeline import no_binary_warnings

    reqs = tmp_path / "requirements.txt"
    reqs.write_text("lxml==5.3.0\n")
    assert no_binary_warnings(reqs) == []
    reqs.write_text("--no-binary lxml\nlxml==5.3.0\n")
    (warning,) = no_binary_warnings(reqs)
    assert "will refuse the wheels built for it" in warning and "no-binary setting" in warning


def test_a_relative_folder_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container runner maps only absolute host paths (``wheelyard build .``).
    monkeypatch.chdir(tmp_path)
    request = Request(Path("project"), BuildSettings(), {})
    assert request.requirements == tmp_path / "project" / "requirements.txt"
