"""The container tests' engines and image: podman with this repository's ``containers.conf``
(unless ``CONTAINERS_CONF`` names another) and the test image ``tests/builder/images/build.sh``
builds once and caches by a hash of its recipe; and docker, where a daemon answers at
``DOCKER_HOST`` (.ci/run starts one on a unix socket), with the same image loaded into it from
podman (no registry). The ``engine`` fixture runs a test once per engine; an engine that does
not run skips, saying why. A recipe that fails to build is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
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


ENGINES = ("podman", "docker")
DOCKER_HINT = (
    "(.ci/run starts dockerd on unix:///run/wheelyard-dockerd.sock and exports DOCKER_HOST)"
)


@dataclass(frozen=True)
class EngineUnderTest:
    """An engine that runs containers here, with the test image loaded."""

    name: str  # podman or docker
    image: str  # the test image, by a name this engine knows
    env: dict[str, str]  # for wheelyard and the engine's CLI alike

    def call(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.name, *args], capture_output=True, text=True, env=self.env, check=check
        )

    def containers_of_run(self, pid: int) -> list[str]:
        """Containers (running or not) a wheelyard process ``pid`` started."""
        found = self.call("ps", "--all", "--quiet", "--filter", f"label=io.wheelyard.run={pid}")
        assert found.returncode == 0, found.stderr
        return found.stdout.split()

    def tag(self, name: str) -> None:
        self.call("tag", self.image, name, check=True)

    def untag(self, name: str) -> None:
        # (podman untag with no name after the image would remove all of its names; docker
        # rmi of one of several names removes that name only)
        if self.name == "podman":
            self.call("untag", self.image, name)
        else:
            self.call("rmi", name)


def _docker_why_not(env: dict[str, str]) -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed (apt-get install docker.io) " + DOCKER_HINT
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, env=env)
    if info.returncode != 0:
        where = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no docker daemon answers at {where}: {last} " + DOCKER_HINT
    return None


def _load_into_docker(image: str, env: dict[str, str]) -> None:
    """``podman save IMAGE | docker load`` unless docker has the image already."""
    there = subprocess.run(["docker", "image", "inspect", image], capture_output=True, env=env)
    if there.returncode == 0:
        return
    save = subprocess.Popen(["podman", "save", image], stdout=subprocess.PIPE, env=env)
    load = subprocess.run(
        ["docker", "load"], stdin=save.stdout, capture_output=True, text=True, env=env
    )
    assert save.stdout is not None
    save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        pytest.fail(f"loading {image} into docker failed: {load.stderr[-2000:]}")


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest, test_image: str) -> EngineUnderTest:
    """Each engine in turn (docker skips, saying why, where no daemon answers)."""
    env = engine_env()
    if request.param == "docker":
        why = _docker_why_not(env)
        if why is not None:
            pytest.skip(why)
        _load_into_docker(test_image, env)
        # A daemon started without a bridge (as .ci/run starts it: no iptables rules on the
        # host) gives containers no network of their own: builds use the host's.
        bridge = subprocess.run(
            ["docker", "network", "inspect", "bridge"], capture_output=True, env=env
        )
        if bridge.returncode != 0:
            env["WHEELYARD_CONTAINER_NETWORK"] = "host"
    return EngineUnderTest(request.param, test_image, env)
