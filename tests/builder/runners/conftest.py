"""The container tests' engine and image: podman with this repository's ``containers.conf``
(unless ``CONTAINERS_CONF`` names another) and the test image ``tests/builder/images/build.sh``
builds once and caches by a hash of its recipe. Tests needing them skip, saying why, where
podman does not run; a recipe that fails to build is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import client_env

IMAGES = Path(__file__).parents[1] / "images"
CONF = IMAGES / "containers.conf"


def engine_env(**extra: str) -> dict[str, str]:
    """client_env() (pip isolated) plus the podman configuration the tests use."""
    conf = os.environ.get("CONTAINERS_CONF") or str(CONF)
    return client_env(**{"CONTAINERS_CONF": conf, **extra})


def _why_not() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (.ci/run installs podman, runc and mmdebstrap)"
    if os.geteuid() != 0:
        return "the test image is built as root (mmdebstrap, podman import)"
    info = subprocess.run(
        ["podman", "info"], capture_output=True, text=True, env=engine_env(), check=False
    )
    if info.returncode != 0:
        return f"podman does not answer here: {info.stderr.strip().splitlines()[-1:]}"
    if not Path("/proc/self/ns/cgroup").exists():
        return "no cgroup namespace support"
    return None


@pytest.fixture(scope="session")
def test_image() -> str:
    """The local manylinux look-alike's name (built on first use, about 1-3 minutes)."""
    why = _why_not()
    if why is not None:
        pytest.skip(why)
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed, so the test image cannot be built")
    result = subprocess.run(
        [str(IMAGES / "build.sh")], capture_output=True, text=True, env=engine_env(), check=False
    )
    if result.returncode != 0:
        pytest.fail(f"building the test image failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def containers_of_run(pid: int) -> list[str]:
    """Containers (running or not) a wheelyard process ``pid`` started."""
    result = subprocess.run(
        ["podman", "ps", "--all", "--quiet", "--filter", f"label=io.wheelyard.run={pid}"],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=True,
    )
    return result.stdout.split()
