"""Shared build environments: created once per interpreter × requirements, reused by every
build needing exactly that, never used half-made."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.builder import host
from tests.conftest import client_env
from wheelyard.builder.buildenvs import Need, SharedEnvs
from wheelyard.builder.compile import BuildTask, build_all, build_one
from wheelyard.builder.interpreters import probe
from wheelyard.builder.phases import Phases
from wheelyard.builder.runners.host import HostRunner
from wheelyard.testing import make_sdist, make_wheel


def test_builds_with_the_same_requirements_share_one_environment(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "buildhelper", "1.0")
    reqs = tmp_path / "requirements-build.txt"
    reqs.write_text(f"--no-index\n--find-links {dists}\nbuildhelper==1.0\n")
    tasks = [
        BuildTask(n, "1.0", me, str(make_sdist(dists, n, "1.0", needs="buildhelper")), {}, (reqs,))
        for n in ("first", "second", "third")
    ]
    house = tmp_path / "wh"
    env = HostRunner(client_env())
    results = build_all(env, tasks, house, jobs=3)
    assert all(r.ok for r in results), [r.tail for r in results]
    [venv] = (house / ".envs").iterdir()  # one environment for the three builds
    logs = "".join(r.log.read_text() for r in results)
    assert logs.count("# creating build environment") == 1
    assert logs.count("# using build environment") == 2

    # A half-made environment (no completion mark, as after a kill) is made again.
    (venv / ".wheelyard-complete").unlink()
    again = build_all(env, tasks[:1], house, jobs=1)
    assert again[0].ok and "# creating build environment" in again[0].log.read_text()

    # Another requirements set is another environment; a failing one is reported in the log.
    reqs.write_text(f"--no-index\n--find-links {dists}\nnot-there==1.0\n")
    shared = SharedEnvs(env, house / ".envs")
    log = tmp_path / "fail.log"
    assert shared.venv(me, (), (reqs,), log, {}) is None
    assert "not-there" in log.read_text()
    assert len(list((house / ".envs").iterdir())) == 2


def test_an_environment_satisfying_the_same_names_is_shared(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "buildhelper", "1.0")
    make_wheel(dists, "other", "1.0")
    options = tmp_path / "requirements-build.txt"
    options.write_text(f"--no-index\n--find-links {dists}\n")
    shared = SharedEnvs(HostRunner(client_env()), tmp_path / "envs")
    log = tmp_path / "log"
    first = shared.venv(me, ("buildhelper>=0.5",), (options,), log, {})
    # Another spelling of the same need: the environment already there serves.
    assert shared.venv(me, ("buildhelper>=1.0",), (options,), log, {}) == first
    assert "it satisfies" in log.read_text()
    # An extra project, or a version the first does not have, is another environment.
    assert shared.venv(me, ("buildhelper", "other"), (options,), log, {}) != first
    assert shared.venv(me, ("buildhelper<1",), (options,), log, {}) is None
    assert len(list((tmp_path / "envs").iterdir())) == 3


def test_environments_made_ahead_serve_the_builds_and_are_measured(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "buildhelper", "1.0")
    good = tmp_path / "good.txt"
    good.write_text(f"--no-index\n--find-links {dists}\nbuildhelper==1.0\n")
    bad = tmp_path / "bad.txt"
    bad.write_text(f"--no-index\n--find-links {dists}\nnot-there==1.0\n")
    env = HostRunner(client_env())
    house = tmp_path / "wh"
    shared = SharedEnvs(env, house / ".envs")
    phases = Phases()
    needs = [Need(me, (), (good,), {}), Need(me, (), (bad,), {}), Need(me, (), (good,), {})]
    shared.ahead(needs, tmp_path / "logs", phases)
    shared.close()  # waits for what was begun
    made = shared.made()
    assert sorted(m.ok for m in made) == [False, True]  # the repeated need made once
    assert all(m.seconds > 0 and m.cpu > 0 for m in made)  # a venv and an install, measured
    assert phases.walls()["build"] > 0  # build-phase work
    assert len(list((tmp_path / "logs").glob("buildenv-*.log"))) == 2

    sdist = str(make_sdist(dists, "first", "1.0", needs="buildhelper"))
    built = build_one(env, BuildTask("first", "1.0", me, sdist, {}, (good,)), house, shared)
    assert built.ok and "# using build environment" in built.log.read_text()
    assert built.cpu > 0 and len(shared.made()) == 2  # nothing made again
    failed = build_one(env, BuildTask("second", "1.0", me, sdist, {}, (bad,)), house, shared)
    # The failure made ahead is told in the build's own log, with its cause.
    assert not failed.ok and "could not be created" in failed.log.read_text()
    assert any("not-there" in line for line in failed.tail)
