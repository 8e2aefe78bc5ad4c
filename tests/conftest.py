"""Shared fixtures: a real wheelyard server on an ephemeral port, and isolated client envs."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.postgres import new_database, postgres_server, server_bin

BIN = Path(sys.executable).parent
REMOVAL_DELAY = 2.0


def client_env(**extra: str) -> dict[str, str]:
    """The environment for pip/uv/twine: none of the machine's pip or uv settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TWINE_"))}
    env.update(
        PIP_CONFIG_FILE="/dev/null",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_CACHE_DIR="1",
        UV_NO_CONFIG="1",
        UV_NO_CACHE="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Yard:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**os.environ, "WHEELYARD_DATA_DIR": str(self.data_dir), **self.extra_env}

    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "wheelyard"), *args],
            env=self.env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"wheelyard {' '.join(args)} failed: {result.stderr}")
        return result

    def user(self, name: str, scopes: str = "api:read api:write pypi:upload pypi:download") -> str:
        """Create a user and return a fresh token with ``scopes``."""
        self.cli("user", "create", name, "--password-stdin", input="correct horse battery\n")
        return self.token(name, "t0", scopes)

    def token(self, user: str, name: str, scopes: str) -> str:
        return self.cli(
            "token", "create", "--user", user, "--name", name, "--scopes", scopes
        ).stdout.strip()


def start_yard(data_dir: Path, extra_env: dict[str, str] | None = None) -> Yard:
    port = free_port()
    log = data_dir.with_suffix(".log")
    env = {**os.environ, "WHEELYARD_DATA_DIR": str(data_dir), **(extra_env or {})}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [str(BIN / "wheelyard"), "serve", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(url + "/-/health", timeout=1).status_code == 200:
                return Yard(url, data_dir, proc, log, dict(extra_env or {}))
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def stop_yard(yard: Yard) -> None:
    yard.process.terminate()
    try:
        yard.process.wait(10)
    except subprocess.TimeoutExpired:
        yard.process.kill()
        yard.process.wait()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a real PostgreSQL server started for this test session."""
    if server_bin() is None:
        pytest.skip("PostgreSQL server not installed (.ci/run installs Debian's postgresql)")
    # Not under pytest's temp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="wheelyard-pg-"))
    try:
        with postgres_server(root, free_port()) as url:
            yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def yard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Yard]:
    """The shared server: once on the embedded default, once on PostgreSQL."""
    # Single-file deletes wait this long for a re-upload (yard/pending.py); short for tests.
    # Every test talks from 127.0.0.1: the shared server must not throttle the suite's many
    # deliberate bad credentials (tests/security/test_auth.py tests throttling on its own).
    env = {
        "WHEELYARD_REMOVAL_DELAY": str(REMOVAL_DELAY),
        "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "100000",
    }
    if request.param == "postgres":
        env["WHEELYARD_DATABASE_URL"] = new_database(request.getfixturevalue("postgres"))
    server = start_yard(tmp_path_factory.mktemp("yard") / "data", env)
    yield server
    stop_yard(server)


_names = itertools.count()


@pytest.fixture
def owner_name(request: pytest.FixtureRequest) -> str:
    """A user name unique to the test (the session server is shared)."""
    base = "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    return f"u{next(_names)}{base}"


def wait_for(condition: Callable[[], bool], timeout: float = REMOVAL_DELAY + 10) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def run(
    cmd: list[str],
    env: dict[str, str] | None = None,
    check: bool = True,
    cwd: Path | None = None,
    timeout: int = 300,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, env=env or client_env(), capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{cmd[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
