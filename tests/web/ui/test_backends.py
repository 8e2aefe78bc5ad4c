"""The web UI against the shared real server, on both database backends (SQLite and
PostgreSQL): log-in sessions, search, and download counts written in batches (an upsert per
file and label) and reported by the pages and the Anaconda API."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.helpers import JSON, PASSWORD, Yard, upload, wait_for
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


def browser_session(yard: Yard, user: str) -> httpx.Client:
    client = httpx.Client(base_url=yard.url)
    form = client.get("/-/login").text
    token = form.split('name="csrf" value="')[1].split('"')[0]
    done = client.post("/-/login", data={"csrf": token, "name": user, "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client


def test_search_sessions_and_download_counts(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    token = yard.user(owner_name, "all")
    project = f"{owner_name}-tool"
    upload(yard, f"{owner_name}/", token, make_wheel(tmp_path, project, "1.0", summary="Kit"))
    page = httpx.get(f"{yard.url}/{owner_name}/simple/{project}/", headers=JSON).json()
    url = f"{yard.url}/{owner_name}/simple/{project}/{page['files'][0]['url']}"
    for _ in range(2):
        assert httpx.get(url).status_code == 200

    def counted() -> bool:
        api = httpx.get(f"{yard.url}/api/package/{owner_name}/{project}").json()
        return bool(api["files"][0]["ndownloads"] == 2)

    assert wait_for(counted)
    assert "<td>2</td>" in httpx.get(f"{yard.url}/{owner_name}/package/{project}/").text

    with closing(browser_session(yard, owner_name)) as browser:
        found = browser.get("/-/search", params={"q": project}).text
        assert f"/{owner_name}/package/{project}/" in found and "exact name" in found
        form = browser.get("/-/tokens").text
        csrf = form.split('name="csrf" value="')[1].split('"')[0]
        made = browser.post(
            "/-/tokens",
            data={"csrf": csrf, "name": "web", "scope": "pypi:download", "expiry": "1 day"},
        )
        assert made.status_code == 201
        assert "web" in browser.get("/-/tokens").text
