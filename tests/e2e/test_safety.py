"""Crash safety, concurrent uploads, streaming memory and the size limit, on dedicated servers."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Yard, start_yard, stop_yard
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_yard(tmp_path: Path) -> Iterator[Yard]:
    server = start_yard(tmp_path / "data")
    yield server
    stop_yard(server)


def _multipart_prefix(boundary: str, filename: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def test_kill_during_upload_leaves_nothing_visible(own_yard: Yard, tmp_path: Path) -> None:
    token = own_yard.user("crash")
    wheel = make_wheel(tmp_path, "crashpkg", "1.0", padding=20 * 1024 * 1024)
    boundary = "wyboundary"
    sent = threading.Event()

    def body() -> Iterator[bytes]:
        yield _multipart_prefix(boundary, wheel.name)
        with wheel.open("rb") as fh:
            yield fh.read(5 * 1024 * 1024)
            sent.set()
            time.sleep(30)  # the server dies meanwhile
            yield fh.read()

    def post() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{own_yard.url}/crash/",
                content=body(),
                auth=("__token__", token),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                timeout=60,
            )

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    assert sent.wait(30)
    time.sleep(0.5)
    os.kill(own_yard.process.pid, signal.SIGKILL)
    own_yard.process.wait()

    restarted = start_yard(own_yard.data_dir)
    try:
        assert httpx.get(f"{restarted.url}/crash/simple/crashpkg/").status_code == 404
        assert restarted.cli("check").returncode == 0
        # The same upload succeeds afterwards.
        ok = httpx.post(
            f"{restarted.url}/crash/",
            auth=("__token__", token),
            timeout=60,
            files={"content": (wheel.name, wheel.open("rb"))},
        )
        assert ok.status_code == 200, ok.text
        assert restarted.cli("check").returncode == 0
    finally:
        stop_yard(restarted)


def _race(yard: Yard, token: str, uploads: list[tuple[str, Path]]) -> list[int]:
    """POST each (label, file) at the same moment from its own thread; return the statuses."""
    barrier = threading.Barrier(len(uploads))
    statuses: list[int] = []

    def send(label: str, path: Path) -> None:
        data = path.read_bytes()
        barrier.wait()
        r = httpx.post(
            f"{yard.url}/racer/label/{label}/",
            timeout=60,
            auth=("__token__", token),
            files={"content": (path.name, data)},
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=u) for u in uploads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_concurrent_uploads_of_one_filename(own_yard: Yard, tmp_path: Path) -> None:
    token = own_yard.user("racer")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    variants = [
        make_wheel(tmp_path / d, "race", "1.0", module_body=f"v = {d!r}\n", padding=2 * 1024 * 1024)
        for d in ("a", "b")
    ]
    for round_ in range(3):
        # Round 0 races to create; later rounds meet the stored file: whichever variant
        # was stored first is a no-op (200), the other conflicts (409).
        statuses = _race(own_yard, token, [(f"r{round_}", v) for v in variants])
        assert statuses == [200, 409], statuses
    page = httpx.get(
        f"{own_yard.url}/racer/label/r0/simple/race/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    assert len(page["files"]) == 1
    assert own_yard.cli("check").returncode == 0


def test_same_bytes_concurrently_both_succeed(own_yard: Yard, tmp_path: Path) -> None:
    token = own_yard.user("racer")
    wheel = make_wheel(tmp_path, "twin", "1.0", padding=1024 * 1024)
    assert _race(own_yard, token, [("x", wheel), ("y", wheel)]) == [200, 200]
    for label in ("x", "y"):
        assert httpx.get(f"{own_yard.url}/racer/label/{label}/simple/twin/").status_code == 200
    assert own_yard.cli("check").returncode == 0


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_large_upload_streams_with_constant_memory(own_yard: Yard, tmp_path: Path) -> None:
    token = own_yard.user("big")
    wheel = make_wheel(tmp_path, "bigpkg", "1.0", padding=300 * 1024 * 1024)
    # Warm up code paths (imports, first upload) before measuring the peak.
    small = make_wheel(tmp_path, "warm", "1.0")
    httpx.post(
        f"{own_yard.url}/big/",
        auth=("__token__", token),
        files={"content": (small.name, small.read_bytes())},
    )
    before = _peak_rss_kib(own_yard.process.pid)
    with wheel.open("rb") as fh:
        r = httpx.post(
            f"{own_yard.url}/big/",
            auth=("__token__", token),
            files={"content": (wheel.name, fh)},
            timeout=300,
        )
    assert r.status_code == 200, r.text
    grown_mib = (_peak_rss_kib(own_yard.process.pid) - before) / 1024
    assert grown_mib < 50, f"server peak RSS grew by {grown_mib:.0f} MiB"
    # Download streams too, and is byte-identical.
    import hashlib

    h = hashlib.sha256()
    page = httpx.get(
        f"{own_yard.url}/big/simple/bigpkg/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    url = httpx.URL(f"{own_yard.url}/big/simple/bigpkg/").join(page["files"][0]["url"])
    with httpx.stream("GET", url, timeout=300) as resp:
        for chunk in resp.iter_bytes():
            h.update(chunk)
    assert h.hexdigest() == page["files"][0]["hashes"]["sha256"]


def test_size_limit_answers_413(tmp_path: Path) -> None:
    server = start_yard(tmp_path / "data", {"WHEELYARD_MAX_UPLOAD": "1M"})
    try:
        token = server.user("limited")
        wheel = make_wheel(tmp_path, "toobig", "1.0", padding=2 * 1024 * 1024)
        r = httpx.post(
            f"{server.url}/limited/",
            auth=("__token__", token),
            files={"content": (wheel.name, wheel.read_bytes())},
            timeout=60,
        )
        assert r.status_code == 413 and "limit" in r.json()["error"]

        # Without Content-Length (chunked), the limit applies while streaming.
        def chunks() -> Iterator[bytes]:
            yield _multipart_prefix("b0", wheel.name)
            yield wheel.read_bytes()
            yield b"\r\n--b0--\r\n"

        r = httpx.post(
            f"{server.url}/limited/",
            auth=("__token__", token),
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b0"},
            timeout=60,
        )
        assert r.status_code == 413
        assert server.cli("check").returncode == 0
        assert not any((server.data_dir / "files" / ".staging").iterdir())
    finally:
        stop_yard(server)
