"""``wheelyard serve --workers 2 --log-format json`` as a real server: pip installs through it,
then every scrape of /-/metrics — whichever worker answers — shows the same totals summed over
both workers (prometheus_client's multiprocess mode), and the JSON access log holds one object
per request with the upload token kept out."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import BIN, Yard, free_port, pip_install, upload
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

SIMPLE = "/{owner}/simple/{project}/"
FILES = "/{owner}/files/{sha256}/{filename}"


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Yard]:
    data, log, port = tmp_path / "data", tmp_path / "serve.log", free_port()
    env = {"WHEELYARD_DATA_DIR": str(data), "WHEELYARD_METRICS": "public"}
    yard = Yard(f"http://127.0.0.1:{port}", data, None, log, env)  # type: ignore[arg-type]
    cmd = [str(BIN / "wheelyard"), "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as fh:
        yard.process = subprocess.Popen(
            [*cmd, "--log-format", "json"], env=yard.env(), stdout=fh, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert yard.process.poll() is None, log.read_text()
            try:
                if httpx.get(yard.url + "/-/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield yard
    finally:
        yard.process.terminate()
        try:
            yard.process.wait(15)
        except subprocess.TimeoutExpired:
            yard.process.kill()
            yard.process.wait()


def totals(yard: Yard) -> dict[tuple[str, str, str], float]:
    page = httpx.get(yard.url + "/-/metrics")
    assert page.status_code == 200
    return {
        (s.labels.get("method", ""), s.labels.get("route", ""), s.labels.get("status", "")): s.value
        for family in text_string_to_metric_families(page.text)
        for s in family.samples
        if s.name == "wheelyard_http_requests_total"
    }


def test_metrics_summed_over_workers(workers: Yard, tmp_path: Path) -> None:
    token = workers.user("ops")
    wheel = make_wheel(tmp_path, "scraped", "1.0")
    upload(workers, "ops/", token, wheel)
    for n in range(3):
        pip_install(f"{workers.url}/ops/simple", tmp_path / f"t{n}", "scraped")

    scrapes = [totals(workers) for _ in range(6)]  # both workers answer some of these
    page = scrapes[0][("GET", SIMPLE, "200")]
    assert page >= 3
    fetched = scrapes[0][("GET", FILES, "200")]
    assert fetched == 6  # each install: the PEP 658 .metadata, then the wheel
    assert scrapes[0][("POST", "/{owner}/", "200")] == 1
    for later in scrapes[1:]:  # the same totals whichever worker reads the files
        assert later[("GET", SIMPLE, "200")] == page
        assert later[("GET", FILES, "200")] == fetched
    metrics_route = [k for k in scrapes[-1] if k[1] == "/-/metrics"]
    assert sum(scrapes[-1][k] for k in metrics_route) == 5  # every earlier scrape, summed

    lines = [json.loads(x) for x in workers.log.read_text().splitlines() if x.startswith("{")]
    files = [e for e in lines if e["route"] == FILES and e["path"].endswith(".whl")]
    assert len(files) == 3 and all(e["bytes"] == wheel.stat().st_size for e in files)
    uploads = [e for e in lines if e["method"] == "POST"]
    assert len(uploads) == 1 and uploads[0]["user"] == "ops" and uploads[0]["status"] == 200
    assert token not in workers.log.read_text()
