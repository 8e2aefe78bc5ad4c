"""``/-/ready``: ready when database and storage answer (both backends of the shared yard);
a server whose bucket is missing still starts and lives, but says it is not ready, and its
uploads fail cleanly. ``/-/health`` answers while the process lives, whatever its database
does. With the database or the bucket unreachable, or black-holed (connections open, no byte
answered), ``/-/ready`` says so within its time limit, and a burst of probes holds at most one
worker thread per dependency; a local store whose folder is gone is not ready."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from tests.db.test_session import _terminate
from tests.helpers import Yard, files_in, start_yard, stop_yard, upload, wait_for
from tests.postgres import new_database
from tests.s3server import new_bucket, yard_env
from wheelyard.db.session import make_engine
from wheelyard.testing import make_wheel
from wheelyard.web.ready import TIME_LIMIT

pytestmark = pytest.mark.e2e


def test_ready_when_database_and_storage_answer(yard: Yard) -> None:
    r = httpx.get(f"{yard.url}/-/ready")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "database": "ok", "storage": "ok"}
    assert r.headers["cache-control"] == "no-store"


def test_not_ready_without_its_bucket(s3_endpoint: str, tmp_path: Path) -> None:
    server = start_yard(tmp_path / "yard", yard_env(s3_endpoint, "no-such-bucket"))
    try:
        assert httpx.get(f"{server.url}/-/health").status_code == 200
        r = httpx.get(f"{server.url}/-/ready", timeout=30)
        assert r.status_code == 503
        storage = "failed: object storage failed while listing files (NoSuchBucket)"
        assert r.json() == {"ok": False, "database": "ok", "storage": storage}
        # Uploads fail cleanly: 503 naming the storage, and nothing is listed.
        token = server.user("alice")
        (tmp_path / "w").mkdir()
        wheel = make_wheel(tmp_path / "w", "nowhere", "1.0")
        answer = upload(server, "alice", token, wheel, check=False)
        assert answer.status_code == 503
        assert "object storage failed while storing a file (NoSuchBucket)" in answer.text
        assert files_in(server, "alice", "main", "nowhere") == []
        # The admin commands say so in one line, without a traceback.
        for command in (["check"], ["check", "--repair"]):
            done = server.cli(*command, check=False)
            assert done.returncode == 1 and "Traceback" not in done.stderr
            assert done.stderr.startswith("wheelyard: error: object storage failed while ")
            assert "(NoSuchBucket)" in done.stderr
    finally:
        stop_yard(server)


class Blackhole:
    """A TCP forwarder on 127.0.0.1 to ``port`` that can go silent: ``cut()`` stops passing
    bytes either way while every connection stays open and new ones are still accepted — what
    a dependency behind dropped packets looks like (no error, ever). ``mend()`` passes on what
    was held back, so the connections the server kept work again. ``cut(drop=True)`` also
    closes the connections made so far, as a failover does: only new, silent ones are left."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._passing = threading.Event()
        self._passing.set()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, drop: bool = False) -> None:
        self._passing.clear()
        if drop:
            self._close_all()

    def _close_all(self) -> None:
        closing, self._sockets = self._sockets, []
        for sock in closing:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def mend(self) -> None:
        self._passing.set()

    def close(self) -> None:
        self.mend()
        self._listener.close()
        self._close_all()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._sockets.append(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._passing.wait()  # accepted, but nothing reaches the server while cut
        try:
            upstream = socket.create_connection(("127.0.0.1", self._target))
        except OSError:
            client.close()
            return
        self._sockets.append(upstream)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                self._passing.wait()
                data = src.recv(65536)
                if not data:
                    break
                self._passing.wait()  # bytes read just before a cut are held back too
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _threads(yard: Yard) -> int:
    """The server process's threads (one worker: uvicorn serves in the process it started)."""
    return len(os.listdir(f"/proc/{yard.process.pid}/task"))


def _health_is_quick(yard: Yard) -> None:
    started = time.monotonic()
    r = httpx.get(f"{yard.url}/-/health", timeout=3)
    assert r.status_code == 200 and r.json()["ok"] is True
    assert time.monotonic() - started < 1


def _ready(yard: Yard) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    r = httpx.get(f"{yard.url}/-/ready", timeout=TIME_LIMIT + 30)
    return time.monotonic() - started, r


def _burst(yard: Yard, count: int = 60) -> list[dict[str, object]]:
    """``count`` probes at once, as load balancers asking together; each answers 503 within
    the time limit. More than anyio's 40 worker threads: unbounded checks would take them all."""
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda _i: _ready(yard), range(count)))
    for took, r in answers:
        assert r.status_code == 503, r.text
        assert took < TIME_LIMIT + 3, took
    return [r.json() for _took, r in answers]


def _admin(postgres: str) -> str:
    return postgres.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def blackholes() -> Iterator[list[Blackhole]]:
    made: list[Blackhole] = []
    yield made
    for hole in made:
        hole.close()


