"""``/-/ready``: ready when database and storage answer (both backends of the shared yard);
a server whose bucket is missing still starts and lives, but says it is not ready."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import Yard, start_yard, stop_yard
from tests.s3server import yard_env

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
        assert r.json() == {"ok": False, "database": "ok", "storage": "failed (NoSuchBucket)"}
    finally:
        stop_yard(server)
