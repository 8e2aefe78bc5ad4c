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


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return True  # nothing to test: no CLI
    return subprocess.run([docker, "info"], capture_output=True, check=False).returncode == 0


@pytest.mark.e2e
@pytest.mark.skipif(_docker_answers(), reason="needs a docker CLI whose daemon does not run")
def test_a_docker_cli_without_daemon_does_not_count() -> None:
    with pytest.raises(EngineFailed, match=r"docker could not answer `info`"):
        engines.find("docker", engine_env())
    if shutil.which("podman") is not None:
        found = engines.find(None, engine_env())
        assert found.name == "podman"  # the next one, which answers


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
