"""The JSON access log in-process: one object per request, naming the user behind a token and
behind a browser session, and never the token."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import pytest

from wheelyard.cli.main import main as wheelyard
from wheelyard.config import Settings
from wheelyard.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette 1.x asks for httpx2
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"


def cli(data: Path, *args: str, stdin: str = "") -> str:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setattr("sys.stdin", io.StringIO(stdin))
        assert wheelyard(["--data-dir", str(data), *args]) == 0
    return out.getvalue()


def test_json_log_names_token_and_session_users(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    env = {"WHEELYARD_DATA_DIR": str(data), "WHEELYARD_LOG_FORMAT": "json"}
    app = create_app(Settings.from_env(env))
    with TestClient(app) as client:
        cli(data, "user", "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
        token = cli(data, "token", "create", "--user", "alice", "--name", "t", "--scopes", "all")
        token = token.strip()
        caplog.set_level(logging.INFO, logger="wheelyard.access")

        client.get("/alice/simple/", headers={"Authorization": f"token {token}"})
        form = client.get("/-/login").text.split('name="csrf" value="')[1].split('"')[0]
        done = client.post(
            "/-/login",
            data={"csrf": form, "name": "alice", "password": PASSWORD},
            follow_redirects=False,
        )
        assert done.status_code == 303
        client.get("/alice/")  # the owner page, as the logged-in visitor
        anonymous = TestClient(app)
        anonymous.get("/alice/")

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "wheelyard.access"]
    by_request = [(x["method"], x["path"], x["user"]) for x in lines]
    assert ("GET", "/alice/simple/", "alice") in by_request
    assert by_request.count(("GET", "/alice/", "alice")) == 1
    assert by_request.count(("GET", "/alice/", None)) == 1
    assert all(token not in r.getMessage() for r in caplog.records)
