"""Cached virtualenvs holding old and new pips, and an Accept-rewriting proxy, for the pip matrix.

Each pip version gets its own venv under ``$XDG_CACHE_HOME/wheelyard-tests`` (default
``~/.cache``), keyed by interpreter and version. A venv is built in a scratch directory, checked,
marked complete and only then renamed into place, so an interrupted build is never reused.
Installing the pips themselves uses the machine's normal pip configuration (it needs an index);
the pips under test run with ``client_env()`` isolation.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

LATEST = "latest"
READY = ".wheelyard-ready"
# The unpinned pip is re-resolved at most this often; a failed refresh keeps the old venv.
LATEST_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class Interpreter:
    executable: str  # resolved sys.executable (never a pyenv shim)
    version: str  # e.g. "3.11.7"


def find_interpreter(minor_versions: Iterable[str] = ("3.11", "3.10", "3.9")) -> Interpreter | None:
    """A CPython every pip in the matrix runs on (pips before 23.2 break on 3.12).

    The interpreter running the tests comes first when its version fits, then ``pythonX.Y``
    found on PATH. Each candidate is asked for its real executable and version.
    """
    wanted = tuple(minor_versions)
    candidates = [getattr(sys, "_base_executable", sys.executable), sys.executable]
    candidates += [p for v in wanted if (p := shutil.which(f"python{v}"))]
    for candidate in candidates:
        try:
            out = subprocess.run(
                [
                    candidate,
                    "-c",
                    "import sys, platform; print(sys.executable); print(platform.python_version())",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        if len(out) == 2 and out[1].rsplit(".", 1)[0] in wanted:
            return Interpreter(out[0], out[1])
    return None


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wheelyard-tests"


def _venv_dir(interp: Interpreter, pip: str) -> Path:
    tag = hashlib.sha256(interp.executable.encode()).hexdigest()[:8]
    return cache_root() / f"py{interp.version}-{tag}" / f"pip-{pip}"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def _pip_version(venv: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(python_of(venv)), "-m", "pip", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    return parts[1] if out.returncode == 0 and len(parts) > 1 and parts[0] == "pip" else None


def _install_pip(venv: Path, pip: str) -> None:
    requirement = "pip" if pip == LATEST else f"pip=={pip}"
    result = subprocess.run(
        [str(python_of(venv)), "-m", "pip", "install", "--quiet", "--upgrade", requirement],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"pip exited with {result.returncode}")


def ensure_venv(interp: Interpreter, pip: str) -> Path:
    """The venv holding ``pip`` (a version or ``LATEST``), built once and reused."""
    final = _venv_dir(interp, pip)
    marker = final / READY
    if marker.is_file() and _pip_version(final):
        if pip != LATEST or time.time() - marker.stat().st_mtime < LATEST_MAX_AGE:
            return final
        try:  # refresh the newest pip in place; offline, the previous one still serves
            _install_pip(final, pip)
            marker.write_text(_pip_version(final) or "")
        except (RuntimeError, OSError, subprocess.SubprocessError):
            pass
        return final
    if final.exists():  # half-built or broken (e.g. its interpreter moved): start again
        shutil.rmtree(final, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f"{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run(
            [interp.executable, "-m", "venv", str(scratch)],
            capture_output=True,
            timeout=300,
            check=True,
        )
        _install_pip(scratch, pip)
        got = _pip_version(scratch)
        if got is None or (pip != LATEST and got != pip):
            raise RuntimeError(f"expected pip {pip}, the venv has {got}")
        (scratch / READY).write_text(got)  # written last: the venv is complete
        try:
            scratch.rename(final)  # a venv runs from anywhere via bin/python -m pip
        except OSError:  # another process finished first; use its venv
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return final


def ensure_venvs(interp: Interpreter, pips: Iterable[str]) -> dict[str, Path | str]:
    """Build every pip's venv in parallel; map each version to its venv or to why it failed."""
    pips = list(pips)

    def one(pip: str) -> Path | str:
        try:
            return ensure_venv(interp, pip)
        except subprocess.CalledProcessError as exc:
            return f"venv creation failed: {exc.stderr!r}"
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            return f"pip {pip} could not be installed: {exc}"

    with ThreadPoolExecutor(max_workers=5) as pool:
        return dict(zip(pips, pool.map(one, pips), strict=True))


@dataclass(frozen=True)
class Seen:
    """One request the proxy forwarded, and what the yard answered."""

    path: str
    accept: str
    status: int
    content_type: str


_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


class AcceptProxy:
    """A reverse proxy on 127.0.0.1 in front of the yard that records every exchange.

    With ``force_accept`` set it replaces the client's Accept header, so a client that prefers
    PEP 691 JSON is served the HTML pages (pip cannot add ``?format=`` to its page URLs).
    """

    def __init__(self, upstream: str, force_accept: str | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.force_accept = force_accept
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests(self, prefix: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(prefix)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._forward()

            def do_HEAD(self) -> None:
                self._forward()

            def _forward(self) -> None:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP | {"host"}
                }
                if proxy.force_accept is not None:
                    headers = {k: v for k, v in headers.items() if k.lower() != "accept"}
                    headers["Accept"] = proxy.force_accept
                accept = next((v for k, v in headers.items() if k.lower() == "accept"), "")
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    reply = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
                finally:
                    conn.close()
                with proxy._lock:
                    proxy.seen.append(
                        Seen(self.path, accept, resp.status, resp.getheader("content-type", ""))
                    )
                self.send_response(resp.status, resp.reason)
                for k, v in reply:
                    if k.lower() != "content-length" or self.command == "HEAD":
                        self.send_header(k, v)
                if self.command != "HEAD":  # the body was read whole: its length is known
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        return Handler
