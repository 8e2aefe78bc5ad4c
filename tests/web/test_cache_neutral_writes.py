"""Writes that no cached page shows move no page cache on PostgreSQL: a token's first use
(its last-use time) and the download-count flush draw no change number (``db.leases``), so
every server keeps its pages; an upload still does. Before, every server's count flush every
few seconds dropped every server's pages and made the flushing server wait for them all."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.helpers import Yard, start_yard, stop_yard, upload
from tests.postgres import change_numbers_drawn, new_database
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


def _counted(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(sum(count), 0) FROM download_counts").fetchone()
        assert row is not None
        return int(row[0])


def test_last_use_and_download_counts_move_no_cache(postgres: str, tmp_path: Path) -> None:
    url = new_database(postgres)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    yard: Yard = start_yard(tmp_path / "data", {"WHEELYARD_DATABASE_URL": url})
    try:
        token = yard.user("carol")
        wheel = make_wheel(tmp_path, "neutral", "1.0")
        upload(yard, "carol", token, wheel)
        fresh = yard.token("carol", "fresh", "api:read")  # never used: its first use writes
        before = change_numbers_drawn(dsn)
        assert before > 0  # the upload and the new token were announced

        answer = httpx.get(f"{yard.url}/api/user", headers={"Authorization": f"token {fresh}"})
        assert answer.status_code == 200
        file = httpx.get(f"{yard.url}/carol/simple/neutral/", follow_redirects=True)
        link = file.text.split('href="')[1].split("#")[0]
        assert httpx.get(httpx.URL(file.url).join(link)).status_code == 200
        deadline = time.monotonic() + 30
        while _counted(dsn) == 0:  # the flush runs every few seconds
            assert time.monotonic() < deadline, "the download was never counted"
            time.sleep(0.2)
        assert change_numbers_drawn(dsn) == before

        upload(yard, "carol", token, make_wheel(tmp_path, "neutral", "2.0"))
        assert change_numbers_drawn(dsn) > before  # a change pages show is still announced
    finally:
        stop_yard(yard)
