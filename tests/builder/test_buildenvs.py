"""Shared build environments: created once per interpreter × requirements, reused by every
build needing exactly that, never used half-made."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.builder import host
from tests.conftest import client_env
from wheelyard.builder.buildenvs import SharedEnvs
from wheelyard.builder.compile import BuildTask, build_all
from wheelyard.builder.interpreters import probe
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
