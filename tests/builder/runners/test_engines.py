"""Engine detection asks the engine to answer (a docker CLI without a daemon does not count),
and podman's known failures on hosts like CI's come out as one line naming the fix."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.builder.runners.conftest import engine_env
from wheelyard.builder.runners import engines
from wheelyard.errors import EngineFailed, InvalidInput

CGROUPS = (
    "Error: OCI runtime error: crun: cgroups in hybrid mode not supported, "
    "drop all controllers from cgroupv2"
)
RLIMIT = (
    "Error: runc: runc create failed: unable to start container process: error during "
    "container init: error setting rlimits for ready process: error setting rlimit type 7: "
    "operation not permitted: OCI permission denied"
)


def test_known_podman_failures_name_the_fix() -> None:
    for output, cause in ((CGROUPS, "crun"), (RLIMIT, "ulimits")):
        line = engines.explain("podman", "start img", output)
        assert cause in line and "runc" in line and "default_ulimits = []" in line
        assert "CONTAINERS_CONF" in line and "\n" not in line
    other = engines.explain("podman", "start img", "noise\nError: image not known\n")
    assert other == "podman could not start img: Error: image not known"


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"unknown container engine 'lxc' \(known: docker"):
        engines.find("lxc", {"PATH": "/usr/bin"})


def test_an_engine_that_is_not_installed_is_named() -> None:
    with pytest.raises(EngineFailed, match="podman: not installed"):
        engines.find("podman", {"PATH": "/nonexistent"})


NO_DAEMON = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?"
)
DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at "
    'unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info": dial '
    "unix /var/run/docker.sock: connect: permission denied"
)


def test_known_docker_failures_name_the_fix() -> None:
    line = engines.explain("docker", "answer `info`", NO_DAEMON)
    assert line == (
        "docker could not answer `info`: no docker daemon answers there "
        "(unix:///var/run/docker.sock); fix: start dockerd (or the docker service), or point "
        "DOCKER_HOST at the socket or tcp:// address where yours listens"
    )
    line = engines.explain("docker", "answer `info`", DENIED)
    assert "this user may not use the docker daemon's socket" in line
    assert "fix: add the user to the docker group" in line and "\n" not in line
    # podman's own output never reads as docker's
    assert "docker group" not in engines.explain("podman", "x", DENIED)


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")
def test_a_docker_cli_without_daemon_does_not_count(tmp_path: Path) -> None:
    """The real docker CLI pointed at a socket where no daemon listens: not an engine, and
    the line says so and names the fix; auto-detection moves on to podman."""
    env = {**engine_env(), "DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"}
    with pytest.raises(EngineFailed) as caught:
        engines.find("docker", env)
    message = caught.value.message
    assert "docker could not answer `info`: no docker daemon answers there" in message
    assert f"(unix://{tmp_path}/nothing.sock)" in message and "fix: start dockerd" in message
    if (
        shutil.which("podman") is not None
        and subprocess.run(["podman", "info"], capture_output=True, env=env, check=False).returncode
        == 0
    ):
        assert engines.find(None, env).name == "podman"  # the next one, which answers


@pytest.mark.e2e
def test_podman_without_the_fix_is_explained(test_image: str, tmp_path: Path) -> None:
    """With an empty containers.conf, podman here fails as CONTAINERS.md describes; the
    runner says so and names the fix (skipped where podman works without it)."""
    bare = tmp_path / "containers.conf"
    bare.write_text("")
    env = {**engine_env(), "CONTAINERS_CONF": str(bare)}
    raw = subprocess.run(
        ["podman", "run", "--rm", test_image, "true"], capture_output=True, text=True, env=env
    )
    if raw.returncode == 0:
        pytest.skip("podman runs containers here without runc and default_ulimits = []")
    engine = engines.find("podman", env)
    with pytest.raises(EngineFailed) as caught:
        engine.check(engine.call("run", "--rm", test_image, "true"), f"start {test_image}")
    assert "fix: install runc and point CONTAINERS_CONF" in caught.value.message


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman")
def test_an_engine_that_answered_is_not_asked_again(tmp_path: Path) -> None:
    """The default runner asks which engine answers, then the runner finds it again: the real
    podman, behind a wrapper that counts its calls, answers `info` once per environment."""
    real = shutil.which("podman")
    calls = tmp_path / "calls"
    wrapper = tmp_path / "bin" / "podman"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >>{calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    env = {**engine_env(), "PATH": f"{wrapper.parent}:/usr/bin:/bin"}
    if subprocess.run([real, "info"], capture_output=True, env=env).returncode != 0:
        pytest.skip("podman does not answer here")
    assert engines.find("podman", env).executable == str(wrapper)
    assert engines.find(None, {**env}).name in ("docker", "podman")
    assert engines.find("podman", env).name == "podman"
    assert calls.read_text().splitlines().count("info") == 1
    engines.find("podman", {**env, "OTHER_SETTING": "1"})
    assert calls.read_text().splitlines().count("info") == 2  # another environment: asked