def test_database_refusing_connections(postgres: str, tmp_path: Path) -> None:
    """The database stops taking connections (its own were terminated): the server lives and
    says it is not ready, naming the database, and is ready again once it answers."""
    url = new_database(postgres)
    name = make_url(url).database
    server = start_yard(tmp_path / "yard", {"WHEELYARD_DATABASE_URL": url})
    try:
        assert _ready(server)[1].status_code == 200
        with psycopg.connect(_admin(postgres), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")  # superusers too
        _terminate(postgres, str(name))
        _health_is_quick(server)
        took, r = _ready(server)
        assert r.status_code == 503 and took < TIME_LIMIT + 2
        assert r.json() == {"ok": False, "database": "failed (OperationalError)", "storage": "ok"}
        _health_is_quick(server)
        with psycopg.connect(_admin(postgres), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        assert wait_for(lambda: _ready(server)[1].status_code == 200, timeout=15)
    finally:
        stop_yard(server)


def test_database_black_holed(postgres: str, tmp_path: Path, blackholes: list[Blackhole]) -> None:
    """Every byte to and from PostgreSQL is held back: health answers at once; each probe
    answers 503 within the time limit, and a burst of them runs one database check, not one
    per probe (no worker threads pile up)."""
    url = make_url(new_database(postgres))
    hole = Blackhole(int(url.port or 5432))
    blackholes.append(hole)
    through = url.set(port=hole.port).render_as_string(hide_password=False)
    server = start_yard(tmp_path / "yard", {"WHEELYARD_DATABASE_URL": through})
    try:
        assert _ready(server)[1].status_code == 200
        before = _threads(server)
        hole.cut()
        _health_is_quick(server)
        limit = f"no answer within {TIME_LIMIT:.0f}s"
        for body in _burst(server):
            assert body == {"ok": False, "database": limit, "storage": "ok"}
        _health_is_quick(server)
        assert _threads(server) - before <= 3, "probes piled up worker threads"
        hole.mend()  # the held-back check answers; the next probe runs afresh
        assert wait_for(lambda: _ready(server)[1].status_code == 200, timeout=15)
        # Failed over to an address that drops everything: the pool's connections are gone,
        # and a new one gives up on libpq's connect_timeout, within the probe's time limit.
        hole.cut(drop=True)
        for body in _burst(server):
            assert body == {"ok": False, "database": "failed (OperationalError)", "storage": "ok"}
        _health_is_quick(server)
        hole.mend()
        assert wait_for(lambda: _ready(server)[1].status_code == 200, timeout=15)
    finally:
        stop_yard(server)


def test_a_connect_timeout_in_the_database_url_wins(
    postgres: str, blackholes: list[Blackhole]
) -> None:
    """The yard's short connect_timeout is a default: one the URL names is kept."""
    url = make_url(new_database(postgres))
    hole = Blackhole(int(url.port or 5432))
    blackholes.append(hole)
    through = url.set(port=hole.port)
    hole.cut()
    for query, at_least, below in (({}, 2.5, 4.5), ({"connect_timeout": "6"}, 5.5, 7.5)):
        engine = make_engine(through.set(query=query).render_as_string(hide_password=False))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="timeout"):
            engine.connect()
        assert at_least < time.monotonic() - started < below, query
        engine.dispose()


def test_bucket_black_holed(s3_endpoint: str, tmp_path: Path, blackholes: list[Blackhole]) -> None:
    """S3 holds every byte back: the storage check gives up on its own short timeouts (so its
    thread comes back) and says why, within the time limit; a burst runs one check."""
    hole = Blackhole(int(httpx.URL(s3_endpoint).port or 80))
    blackholes.append(hole)
    env = yard_env(f"http://127.0.0.1:{hole.port}", new_bucket(s3_endpoint))
    server = start_yard(tmp_path / "yard", env)
    try:
        assert _ready(server)[1].status_code == 200
        before = _threads(server)
        hole.cut()
        _health_is_quick(server)
        for body in _burst(server):
            assert body["database"] == "ok", body
            storage = str(body["storage"])
            assert storage.startswith("failed: object storage failed while listing files ("), body
            assert "Timeout" in storage, body  # the client's own timeout, not the probe's
        assert _threads(server) - before <= 3, "probes piled up worker threads"
        hole.mend()
        assert wait_for(lambda: _ready(server)[1].status_code == 200, timeout=15)
    finally:
        stop_yard(server)


def test_local_store_without_its_folder(tmp_path: Path) -> None:
    """The store's folder is gone (a volume not mounted, removed): not ready, naming storage;
    a file in its place is no better; ready again once the folder is back."""
    server = start_yard(tmp_path / "yard")
    folder = server.data_dir / "files"
    try:
        assert folder.is_dir() and _ready(server)[1].status_code == 200
        shutil.rmtree(folder)
        r = _ready(server)[1]
        assert r.status_code == 503
        storage = (
            "failed: file storage failed while checking its folder (No such file or directory)"
        )
        assert r.json() == {"ok": False, "database": "ok", "storage": storage}
        folder.write_bytes(b"")
        r = _ready(server)[1]
        assert r.status_code == 503
        storage = "failed: file storage failed while checking its folder (not a folder)"
        assert r.json()["storage"] == storage
        folder.unlink()
        folder.mkdir()
        assert _ready(server)[1].status_code == 200
    finally:
        stop_yard(server)
