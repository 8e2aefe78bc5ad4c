"""/-/metrics and the JSON access log, in-process (Starlette's TestClient over ``create_app``):
counts by route template (never a raw path, owner name or token), uploads, bytes served,
page-cache hits, who may read the page (WHEELYARD_METRICS), and JSON log lines with the token
of a ``/t/<TOKEN>/`` path and of an Authorization header kept out."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wheelyard.cli.main import main as wheelyard
from wheelyard.config import Settings
from wheelyard.testing import make_wheel
from wheelyard.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette 1.x's TestClient asks for httpx2
    from starlette.testclient import TestClient

OWNER = "meterowner"
PROJECT = "metered"
SIMPLE = "/{owner}/simple/{project}/"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Yard:
    data: Path
    token: str
    wheel: Path

    def client(self, **env: str) -> TestClient:
        base = {"WHEELYARD_DATA_DIR": str(self.data), "WHEELYARD_METRICS": "public"}
        settings = Settings.from_env({**base, **env})
        return TestClient(create_app(settings))


def _cli(data: Path, *args: str, stdin: str = "") -> str:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setattr("sys.stdin", io.StringIO(stdin))
        assert wheelyard(["--data-dir", str(data), *args]) == 0
    return out.getvalue().strip()


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Yard:
    data = tmp_path_factory.mktemp("metrics") / "data"
    _cli(data, "user", "create", OWNER, "--create", "--password-stdin", stdin="horse battery 9\n")
    scopes = "api:read api:write pypi:upload pypi:download"
    token = _cli(data, "token", "create", "--user", OWNER, "--name", "m", "--scopes", scopes)
    return Yard(data, token, make_wheel(tmp_path_factory.mktemp("w"), PROJECT, "1.0"))


def samples(client: TestClient, **headers: str) -> Samples:
    page = client.get("/-/metrics", headers=headers)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(page.text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_counts_by_route_template(metered: Yard) -> None:
    with metered.client() as client:
        before = samples(client)
        up = client.post(
            f"/{OWNER}/",
            auth=("__token__", metered.token),
            files={"content": (metered.wheel.name, metered.wheel.read_bytes())},
        )
        assert up.status_code == 200, up.text
        for _ in range(3):  # anonymous: the fast path, a cache hit after the first
            assert client.get(f"/{OWNER}/simple/{PROJECT}/").status_code == 200
        page = client.get(f"/t/{metered.token}/{OWNER}/simple/{PROJECT}/")
        assert page.status_code == 200
        href = str(page.url.join(page.text.split('href="')[1].split("#")[0]).path)
        wheel = client.get(href)
        assert wheel.content == metered.wheel.read_bytes()
        assert client.get("/nobody-here/simple/nothing/").status_code == 404
        after = samples(client)
        text = client.get("/-/metrics").text

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "wheelyard_http_requests_total"
    assert delta(requests, method="GET", route=SIMPLE, status="200") == 3
    token_route = "/t/{token}" + SIMPLE
    assert delta(requests, method="GET", route=token_route, status="200") == 1
    assert delta(requests, method="POST", route="/{owner}/", status="200") == 1
    assert delta("wheelyard_uploads_total", route="/{owner}/") == 1
    files_route = "/t/{token}/{owner}/files/{sha256}/{filename}"
    assert href.startswith(f"/t/{metered.token}/{OWNER}/files/")  # the page's own links
    assert delta("wheelyard_http_response_bytes_total", route=files_route) == len(wheel.content)
    assert delta("wheelyard_page_cache_total", cache="fast", result="hit") >= 2
    count = "wheelyard_http_request_duration_seconds_count"
    assert delta(count, method="GET", route=SIMPLE) == 4  # the 404 below too
    # Unknown owners are counted under one label, and nothing names an owner or a token.
    assert delta(requests, method="GET", route=SIMPLE, status="404") == 1
    assert OWNER not in text and "nobody-here" not in text and metered.token not in text


def test_who_may_read(metered: Yard) -> None:
    with metered.client(WHEELYARD_METRICS="off") as client:
        assert client.get("/-/metrics").status_code == 404
    with metered.client(WHEELYARD_METRICS="token") as client:
        assert client.get("/-/metrics").status_code == 401
        bad = client.get("/-/metrics", headers={"Authorization": "token wy_nope"})
        assert bad.status_code == 401
        assert samples(client, Authorization=f"token {metered.token}")


def test_json_access_log_redacts_tokens(metered: Yard, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wheelyard.access")
    with metered.client(WHEELYARD_LOG_FORMAT="json") as client:
        client.get(f"/t/{metered.token}/{OWNER}/simple/{PROJECT}/")
        bearer = {"Authorization": f"token {metered.token}"}
        client.get(f"/{OWNER}/simple/{PROJECT}/", headers=bearer)
        client.get(f"/{OWNER}/simple/{PROJECT}/", auth=("__token__", metered.token))
    lines = [r.getMessage() for r in caplog.records if r.name == "wheelyard.access"]
    assert len(lines) == 3
    assert all(metered.token not in line for line in lines)
    path_token, header_token, basic = (json.loads(line) for line in lines)
    assert path_token["path"] == f"/t/<redacted>/{OWNER}/simple/{PROJECT}/"
    assert path_token["route"] == "/t/{token}" + SIMPLE
    for entry in (path_token, header_token, basic):
        assert entry["user"] == OWNER and entry["status"] == 200 and entry["method"] == "GET"
        assert entry["bytes"] > 0 and entry["duration"] >= 0 and entry["client"]
        assert set(entry) == {
            *("time", "method", "route", "path", "status", "bytes", "duration", "client"),
            "user",
        }
    assert header_token["path"] == f"/{OWNER}/simple/{PROJECT}/"


def test_text_format_writes_no_json(metered: Yard, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wheelyard.access")
    with metered.client() as client:
        client.get(f"/{OWNER}/simple/{PROJECT}/")
    assert not [r for r in caplog.records if r.name == "wheelyard.access"]


def test_bad_setting_is_one_line() -> None:
    from wheelyard.errors import InvalidInput

    assert Settings.from_env({}).metrics == "off"  # opt-in: nothing measured by default
    with pytest.raises(InvalidInput, match="WHEELYARD_METRICS must be one of"):
        Settings.from_env({"WHEELYARD_METRICS": "sometimes"})
