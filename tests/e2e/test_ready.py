"""``/-/ready``: ready when database and storage answer (both backends of the shared yard);
a server whose bucket is missing still starts and lives, but says it is not ready, and its
uploads fail cleanly."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import Yard, files_in, start_yard, stop_yard, upload
from tests.s3server import yard_env
from wheelyard.testing import make_wheel

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
