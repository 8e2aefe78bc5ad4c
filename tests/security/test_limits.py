"""Resource limits, against a real server over real sockets: request bodies are refused as soon
as they break a limit (before credentials or stage secrets are passed, without being read to
their end), multipart forms are bounded, and slow or oversized headers and idle connections
cannot hold the server.

Most tests send a request that *announces* or starts a large body and then stops sending: the
answer must come anyway, which proves the server refused without waiting for (or storing) the
rest. Before the limits existed each of these waited for the body and timed out.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Yard, start_yard, stop_yard
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
LIMITS = {
    "WHEELYARD_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "WHEELYARD_BODY_TIMEOUT": str(BODY_TIMEOUT),
    "WHEELYARD_MAX_HEADER": "8K",
    "WHEELYARD_MAX_FORM_PARTS": "20",
    "WHEELYARD_MAX_FORM_FIELD": "4K",
    "WHEELYARD_MAX_UPLOAD": "1M",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    server = start_yard(tmp_path_factory.mktemp("limits") / "data", LIMITS)
    yield server
    stop_yard(server)


def address(yard: Yard) -> tuple[str, int]:
    host, port = yard.url.removeprefix("http://").split(":")
    return host, int(port)


def raw_request(yard: Yard, head: str, body: bytes = b"", wait: float = 10.0) -> bytes:
    """Send the request head and the start of a body, then stop sending and read the answer.

    The connection stays open for writing, so an answer proves the server did not wait for the
    rest of the body the head announced."""
    with socket.create_connection(address(yard), timeout=wait) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        return read_answer(sock, wait)


def read_answer(sock: socket.socket, wait: float) -> bytes:
    sock.settimeout(wait)
    answer = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        answer += chunk
        if b"\r\n\r\n" in answer:
            head, _, rest = answer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(rest) >= length:
                break
    return answer


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def head(yard: Yard, method: str, path: str, *headers: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {address(yard)[0]}", *headers]
    return "\n".join(lines) + "\n"


# --- JSON bodies -----------------------------------------------------------------------------


def test_json_body_announced_too_large_is_refused_before_reading(limited: Yard) -> None:
    """An anonymous stage request announcing 1 GiB of JSON gets 413 at once (it used to be read
    whole into memory before credentials were even looked at)."""
    answer = raw_request(
        limited,
        head(
            limited,
            "POST",
            "/api/stage/someone/pkg/1.0/pkg-1.0-py3-none-any.whl",
            "Content-Type: application/json",
            f"Content-Length: {1024**3}",
        ),
        b'{"sha256": "',
    )
    assert status_of(answer) == 413
    assert b"exceeds the limit of 65536 bytes" in answer


def test_json_body_without_length_is_cut_at_the_limit(limited: Yard) -> None:
    """A chunked body with no announced length is refused once 64 KiB have arrived, while the
    client is still sending."""
    chunk = b"x" * 70_000
    answer = raw_request(
        limited,
        head(
            limited,
            "POST",
            "/api/authentications",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ),
        f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n",  # and then nothing: no last chunk
    )
    assert status_of(answer) == 413


def test_small_json_bodies_still_reach_the_route(limited: Yard) -> None:
    answer = httpx.post(f"{limited.url}/api/authentications", json={"note": "x" * 1000})
    assert answer.status_code == 401  # the route ran and asked for credentials


# --- staged transfers ------------------------------------------------------------------------


def _stage(yard: Yard, owner: str, tmp_path: Path) -> tuple[dict[str, str], str, Path]:
    token = yard.user(owner, "api:write")
    wheel = make_wheel(tmp_path, "staged", "1.0")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    stage = httpx.post(
        f"{yard.url}/api/stage/{owner}/staged/1.0/{wheel.name}",
        headers={"Authorization": f"token {token}"},
        json={"sha256": sha},
    )
    assert stage.status_code == 200, stage.text
    data = stage.json()
    return data["form_data"], data["post_url"], wheel


def _multipart(*parts: tuple[str, bytes, str | None], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    return out


def _post_form_start(yard: Yard, path: str, start: bytes, announced: int) -> bytes:
    return raw_request(
        yard,
        head(
            yard,
            "POST",
            path,
            "Content-Type: multipart/form-data; boundary=b0undary",
            f"Content-Length: {announced}",
        ),
        start,
    )


def test_unknown_stage_is_refused_before_the_body(limited: Yard) -> None:
    """No stage, no reading: 404 while 500 KB of announced body are still unsent."""
    answer = _post_form_start(limited, "/api/stage-upload/" + "0" * 32, b"", 500_000)
    assert status_of(answer) == 404 and b"<Code>NoSuchUpload</Code>" in answer


def test_bad_signature_is_refused_before_the_file_is_stored(
    limited: Yard, owner_name: str, tmp_path: Path
) -> None:
    form, url, wheel = _stage(limited, owner_name, tmp_path)
    path = httpx.URL(url).path
    start = _multipart(("key", form["key"].encode(), None), ("signature", b"forged", None))
    start += b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.whl"\r\n\r\n'
    answer = _post_form_start(limited, path, start + b"PK" * 1000, 600_000)
    assert status_of(answer) == 403 and b"bad upload signature" in answer
    # The stage is untouched: the genuine upload still succeeds afterwards.
    good = httpx.post(url, data=form, files={"file": (wheel.name, wheel.read_bytes())})
    assert good.status_code == 201, good.text


def test_file_before_signature_is_refused(limited: Yard, owner_name: str, tmp_path: Path) -> None:
    """Bytes that arrive before the secret is proven are never stored."""
    form, url, wheel = _stage(limited, owner_name, tmp_path)
    path = httpx.URL(url).path
    start = _multipart(("key", form["key"].encode(), None))
    start += b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.whl"\r\n\r\n'
    answer = _post_form_start(limited, path, start + wheel.read_bytes()[:100], 600_000)
    assert status_of(answer) == 403 and b"signature field must come before the file" in answer


def test_used_stage_is_refused_before_the_body(
    limited: Yard, owner_name: str, tmp_path: Path
) -> None:
    form, url, wheel = _stage(limited, owner_name, tmp_path)
    sent = httpx.post(url, data=form, files={"file": (wheel.name, wheel.read_bytes())})
    assert sent.status_code == 201, sent.text
    answer = _post_form_start(limited, httpx.URL(url).path, b"", 500_000)
    assert status_of(answer) == 409 and b"already used" in answer


def test_stage_upload_beyond_the_upload_limit_is_refused_at_once(
    limited: Yard, owner_name: str, tmp_path: Path
) -> None:
    _form, url, _wheel = _stage(limited, owner_name, tmp_path)
    answer = _post_form_start(limited, httpx.URL(url).path, b"", 50 * 1024**2)
    assert status_of(answer) == 413


# --- multipart forms (the PyPI upload API) --------------------------------------------------


def _twine_like(yard: Yard, owner: str, token: str, fields: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{yard.url}/{owner}/",
        auth=("__token__", token),
        data={":action": "file_upload", **fields},
        files={"content": ("x-1.0-py3-none-any.whl", b"PK\x05\x06" + b"\0" * 18)},
    )


def test_too_many_form_parts_are_refused(limited: Yard, owner_name: str) -> None:
    token = limited.user(owner_name, "pypi:upload")
    fields = {f"classifier{i}": "Programming Language :: Python" for i in range(30)}
    answer = _twine_like(limited, owner_name, token, fields)
    assert answer.status_code == 413 and "too many parts" in answer.json()["error"]


def test_oversized_form_field_is_refused(limited: Yard, owner_name: str) -> None:
    token = limited.user(owner_name, "pypi:upload")
    answer = _twine_like(limited, owner_name, token, {"description": "d" * 5000})
    assert answer.status_code == 413
    assert "form field 'description' exceeds the limit of 4096 bytes" in answer.json()["error"]


def test_anonymous_upload_is_refused_before_the_body(limited: Yard, owner_name: str) -> None:
    limited.user(owner_name)
    answer = _post_form_start(limited, f"/{owner_name}/", b"", 500_000)
    assert status_of(answer) == 401


# --- headers and connections ---------------------------------------------------------------


def test_headers_sent_byte_by_byte_are_cut_off(limited: Yard) -> None:
    """A slow-loris client: one header byte every 0.2 s. The server answers 408 and closes at
    the header deadline instead of waiting for the headers (which would take ~20 s here)."""
    request = b"GET /-/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    started = time.monotonic()
    with socket.create_connection(address(limited), timeout=10) as sock:
        try:
            for byte in request:
                sock.send(bytes([byte]))
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_answer(sock, 5)
    elapsed = time.monotonic() - started
    assert status_of(answer) == 408
    assert HEADER_TIMEOUT - 0.5 < elapsed < HEADER_TIMEOUT + 2.5


def test_idle_connection_is_closed(limited: Yard) -> None:
    started = time.monotonic()
    with socket.create_connection(address(limited), timeout=10) as sock:
        answer = read_answer(sock, 8)
    assert status_of(answer) == 408 and time.monotonic() - started < HEADER_TIMEOUT + 2.5


def test_body_that_stops_arriving_is_cut_off(limited: Yard) -> None:
    """Headers announce 1,000 bytes, 10 arrive, then nothing: 408 after the body's idle limit,
    instead of a connection (and a worker's task) held for as long as the client likes."""
    started = time.monotonic()
    answer = raw_request(
        limited,
        head(
            limited,
            "POST",
            "/api/authentications",
            "Content-Type: application/json",
            "Content-Length: 1000",
        ),
        b'{"note": "',
    )
    elapsed = time.monotonic() - started
    assert status_of(answer) == 408
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + 2.5


def test_slow_but_steady_body_is_read_to_the_end(limited: Yard) -> None:
    """The gap between reads counts, not the total: five pieces half the limit apart take
    longer than the limit in all and still reach the route."""
    body = b'{"note": "' + b"x" * 20 + b'"}'
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
    request = head(
        limited,
        "POST",
        "/api/authentications",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    )
    started = time.monotonic()
    with socket.create_connection(address(limited), timeout=10) as sock:
        sock.sendall(request.replace("\n", "\r\n").encode() + b"\r\n")
        for piece in pieces:
            time.sleep(BODY_TIMEOUT / 2)
            sock.sendall(piece)
        answer = read_answer(sock, 5)
    assert time.monotonic() - started > BODY_TIMEOUT * 1.5
    assert status_of(answer) == 401  # the whole body was read and the route ran


def test_oversized_headers_are_refused(limited: Yard) -> None:
    """16 KB of headers against an 8 KiB limit: 431, without waiting for the header end."""
    answer = raw_request(limited, head(limited, "GET", "/-/health", "X-Big: " + "a" * 16_000)[:-1])
    assert status_of(answer) == 431


def test_normal_clients_are_unaffected(limited: Yard) -> None:
    """Kept-alive connections with pauses between requests, and ordinary headers, still work."""
    with httpx.Client(base_url=limited.url) as client:
        for _ in range(3):
            assert client.get("/-/health", headers={"X-Fine": "a" * 4000}).status_code == 200
            time.sleep(HEADER_TIMEOUT / 2)


def test_connection_limit(tmp_path: Path) -> None:
    """Connections past the limit are answered 503; idle ones are reclaimed at the header
    deadline, so holding connections open locks nobody out for long."""
    server = start_yard(
        tmp_path / "data", {"WHEELYARD_MAX_CONNECTIONS": "4", "WHEELYARD_HEADER_TIMEOUT": "2"}
    )
    try:
        holders = [socket.create_connection(address(server)) for _ in range(4)]
        try:
            time.sleep(0.3)
            assert httpx.get(f"{server.url}/-/health").status_code == 503
            time.sleep(3)  # the idle holders are closed at the header deadline
            assert httpx.get(f"{server.url}/-/health").status_code == 200
        finally:
            for sock in holders:
                sock.close()
    finally:
        stop_yard(server)
