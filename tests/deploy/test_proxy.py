"""``deploy/proxy.conf`` as shipped, run by a real nginx in front of a real ``wheelyard serve``
configured as compose.yaml configures the replicas (``FORWARDED_ALLOW_IPS='*'``): only the
upstream addresses (and the listening address) are changed. A client cannot choose its own
address with ``X-Forwarded-For``: the JSON access log and the failed-authentication throttle
both see the address nginx saw. And the file's upload limits leave room for what the yard
itself accepts."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.helpers import Yard, free_port, running_nginx, start_yard, stop_yard
from wheelyard.config import Settings, parse_size
from wheelyard.web.multipart import FormLimits

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SPOOFED = "6.6.6.6"


def adapted(conf: str, upstream: str, listen: str) -> str:
    """``conf`` with every upstream server pointed at ``upstream`` and ``listen 80`` at
    ``listen``; nothing else changes (each substitution must find what the kit ships)."""
    conf, servers = re.subn(r"(?m)^(\s*server\s+)yard-\d+:8000\b", rf"\g<1>{upstream}", conf)
    assert servers == 2, "deploy/proxy.conf no longer names yard-1:8000 and yard-2:8000"
    conf, listens = re.subn(r"(?m)^(\s*listen\s+)80;", rf"\g<1>{listen};", conf)
    assert listens == 1, "deploy/proxy.conf no longer listens on port 80"
    return conf


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[Yard]:
    """A replica as compose.yaml runs it: forwarded headers trusted from anyone; JSON access
    log; a low per-client limit of failed authentications."""
    replica_env = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["x-yard"]["environment"]
    env = {
        "FORWARDED_ALLOW_IPS": str(replica_env["FORWARDED_ALLOW_IPS"]),
        "WHEELYARD_LOG_FORMAT": "json",
        "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "3",
        "WHEELYARD_AUTH_WINDOW": "120",
    }
    assert env["FORWARDED_ALLOW_IPS"] == "*"
    server = start_yard(tmp_path / "yard", env)
    yield server
    stop_yard(server)


@pytest.fixture
def proxy(replica: Yard, tmp_path: Path) -> Iterator[str]:
    """nginx with deploy/proxy.conf on 127.0.0.1, in front of ``replica``; yields its URL."""
    work = tmp_path / "nginx"
    work.mkdir()
    port = free_port()
    site = work / "proxy.conf"
    upstream = replica.url.removeprefix("http://")
    site.write_text(adapted((DEPLOY / "proxy.conf").read_text(), upstream, f"127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}"
    with running_nginx(work, f"    include {site};", url + "/-/health"):
        yield url


def _access_log(yard: Yard, path: str) -> list[dict[str, object]]:
    entries = []
    for line in yard.log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("path") == path:
                entries.append(entry)
    return entries


@pytest.mark.e2e
def test_a_client_cannot_choose_its_address(replica: Yard, proxy: str) -> None:
    """Bad tokens sent through the proxy, each claiming another address in X-Forwarded-For,
    all count for the one address nginx saw (127.0.0.1): the fourth client request is
    throttled, and the access log names 127.0.0.1, never an address the client sent."""
    claimed = [SPOOFED, "6.6.6.7", "6.6.6.8"]
    for n, address in enumerate(claimed):
        answer = httpx.get(
            f"{proxy}/api/user",
            headers={"Authorization": f"token wy_guess{n}", "X-Forwarded-For": address},
        )
        assert answer.status_code == 401, answer.text
    fourth = httpx.get(
        f"{proxy}/api/user",
        headers={"Authorization": "token wy_guess3", "X-Forwarded-For": "6.6.6.9"},
    )
    assert fourth.status_code == 429, fourth.text
    # The log line is written once the answer is sent: give the replica a moment.
    deadline = time.monotonic() + 10
    while len(_access_log(replica, "/api/user")) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = _access_log(replica, "/api/user")
    assert [entry["client"] for entry in logged] == ["127.0.0.1"] * 4, logged


def test_uploads_fit_through_the_proxy() -> None:
    """nginx lets through every body the yard itself accepts (a default-size upload with its
    form), and waits for an upload's answer longer than the yard may take to publish it."""
    conf = (DEPLOY / "proxy.conf").read_text()

    def setting(name: str) -> str:
        found = re.findall(rf"(?m)^\s*{name}\s+(\S+);", conf)
        assert len(found) == 1, f"{name} is not set once in deploy/proxy.conf"
        return str(found[0])

    yard_limit = FormLimits.of(Settings.from_env({})).max_body
    assert parse_size(setting("client_max_body_size")) > yard_limit  # nginx's k/m/g: binary
    assert setting("proxy_request_buffering") == "off"
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        value = setting(timeout)
        assert value.endswith("s") and int(value[:-1]) >= 300, (timeout, value)
