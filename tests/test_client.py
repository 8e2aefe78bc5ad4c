"""The yard's HTTP client (``wheelyard/client.py``): one error type for every transport failure,
naming the URL and the cause but never the token; retries for GET/HEAD only; streamed,
atomic downloads; and ``wheelyard build`` printing that error as one line with exit 1."""

from __future__ import annotations

import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import BIN, Yard, client_env, free_port, run
from wheelyard.builder.publish import publish
from wheelyard.builder.yardquery import held_files
from wheelyard.client import YardClient, YardRefused, YardUnreachable
from wheelyard.errors import YardError
from wheelyard.testing import make_wheel

TOKEN = "wy_secret-token-never-shown"
BIG = 32 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    """A real HTTP server with misbehaving routes the yard never has on purpose."""

    seen: list[tuple[str, str, str | None]]
    fail_first: int

    def log_message(self, *_args: object) -> None:
        pass

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/unavailable":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/recovers":
            ok = len(self.seen) > self.fail_first
            body = b"fine" if ok else b""
            self.send_response(200 if ok else 502)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            chunk = b"w" * (1024 * 1024)
            for _ in range(BIG // len(chunk)):
                self.wfile.write(chunk)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    do_GET = do_HEAD = do_POST = _answer


@pytest.fixture
def flaky() -> Iterator[tuple[str, list[tuple[str, str, str | None]], type[_Handler]]]:
    """A short-lived HTTP server on 127.0.0.1: its URL, the requests it saw, its handler."""
    seen: list[tuple[str, str, str | None]] = []
    handler = type("Handler", (_Handler,), {"seen": seen, "fail_first": 2})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hangs_up() -> Iterator[tuple[str, list[int]]]:
    """A socket on 127.0.0.1 that accepts each connection and closes it without a word."""
    accepted: list[int] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.recv(65536)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()


# -- one error type, naming the URL and the cause, never the token ----------------------------


def test_refused_connection_is_one_error_naming_url_and_cause() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = YardClient(url + "/", TOKEN, backoff=0.01)
    with pytest.raises(YardUnreachable) as caught:
        client.get("/owner/all-labels/simple/x/")
    assert isinstance(caught.value, YardError)  # the CLI's handler prints it as one line
    assert caught.value.message == (
        f"cannot reach the yard at {url}: connection refused (is the server running?)"
    )
    for text in (str(caught.value), repr(caught.value), repr(client), caught.value.url):
        assert TOKEN not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("127.0.0.1:8000", "the URL must start with http:// or https:// (did you mean http://"),
        ("ftp://127.0.0.1/", "the URL must start with http:// or https://"),
        ("http://", "the URL must start with http:// or https://"),
    ],
)
def test_url_without_http_scheme_is_refused_up_front(url: str, cause: str) -> None:
    with pytest.raises(YardUnreachable) as caught:
        YardClient(url, TOKEN)
    assert caught.value.message.startswith(f"cannot reach the yard at {url.rstrip('/')}: {cause}")
    assert TOKEN not in str(caught.value)


def test_unknown_host_and_credentials_in_the_url() -> None:
    with pytest.raises(YardUnreachable) as caught:
        YardClient("http://alice:hunter2@no-such-host.invalid", backoff=0.01).get("/")
    message = caught.value.message
    assert message.startswith("cannot reach the yard at http://no-such-host.invalid: unknown host")
    assert "hunter2" not in message and "alice" not in message


# -- retries: GET and HEAD only, bounded, with backoff ----------------------------------------


def test_gateway_errors_retried_for_get_and_head_only(flaky: tuple[str, list, type]) -> None:
    url, seen, _handler = flaky
    client = YardClient(url, TOKEN, retries=3, backoff=0.05)
    started = time.monotonic()
    assert client.get("/unavailable").status_code == 503  # the last answer comes back
    assert time.monotonic() - started >= 0.05 + 0.1  # backed off 0.05 s, then 0.1 s
    assert client.request("HEAD", "/unavailable").status_code == 503
    assert client.post("/unavailable", data={"a": "b"}).status_code == 503
    assert [m for m, _p, _a in seen] == ["GET"] * 3 + ["HEAD"] * 3 + ["POST"]
    # Every attempt carries the token, in the one header the client sets.
    assert {a for _m, _p, a in seen} == {f"token {TOKEN}"}


def test_a_get_that_recovers_succeeds(flaky: tuple[str, list, type]) -> None:
    url, seen, _handler = flaky
    response = YardClient(url, backoff=0.01).get("/recovers")
    assert response.status_code == 200 and response.text == "fine"
    assert len(seen) == 3 and {a for _m, _p, a in seen} == {None}  # no token: no header


