"""``send_checked``: every store answers the same bytes, ranges and 416s, and a damaged or
missing blob answers 503 (never 200, never a redirect), small and big; on S3 (a real
moto_server) a small file costs one GetObject and a big one no HeadObject."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.helpers import DATA, ProtocolOnly
from tests.s3server import client as s3client
from tests.s3server import new_bucket
from wheelyard.storage import BlobStore
from wheelyard.storage.local import LocalStore
from wheelyard.storage.s3 import S3Store
from wheelyard.web.errors import HANDLERS
from wheelyard.web.files import HASH_LIMIT, send_checked

ETAG = '"abc"'
SMALL = DATA
BIG = DATA * (HASH_LIMIT // len(DATA) + 3)  # over HASH_LIMIT: checked by size only
BLOBS = {"small": SMALL, "big": BIG}


@dataclass
class Served:
    client: TestClient
    store: BlobStore

    def put(self, data: bytes) -> None:
        self.store.put_bytes("p/blob", data)


def _app(store: BlobStore, blob: bytes) -> TestClient:
    sha256 = hashlib.sha256(blob).hexdigest()

    async def download(request: Request) -> Response:
        headers = {"ETag": ETAG, "Cache-Control": "public, max-age=31536000, immutable"}
        media = "application/octet-stream"
        return await run_in_threadpool(
            send_checked, request, store, "p/blob", len(blob), sha256, media, headers, "x.whl"
        )

    app = Starlette(routes=[Route("/blob", download, methods=["GET", "HEAD"])])
    app.exception_handlers.update(HANDLERS)  # DamagedBlob → 503, as the yard answers
    return TestClient(app, raise_server_exceptions=False)


def _s3(request: pytest.FixtureRequest, presign: bool) -> S3Store:
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Store(s3client(endpoint), new_bucket(endpoint), "yard", 60 if presign else None)


STORES: dict[str, Callable[[pytest.FixtureRequest, Path], BlobStore]] = {
    "local file": lambda request, tmp: LocalStore(tmp / "files"),
    "protocol": lambda request, tmp: ProtocolOnly(LocalStore(tmp / "files")),
    "s3": lambda request, tmp: _s3(request, False),
    "s3 presigned": lambda request, tmp: _s3(request, True),
}
E2E = pytest.mark.e2e


@pytest.fixture(
    params=[
        pytest.param(("local file", "small")),
        pytest.param(("local file", "big")),
        pytest.param(("protocol", "small")),
        pytest.param(("protocol", "big")),
        pytest.param(("s3", "small"), marks=E2E),
        pytest.param(("s3", "big"), marks=E2E),
        pytest.param(("s3 presigned", "small"), marks=E2E),
        pytest.param(("s3 presigned", "big"), marks=E2E),
    ],
    ids=lambda p: "-".join(p),
)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Served, bytes]]:
    kind, size = request.param
    store = STORES[kind](request, tmp_path)
    blob = BLOBS[size]
    store.put_bytes("p/blob", blob)
    yield Served(_app(store, blob), store), blob


def _get(s: Served, headers: dict[str, str] | None = None) -> httpx.Response:
    r = s.client.get("/blob", headers=headers, follow_redirects=False)
    if r.status_code == 307:  # presigned: the bucket answers, ranges and all
        assert r.headers["cache-control"] == "no-store"
        return httpx.get(r.headers["location"], headers=headers)
    return r


def test_the_whole_file(served: tuple[Served, bytes]) -> None:
    s, blob = served
    r = _get(s)
    assert r.status_code == 200 and r.content == blob
    assert r.headers["content-length"] == str(len(blob))
    assert r.headers["content-disposition"] == 'attachment; filename="x.whl"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=2-5", 2, 6),
        ("bytes=-3", -3, None),
        ("bytes=10000-", 10000, None),
    ],
)
def test_one_range(served: tuple[Served, bytes], header: str, start: int, end: int | None) -> None:
    s, blob = served
    r = _get(s, {"Range": header})
    want = blob[start:end]
    assert r.status_code == 206, r.text
    assert r.content == want
    first = len(blob) + start if start < 0 else start
    assert r.headers["content-range"] == f"bytes {first}-{first + len(want) - 1}/{len(blob)}"


def test_an_unsatisfiable_range_is_416(served: tuple[Served, bytes]) -> None:
    s, blob = served
    r = _get(s, {"Range": f"bytes={len(blob) + 5}-"})
    assert r.status_code == 416
    if s.store.url("p/blob") is None:  # the yard's answer (moto's own 416 names no size)
        assert r.headers["content-range"] == f"bytes */{len(blob)}"


def test_head_answers_the_length_alone(served: tuple[Served, bytes]) -> None:
    s, blob = served
    r = s.client.head("/blob", follow_redirects=False)
    assert r.status_code in (200, 307) and r.content == b""
    if r.status_code == 200:
        assert r.headers["content-length"] == str(len(blob))


def _damage(s: Served, blob: bytes, how: str) -> None:
    if how == "missing":
        s.store.delete("p/blob")
    elif how == "truncated":
        s.put(blob[: len(blob) // 2])
    else:  # same size, one bit off
        flipped = bytearray(blob)
        flipped[len(blob) // 2] ^= 1
        s.put(bytes(flipped))


@pytest.mark.parametrize("how", ["missing", "truncated", "flipped"])
def test_a_damaged_blob_answers_503(served: tuple[Served, bytes], how: str) -> None:
    s, blob = served
    _damage(s, blob, how)
    asks = [
        ("GET", None),
        ("GET", "bytes=0-99"),
        ("GET", f"bytes={len(blob) + 5}-"),
        ("HEAD", None),
    ]
    for method, wanted in asks:
        headers = {"Range": wanted} if wanted else None
        r = s.client.request(method, "/blob", headers=headers, follow_redirects=False)
        if how == "flipped" and len(blob) > HASH_LIMIT:
            # Big files are checked by size only on every download (``wheelyard check``
            # re-hashes them): the flipped bit goes out, as before.
            assert r.status_code in (200, 206, 307, 416)
            continue
        assert r.status_code == 503, (method, wanted, r.status_code, r.headers)
        assert "location" not in r.headers and "etag" not in r.headers
        assert "immutable" not in r.headers.get("cache-control", "")
        if method == "GET":
            assert "damaged" in r.json()["error"]


@pytest.mark.e2e
@pytest.mark.parametrize("presign", [False, True], ids=["streamed", "presigned"])
def test_s3_requests_per_download(
    request: pytest.FixtureRequest, tmp_path: Path, presign: bool
) -> None:
    """A small file: one GetObject, which both checks and (streamed) answers it. A big one:
    its GetObject reports the size (streamed), or one HeadObject before the redirect."""
    store = _s3(request, presign)
    calls: list[str] = []
    store.client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    for blob, expected in (
        (SMALL, ["GetObject"]),
        (BIG, ["HeadObject"] if presign else ["GetObject"]),
    ):
        store.put_bytes("p/blob", blob)
        client = _app(store, blob)
        for headers in (None, {"Range": "bytes=5-9"}):
            calls.clear()
            r = client.get("/blob", headers=headers, follow_redirects=False)
            assert r.status_code == (307 if presign else 206 if headers else 200)
            assert calls == expected, (len(blob), headers, calls)
