"""The default runner (``auto``): containers where docker or podman answers, the host only
where none does, and the output says which and why."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from tests.conftest import BIN, client_env, run
from wheelyard.builder.runners import decide
from wheelyard.builder.runners.engines import find
from wheelyard.builder.settings import BuildSettings, load
from wheelyard.errors import EngineFailed


def test_no_engine_means_the_host_and_says_why(tmp_path: Path) -> None:
    settings = load(tmp_path, {}, environ={})
    assert settings.runner == "auto"
    chosen, why = decide(settings, {"PATH": str(tmp_path)})  # no docker, no podman here
    assert chosen.runner == "host" and why == "no docker or podman answers here"
    named = dataclasses.replace(settings, container_engine="docker")
    assert decide(named, {"PATH": str(tmp_path)})[1] == "docker does not answer here"
    host = dataclasses.replace(settings, runner="host")
    assert decide(host, {}) == (host, "")  # a named runner is never second-guessed


def test_an_engine_that_answers_means_containers() -> None:
    try:
        engine = find(None, os.environ)
    except EngineFailed as exc:
        pytest.skip(f"no container engine answers here: {exc}")
    chosen, why = decide(BuildSettings(), os.environ)
    assert chosen.runner == "container" and why == f"{engine.name} answers here"


def test_command_line_container_beats_the_environment(tmp_path: Path) -> None:
    env = {"WHEELYARD_RUNNER": "host"}
    assert load(tmp_path, {"container": "img"}, environ=env).runner == "container"
    assert load(tmp_path, {}, environ={**env, "WHEELYARD_CONTAINER": "img"}).runner == "host"
    both = {"container": "img", "runner": "host"}
    assert load(tmp_path, both, environ={}).runner == "host"


@pytest.mark.e2e
def test_the_host_build_says_no_engine_answers(tmp_path: Path) -> None:
    """A build where no engine answers runs on the host and says so in one line."""
    from wheelyard.testing import make_sdist

    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist(dists, "onlyhere", "1.0")
    (tmp_path / "requirements.txt").write_text("--no-index\n--find-links ./dists\nonlyhere==1.0\n")
    env = client_env()
    env.pop("WHEELYARD_RUNNER", None)
    # docker and podman that do not answer (as on a machine without a daemon), first on PATH
    down = tmp_path / "down"
    down.mkdir()
    for engine in ("docker", "podman"):
        (down / engine).write_text("#!/bin/sh\necho 'cannot connect' >&2\nexit 1\n")
        (down / engine).chmod(0o755)
    env["PATH"] = f"{down}{os.pathsep}{env['PATH']}"
    command = [str(BIN / "wheelyard"), "build", str(tmp_path), "--python", str(BIN / "python3")]
    result = run([*command, "--wheelhouse", str(tmp_path / "wh")], env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "building on the host" in result.stderr and "no docker or podman answers here" in (
        result.stderr
    ), result.stderr