def test_dropped_connections_retried_for_get_only(hangs_up: tuple[str, list[int]]) -> None:
    url, accepted = hangs_up
    client = YardClient(url, TOKEN, retries=3, backoff=0.01)
    with pytest.raises(YardUnreachable) as got:
        client.get("/x")
    assert len(accepted) == 3
    assert got.value.message.startswith(f"cannot reach the yard at {url}: the connection broke")
    with pytest.raises(YardUnreachable):
        client.post("/x", json={"a": 1})
    assert len(accepted) == 4  # a POST may have been acted on: it is never sent twice
    assert TOKEN not in got.value.message


def test_unexpected_status_is_a_refusal_naming_url_status_and_path(
    flaky: tuple[str, list, type],
) -> None:
    url, _seen, _handler = flaky
    client = YardClient(url, TOKEN)
    with pytest.raises(YardRefused) as caught:
        client.check(client.get("/nothing-here"))
    assert caught.value.status == 404
    assert caught.value.message == f"the yard at {url} answered 404 to GET /nothing-here"
    assert client.check(client.get("/nothing-here"), 404).status_code == 404


# -- streamed, atomic downloads ---------------------------------------------------------------


def test_broken_download_leaves_no_file_and_keeps_the_old_one(
    tmp_path: Path, flaky: tuple[str, list, type]
) -> None:
    url, seen, _handler = flaky
    target = tmp_path / "pkg-1.0-py3-none-any.whl"
    target.write_bytes(b"previous")
    with pytest.raises(YardUnreachable) as caught:
        YardClient(url, TOKEN, backoff=0.01).download("/truncated", target)
    assert "the connection broke" in caught.value.message
    assert len(seen) == 3  # a GET: the cut-off body was asked for again
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporaries left

    fresh = tmp_path / "new.whl"
    with pytest.raises(YardRefused):
        YardClient(url).download("/missing", fresh)
    assert list(tmp_path.iterdir()) == [target]


def test_download_streams_in_constant_memory(tmp_path: Path, flaky: tuple[str, list, type]) -> None:
    url, _seen, _handler = flaky
    target = tmp_path / "big.bin"
    tracemalloc.start()
    try:
        YardClient(url).download("/big", target)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert target.stat().st_size == BIG
    assert peak < BIG // 4, peak  # chunks of about 1 MiB, never the whole body


@pytest.mark.e2e
def test_publish_query_and_download_against_a_real_yard(
    tmp_path: Path, yard: Yard, owner_name: str
) -> None:
    token = yard.user(owner_name)
    wheel = make_wheel(tmp_path, "clientpkg", "1.0")
    with YardClient(yard.url, token) as client:
        assert held_files(client, owner_name, ["clientpkg"]) == {}
        assert [p.action for p in publish(client, owner_name, "main", [wheel])] == ["uploaded"]
        held = held_files(client, owner_name, ["clientpkg"])
        assert list(held["clientpkg"]) == [wheel.name]
        # The same bytes onto another label: only the label is added.
        assert [p.action for p in publish(client, owner_name, "dev", [wheel])] == ["labelled"]
        target = tmp_path / "out" / wheel.name
        client.download(f"/api/download/{owner_name}/clientpkg/1.0/{wheel.name}", target)
        with pytest.raises(YardRefused) as missing:
            client.download(f"/api/download/{owner_name}/clientpkg/9.9/x.whl", tmp_path / "x.whl")
    assert target.read_bytes() == wheel.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == [wheel.name]
    assert missing.value.status == 404 and TOKEN not in missing.value.message
    assert token not in missing.value.message


# -- wheelyard build: one line, exit 1 ---------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "purepkg", "1.0")
    (tmp_path / "requirements.txt").write_text("--no-index\n--find-links ./dists\npurepkg==1.0\n")
    return tmp_path


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["--plan", "--upload"])
def test_build_against_an_unreachable_yard_prints_one_line(project: Path, mode: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    base = [str(BIN / "wheelyard"), "build", str(project), mode, "--python", sys.executable]
    for url, cause in [
        (closed, "connection refused (is the server running?)"),
        ("127.0.0.1:8000", "the URL must start with http:// or https://"),
    ]:
        result = run(
            [*base, "--url", url, "--owner", "x", "--label", "dev"],
            env=client_env(WHEELYARD_TOKEN=TOKEN),
            check=False,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith(
            f"wheelyard: error: cannot reach the yard at {url}: {cause}"
        ), result.stderr
        assert TOKEN not in result.stdout + result.stderr
    assert not list((project / "wheelhouse").glob("*.whl"))  # the yard is asked before building
