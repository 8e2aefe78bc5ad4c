"""Several servers, one yard: two ``wheelyard serve`` processes on one PostgreSQL and one S3
bucket behave as one — what one writes, the other serves on the very next request, a limit on
failed authentications holds for both together, concurrent uploads of one name through both
store one file, and a staged (Anaconda) transfer may be spread over both."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.helpers import (
    JSON,
    PASSWORD,
    REMOVAL_DELAY,
    Yard,
    files_in,
    pip_install,
    start_yard,
    stop_yard,
    twine,
    upload,
)
from tests.postgres import new_database
from tests.s3server import new_bucket, yard_env
from wheelyard.db.leases import APPLICATION
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


@pytest.fixture
def pair(postgres: str, s3_endpoint: str, tmp_path: Path) -> Iterator[tuple[Yard, Yard]]:
    """Two servers (own data dirs, own ports) sharing one database and one bucket."""
    env = {
        "WHEELYARD_DATABASE_URL": new_database(postgres),
        "WHEELYARD_REMOVAL_DELAY": str(REMOVAL_DELAY),
        **yard_env(s3_endpoint, new_bucket(s3_endpoint)),
    }
    # Started at once on an empty database: one migrates the schema, the other waits for it.
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(start_yard, tmp_path / name, env) for name in ("a", "b")]
    started = [f.result() for f in starting if f.exception() is None]
    if len(started) < 2:
        for yard in started:
            stop_yard(yard)
        failed = [f.exception() for f in starting if f.exception() is not None]
        raise RuntimeError(f"a server did not start: {failed[0]}")
    yield started[0], started[1]
    for yard in started:
        stop_yard(yard)


def _wheel(folder: Path, name: str, version: str, summary: str = "A test package") -> Path:
    folder.mkdir()
    return make_wheel(folder, name, version, summary=summary)


def _api(
    yard: Yard, method: str, path: str, token: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = {"Authorization": f"token {token}", **(headers or {})}
    return httpx.request(method, f"{yard.url}/api/{path}", headers=headers)


def test_two_servers_behave_as_one(pair: tuple[Yard, Yard], tmp_path: Path) -> None:
    a, b = pair
    token = a.user("team")
    v1 = _wheel(tmp_path / "d1", "shared-pkg", "1.0")
    v2 = _wheel(tmp_path / "d2", "shared-pkg", "2.0")

    # Uploaded through A, served by B on the next request (B's page cache is warm first).
    twine(a, "team", token, v1)
    assert files_in(b, "team", "main", "shared-pkg") == [v1.name]
    assert httpx.get(f"{b.url}/team/simple/", headers=JSON).json()["projects"] == [
        {"name": "shared-pkg"}
    ]
    twine(a, "team", token, v2)
    assert files_in(b, "team", "main", "shared-pkg") == [v1.name, v2.name]
    pip_install(f"{b.url}/team/simple/", tmp_path / "site", "shared-pkg==2.0")
    assert (tmp_path / "site" / "shared_pkg-2.0.dist-info").is_dir()
    page = httpx.get(f"{b.url}/team/simple/shared-pkg/", headers=JSON).json()
    entry = next(f for f in page["files"] if f["filename"] == v2.name)
    url = httpx.URL(f"{b.url}/team/simple/shared-pkg/").join(entry["url"])
    got = httpx.get(url, headers={"Range": "bytes=10-19"})  # streamed from S3 through B
    assert got.status_code == 206 and got.content == v2.read_bytes()[10:20]

    # Label operations on B are seen at once on A (and the other way round).
    assert _api(b, "POST", "channels/team/main/copy/stable", token).is_success
    assert files_in(a, "team", "stable", "shared-pkg") == [v1.name, v2.name]
    assert _api(a, "POST", "channels/team/stable/lock", token).is_success
    other = _wheel(tmp_path / "d3", "other", "1.0")
    locked = upload(b, "team/label/stable", token, other, check=False)  # locked through A
    assert locked.status_code >= 400, locked.text
    assert files_in(a, "team", "stable", "other") == []
    assert _api(a, "DELETE", "channels/team/stable/lock", token).is_success
    # B's in-memory pages of the label (the anonymous fast path) are warm, then A deletes it.
    assert httpx.get(f"{b.url}/team/label/stable/simple/").status_code == 200
    assert files_in(b, "team", "stable", "shared-pkg") == [v1.name, v2.name]
    a.cli("label", "private", "team", "stable")  # a command on A's host, not even a server
    assert httpx.get(f"{b.url}/team/label/stable/simple/shared-pkg/").status_code == 404
    assert _api(a, "DELETE", "channels/team/stable", token).is_success
    assert httpx.get(f"{b.url}/team/label/stable/simple/").status_code == 404
    assert httpx.get(f"{b.url}/team/label/stable/simple/shared-pkg/").status_code == 404


def test_concurrent_uploads_of_one_name_store_exactly_one(
    pair: tuple[Yard, Yard], tmp_path: Path
) -> None:
    a, b = pair
    token = a.user("racer")
    one = _wheel(tmp_path / "x", "race", "1.0", "through A")
    two = _wheel(tmp_path / "y", "race", "1.0", "through B")
    assert one.name == two.name and one.read_bytes() != two.read_bytes()
    answers: dict[str, int] = {}
    start = threading.Barrier(2)

    def send(yard: Yard, dist: Path, who: str) -> None:
        start.wait()
        answers[who] = upload(yard, "racer", token, dist, check=False).status_code

    threads = [
        threading.Thread(target=send, args=(a, one, "a")),
        threading.Thread(target=send, args=(b, two, "b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # The loser meets the winner's row: other bytes under that name are a conflict (409), not
    # a server error.
    assert sorted(answers.values()) == [200, 409], answers
    for yard in (a, b):
        page = httpx.get(f"{yard.url}/racer/simple/race/", headers=JSON).json()
        assert [f["filename"] for f in page["files"]] == [one.name]
        winner = one if answers["a"] == 200 else two
        digest = hashlib.sha256(winner.read_bytes()).hexdigest()
        assert page["files"][0]["hashes"]["sha256"] == digest
    assert "ok: database and storage agree" in a.cli("check").stdout


def _live_leases(yard: Yard) -> int:
    """How many serving processes hold an unexpired lease and are listening."""
    dsn = yard.extra_env["WHEELYARD_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM cache_leases WHERE expires > clock_timestamp()),"
            " (SELECT count(*) FROM pg_stat_activity"
            "  WHERE application_name = %s AND datname = current_database())",
            (APPLICATION,),
        ).fetchone()
    assert row is not None
    return min(int(row[0]), int(row[1]))


def _wait_for_leases(yard: Yard, count: int) -> None:
    deadline = time.monotonic() + 30
    while _live_leases(yard) < count:
        assert time.monotonic() < deadline, "the servers did not take their leases"
        time.sleep(0.05)


def test_a_cut_or_stopped_server_never_serves_a_stale_page(
    pair: tuple[Yard, Yard], tmp_path: Path
) -> None:
    """B reuses pages with no round trip while it holds a lease (``db/leases.py``): a write
    through A answers only after B dropped what it changed, or after B's lease expired, and B
    stops trusting its cache before that. Nothing here depends on timing luck: B is asked the
    moment A has answered."""
    a, b = pair
    token = a.user("leased")
    dists = [_wheel(tmp_path / f"v{i}", "leased-pkg", f"{i}.0") for i in range(1, 6)]
    names = [d.name for d in dists]
    assert upload(a, "leased", token, dists[0]).is_success
    _wait_for_leases(a, 2)
    for _ in range(3):  # B's fast path keeps the page
        assert files_in(b, "leased", "main", "leased-pkg") == names[:1]

    # Both servers' listening connections cut at once: a write goes on, B is never stale.
    dsn = a.extra_env["WHEELYARD_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        cut = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (APPLICATION,),
        ).fetchall()
    assert cut == [(True,), (True,)]
    assert upload(a, "leased", token, dists[1]).is_success
    assert files_in(b, "leased", "main", "leased-pkg") == names[:2]

    # They rejoin on their own; B's warm page is dropped the moment A's next write answers.
    _wait_for_leases(a, 2)
    assert files_in(b, "leased", "main", "leased-pkg") == names[:2]
    assert upload(a, "leased", token, dists[2]).is_success
    assert files_in(b, "leased", "main", "leased-pkg") == names[:3]

    # B frozen (SIGSTOP) with a warm page and a valid lease: A's write waits at most for the
    # lease to expire, and B, resumed, does not trust a lease its own clock says is over.
    assert files_in(b, "leased", "main", "leased-pkg") == names[:3]
    os.kill(b.process.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        assert upload(a, "leased", token, dists[3]).is_success
        assert time.monotonic() - start < 10
    finally:
        os.kill(b.process.pid, signal.SIGCONT)
    assert files_in(b, "leased", "main", "leased-pkg") == names[:4]
    _wait_for_leases(a, 2)
    assert upload(a, "leased", token, dists[4]).is_success
    assert files_in(b, "leased", "main", "leased-pkg") == names


def test_failed_authentications_are_limited_for_the_yard_not_per_server(
    pair: tuple[Yard, Yard],
) -> None:
    """Guesses spread over both servers add up to the one limit (30 distinct bad tokens per
    client, 10 wrong passwords per user, the defaults): a guesser cannot multiply its tries
    by the number of servers, and the block holds at both, for a right credential too."""
    a, b = pair
    token = a.user("guarded")
    guesser = {"X-Forwarded-For": "198.51.100.77"}
    for n in range(30):
        answer = _api(a if n % 2 else b, "GET", "user", f"wy_guess{n}", guesser)
        assert answer.status_code == 401, (n, answer.text)
    for yard in (a, b):
        blocked = _api(yard, "GET", "user", token, guesser)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
        assert _api(yard, "GET", "user", token).status_code == 200  # others are not blocked

    def login(yard: Yard, password: str, ip: str) -> int:
        return httpx.post(
            f"{yard.url}/api/authentications",
            auth=("guarded", password),
            headers={"X-Forwarded-For": ip},
            json={"note": "login", "scopes": ["api:read"]},
            timeout=30,
        ).status_code

    for n in range(10):
        assert login(a if n % 2 else b, f"guess-{n}", f"203.0.113.{n}") == 401
    assert {login(yard, PASSWORD, "203.0.113.99") for yard in (a, b)} == {429}


def _rows(yard: Yard, query: str, *params: object) -> int:
    """The count ``query`` answers on the yard's database, read directly."""
    dsn = yard.extra_env["WHEELYARD_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def _race(owner: str, token: str, sends: dict[str, tuple[Yard, Path]]) -> dict[str, httpx.Response]:
    """Each upload of ``sends`` started at the same moment, each through its own server."""
    start = threading.Barrier(len(sends))
    answers: dict[str, httpx.Response] = {}

    def send(who: str, yard: Yard, dist: Path) -> None:
        start.wait()
        answers[who] = upload(yard, owner, token, dist, check=False)

    threads = [threading.Thread(target=send, args=(who, *to)) for who, to in sends.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_concurrent_uploads_of_the_same_bytes_through_both_store_one_file(
    pair: tuple[Yard, Yard], tmp_path: Path
) -> None:
    """The same file sent through A and B at once (a retried CI job, two runners): both
    answer 200, one creates the file and the other finds it, and there is one row, one entry
    on the page, at either server."""
    a, b = pair
    token = a.user("twins")
    for version in ("1.0", "2.0", "3.0"):  # a few rounds: each a fresh race for a new name
        dist = _wheel(tmp_path / version, "twin", version)
        answers = _race("twins", token, {"a": (a, dist), "b": (b, dist)})
        codes = {who: r.status_code for who, r in answers.items()}
        assert codes == {"a": 200, "b": 200}, {who: r.text for who, r in answers.items()}
        outcomes = sorted(r.json()["outcome"] for r in answers.values())
        assert outcomes == ["created", "existing"], outcomes
        assert _rows(a, "SELECT count(*) FROM files WHERE filename = %s", dist.name) == 1
        digest = hashlib.sha256(dist.read_bytes()).hexdigest()
        for yard in (a, b):
            page = httpx.get(f"{yard.url}/twins/simple/twin/", headers=JSON).json()
            entries = [f for f in page["files"] if f["filename"] == dist.name]
            assert len(entries) == 1 and entries[0]["hashes"]["sha256"] == digest
    assert "ok: database and storage agree" in b.cli("check").stdout


def test_a_staged_transfer_spread_over_both_servers_completes(
    pair: tuple[Yard, Yard], tmp_path: Path
) -> None:
    """Behind a load balancer each request of an Anaconda upload (stage → POST the bytes to
    the ``post_url`` the stage returned → commit) may reach another server. The real
    ``anaconda`` client sends all three to the one URL it is configured with (the stage's
    ``post_url`` names the server that staged), so this test makes the same three HTTP
    requests as ``binstar_client.Binstar.upload`` with httpx, each to the server chosen: the
    bytes go to the ``post_url`` path on the other server."""
    a, b = pair
    token = a.user("spread")
    auth = {"Authorization": f"token {token}"}
    committed: list[str] = []
    for version, (staging, receiving, committing) in {
        "1.0": (a, b, b),  # stage on A, bytes and commit on B
        "2.0": (b, a, b),  # each request on the other server than the one before
    }.items():
        dist = _wheel(tmp_path / version, "spread-pkg", version)
        data = dist.read_bytes()
        path = f"spread/spread-pkg/{version}/{dist.name}"
        stage = httpx.post(
            f"{staging.url}/api/stage/{path}",
            headers=auth,
            json={
                "distribution_type": "pypi",
                "description": "",
                "attrs": {},
                "dependencies": None,
                "channels": ["dev"],
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        assert stage.status_code == 200, stage.text
        ticket = stage.json()
        assert ticket["post_url"].startswith(staging.url + "/")  # the yard's own URL
        via = receiving.url + ticket["post_url"].removeprefix(staging.url)
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        form = {**ticket["form_data"], "Content-Length": str(len(data)), "Content-MD5": md5}
        sent = httpx.post(via, data=form, files={"file": (dist.name, data)}, timeout=60)
        assert sent.status_code == 201, sent.text
        for yard in (a, b):  # received, not committed: invisible
            assert files_in(yard, "spread", "dev", "spread-pkg") == committed
        done = httpx.post(
            f"{committing.url}/api/commit/{path}",
            headers=auth,
            json={"dist_id": ticket["dist_id"]},
            timeout=60,
        )
        assert done.status_code == 200, done.text
        assert done.json()["outcome"] == "created"
        committed.append(dist.name)
        for yard in (a, b):
            page = httpx.get(f"{yard.url}/spread/label/dev/simple/spread-pkg/", headers=JSON)
            entry = next(f for f in page.json()["files"] if f["filename"] == dist.name)
            url = httpx.URL(f"{yard.url}/spread/label/dev/simple/spread-pkg/").join(entry["url"])
            assert httpx.get(url).content == data
    assert files_in(b, "spread", "dev", "spread-pkg") == committed
    assert _rows(a, "SELECT count(*) FROM stages") == 0  # each stage used once, then forgotten
    assert "ok: database and storage agree" in a.cli("check").stdout
