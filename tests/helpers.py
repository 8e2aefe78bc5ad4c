"""Plain helpers the tests share: a real server (start/stop), the real clients (pip, twine,
anaconda, the wheelyard CLI) in isolated environments, and small HTTP shortcuts.

Fixtures live in ``tests/conftest.py``; this module holds what tests import by name. Whatever
here starts a server or drives a real client first calls :func:`require_e2e`, so that a test
doing so without the ``e2e`` marker fails loudly instead of slowing down ``-m "not e2e"``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from wheelyard.storage.local import LocalStore
from wheelyard.web.context import YardContext

BIN = Path(sys.executable).parent
REMOVAL_DELAY = 2.0
PASSWORD = "correct horse battery"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}

# The test being set up, run or torn down (tests/conftest.py keeps it current).
running: pytest.Item | None = None


def require_e2e(what: str) -> None:
    """Fail the running test when it does ``what`` (start a server, drive a client) unmarked."""
    if running is not None and running.get_closest_marker("e2e") is None:
        pytest.fail(
            f"{running.nodeid} {what}: mark it @pytest.mark.e2e (or the module's pytestmark) "
            'so that `pytest -m "not e2e"` stays a fast, server-free unit run',
            pytrace=False,
        )


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
        require_e2e("runs the wheelyard CLI")
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
        self.cli("user", "create", name, "--password-stdin", input=PASSWORD + "\n")
        return self.token(name, "t0", scopes)

    def token(self, user: str, name: str, scopes: str) -> str:
        return self.cli(
            "token", "create", "--user", user, "--name", name, "--scopes", scopes
        ).stdout.strip()


def start_yard(data_dir: Path, extra_env: dict[str, str] | None = None) -> Yard:
    require_e2e("starts a wheelyard server")
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


# --- clients ------------------------------------------------------------------------------------


def twine(
    yard: Yard, repo: str, token: str, *files: Path, extra: tuple[str, ...] = (), check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``twine upload`` of ``files`` to ``{yard.url}/{repo}`` with an API token."""
    require_e2e("runs twine")
    cmd = [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar"]
    cmd += ["--repository-url", f"{yard.url}/{repo}", "-u", "__token__", "-p", token]
    return run([*cmd, *extra, *map(str, files)], check=check)


def pip_install(
    index: str, target: Path, *reqs: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``pip install --target`` from ``index`` alone."""
    require_e2e("runs pip")
    cmd = [str(BIN / "python"), "-m", "pip", "install", "--target", str(target)]
    return run([*cmd, "--index-url", index, *reqs], check=check)


def upload(
    yard: Yard, path: str, token: str, dist: Path, *, check: bool = True, timeout: float = 60
) -> httpx.Response:
    """A legacy-API (twine-style) multipart upload of one file to ``{yard.url}/{path}``;
    with ``check``, anything but 200 fails the test with the server's answer."""
    response = httpx.post(
        f"{yard.url}/{path}",
        auth=("__token__", token),
        files={"content": (dist.name, dist.read_bytes())},
        data={":action": "file_upload"},
        timeout=timeout,
    )
    if check and response.status_code != 200:
        raise AssertionError(f"upload to {path} failed ({response.status_code}): {response.text}")
    return response


def files_in(yard: Yard, owner: str, label: str, project: str) -> list[str]:
    """The file names the simple index of ``owner``'s ``label`` lists for ``project``."""
    prefix = f"{owner}/simple" if label == "main" else f"{owner}/label/{label}/simple"
    page = httpx.get(f"{yard.url}/{prefix}/{project}/", headers=JSON)
    if page.status_code == 404:
        return []
    page.raise_for_status()
    return sorted(f["filename"] for f in page.json()["files"])


def new_user(yard: Yard, name: str) -> None:
    """A user with the shared test password and no token (the anaconda client logs in)."""
    yard.cli("user", "create", name, "--password-stdin", input=PASSWORD + "\n")


@dataclass
class Anaconda:
    """The unmodified anaconda client with a home of its own, pointed at ``yard``."""

    home: Path
    yard: Yard

    @classmethod
    def configured(cls, yard: Yard, home: Path) -> Anaconda:
        client = cls(home, yard)
        home.mkdir()
        client("config", "--set", "url", f"{yard.url}/api", ok=False)  # prints a harmless traceback
        return client

    def env(self) -> dict[str, str]:
        return client_env(
            HOME=str(self.home),
            ANACONDA_TELEMETRY_ENABLED="false",
            OTEL_SDK_DISABLED="true",
            ANACONDA_CLIENT_LEGACY_INTERACTIVE_LOGIN="1",
        )

    def __call__(
        self, *args: str, token: str | None = None, input: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        require_e2e("runs the anaconda client")
        cmd = [str(BIN / "anaconda")] + (["-t", token] if token else []) + list(args)
        result = subprocess.run(
            cmd, env=self.env(), input=input or "", capture_output=True, text=True, timeout=120
        )
        if ok and result.returncode != 0:
            raise AssertionError(
                f"anaconda {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result


def text(result: subprocess.CompletedProcess[str]) -> str:
    """What the anaconda client printed: it logs most messages to stderr."""
    return result.stdout + result.stderr


# --- blob stores --------------------------------------------------------------------------------

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable


class ProtocolOnly:
    """A real local store seen only through ``BlobStore``: no ``local_path``, as an object
    store would be, so callers must take the protocol's streaming path."""

    def __init__(self, inner: LocalStore) -> None:
        self._inner = inner
        self.put_file = inner.put_file
        self.put_bytes = inner.put_bytes
        self.open = inner.open
        self.open_sized = inner.open_sized
        self.size = inner.size
        self.exists = inner.exists
        self.delete = inner.delete
        self.iter_keys = inner.iter_keys
        self.url = inner.url


def yard_of(app: object) -> YardContext:
    """The yard context of an app from ``create_app``, under its middleware layers (metrics,
    the fast path), for in-process tests that seed or flush it directly."""
    while True:
        found = getattr(app, "yard", None) or getattr(getattr(app, "state", None), "yard", None)
        if isinstance(found, YardContext):
            return found
        app = app.app  # type: ignore[attr-defined]


NGINX = Path("/usr/sbin/nginx")

# What nginx needs around a test's own http block to run unprivileged in a temp folder.
_NGINX_MAIN = """
daemon off;
master_process off;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
{http}
}}
"""


@contextmanager
def running_nginx(work: Path, http: str, ready_url: str) -> Iterator[None]:
    """nginx on 127.0.0.1 with ``http`` as its http block's body (checked with ``nginx -t``
    first), its files in ``work``, until the block ends; ready once ``ready_url`` answers.
    Skips the test where Debian's nginx is not installed (``.ci/run`` installs it)."""
    if not NGINX.exists():
        pytest.skip("nginx is not installed (.ci/run installs Debian's nginx)")
    work.mkdir(parents=True, exist_ok=True)
    user = "user root;" if os.geteuid() == 0 else ""  # pytest's temp folders are root's alone
    conf = work / "nginx.conf"
    conf.write_text(_NGINX_MAIN.format(user=user, work=work, http=http))
    command = [str(NGINX), "-c", str(conf), "-p", str(work)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(ready_url, timeout=1)
                break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (work / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(10)
