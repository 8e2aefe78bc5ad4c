"""A yard on PostgreSQL + S3 whose database connections were all terminated
(``pg_terminate_backend``, as a restart or a failover does) answers the very next requests —
pages, metadata, downloads, an upload — without an error: no pre-ping round trip needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.db.test_session import _terminate
from tests.helpers import JSON, Yard, start_yard, stop_yard, upload
from tests.postgres import new_database
from tests.s3server import new_bucket, yard_env
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_yard(postgres: str, s3_endpoint: str, tmp_path: Path) -> Iterator[tuple[Yard, str]]:
    database = new_database(postgres)
    env = {"WHEELYARD_DATABASE_URL": database, **yard_env(s3_endpoint, new_bucket(s3_endpoint))}
    yard = start_yard(tmp_path / "yard", env)
    yield yard, database.rsplit("/", 1)[1]
    stop_yard(yard)


def _fetch_all(yard: Yard, token: str) -> None:
    base = f"{yard.url}/t/{token}/terry/simple/calm/"
    for page_url in (f"{yard.url}/terry/simple/calm/", base):
        page = httpx.get(page_url, headers=JSON)
        assert page.status_code == 200, page.text
        url = str(httpx.URL(page_url).join(page.json()["files"][0]["url"])).split("#")[0]
        for got in (httpx.get(url), httpx.get(url + ".metadata")):
            assert got.status_code == 200, (got.status_code, got.text)
    api = httpx.get(
        f"{yard.url}/api/package/terry/calm", headers={"Authorization": f"token {token}"}
    )
    assert api.status_code == 200, api.text


def test_terminated_connections_are_not_an_error(
    pg_yard: tuple[Yard, str], postgres: str, tmp_path: Path
) -> None:
    yard, database = pg_yard
    token = yard.user("terry")
    upload(yard, "terry/", token, make_wheel(tmp_path, "calm", "1.0"))
    _fetch_all(yard, token)  # the pool holds connections now
    for version in ("2.0", "3.0"):
        assert _terminate(postgres, database) >= 1
        _fetch_all(yard, token)  # reads first ...
        assert _terminate(postgres, database) >= 1
        upload(yard, "terry/", token, make_wheel(tmp_path, "calm", version))  # ... a write first
        _fetch_all(yard, token)
