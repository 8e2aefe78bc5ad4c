"""Downloads through the protocol: a store without local files (as S3 will be) streams the
same bytes, ranges and errors as the zero-copy file path of the local store."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.helpers import DATA, ProtocolOnly
from wheelyard.storage import BlobStore
from wheelyard.storage.local import LocalStore
from wheelyard.web.files import byte_range, send_blob

ETAG = '"abc"'


def _client(store: BlobStore) -> TestClient:
    async def download(request: Request) -> Response:
        headers = {"ETag": ETAG, "Cache-Control": "private, max-age=0"}
        return send_blob(
            request, store, "p/blob", len(DATA), "application/octet-stream", headers, "x.whl"
        )

    return TestClient(Starlette(routes=[Route("/blob", download)]))


@pytest.fixture(params=["local file", "protocol stream"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    store = LocalStore(tmp_path / "files")
    store.put_bytes("p/blob", DATA)
    return _client(store if request.param == "local file" else ProtocolOnly(store))  # type: ignore[arg-type]


def test_the_whole_file(client: TestClient) -> None:
    r = client.get("/blob")
    assert r.status_code == 200 and r.content == DATA
    assert r.headers["content-length"] == str(len(DATA))
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] == ETAG
    assert r.headers["content-disposition"] == 'attachment; filename="x.whl"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=2-5", 2, 6),
        ("bytes=10000-", 10000, len(DATA)),
        ("bytes=-3", len(DATA) - 3, len(DATA)),
        ("bytes=100-99999", 100, len(DATA)),
    ],
)
def test_one_range(client: TestClient, header: str, start: int, end: int) -> None:
    r = client.get("/blob", headers={"Range": header})
    assert r.status_code == 206, r.text
    assert r.content == DATA[start:end]
    assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    assert r.headers["content-length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=20000-", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(client: TestClient, header: str) -> None:
    r = client.get("/blob", headers={"Range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"


def test_a_stale_if_range_gets_the_whole_file(client: TestClient) -> None:
    r = client.get("/blob", headers={"Range": "bytes=2-5", "If-Range": '"other"'})
    assert r.status_code == 200 and r.content == DATA
    r = client.get("/blob", headers={"Range": "bytes=2-5", "If-Range": ETAG})
    assert r.status_code == 206 and r.content == DATA[2:6]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=1-2", (1, 3)),
        ("bytes=-5", (95, 100)),
        ("bytes=90-", (90, 100)),
        ("bytes=1-2,5-6", None),
        ("items=1-2", None),
        ("bytes=x-2", None),
        ("bytes=5-3", None),
        ("bytes=-", None),
        ("bytes=-500", (0, 100)),
        ("bytes=99-1000", (99, 100)),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=500-600"])
def test_byte_range_not_satisfiable(header: str) -> None:
    with pytest.raises(ValueError):
        byte_range(header, 100)


def test_a_name_beyond_ascii_is_named_exactly(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "files")
    store.put_bytes("p/blob", DATA)
    for served in (store, ProtocolOnly(store)):

        async def download(request: Request, served: BlobStore = served) -> Response:  # type: ignore[assignment]
            return send_blob(
                request, served, "p/blob", len(DATA), "application/octet-stream", {}, "café.whl"
            )

        r = TestClient(Starlette(routes=[Route("/blob", download)])).get("/blob")
        assert r.content == DATA
        assert r.headers["content-disposition"] == (
            "attachment; filename=\"caf_.whl\"; filename*=UTF-8''caf%C3%A9.whl"
        )
