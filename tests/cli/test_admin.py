"""The admin CLI as a user runs it: one clear line and a non-zero exit on errors, no secrets."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers import Yard, start_yard, stop_yard, twine
from wheelyard.testing import make_wheel

# Both tests run the wheelyard command as a user does (a subprocess); the second serves too.
pytestmark = pytest.mark.e2e


def test_admin_commands_offline(tmp_path: Path) -> None:
    # The CLI works without a running server (and while one runs: see the e2e tests).
    yard = Yard("", tmp_path / "data", None, tmp_path / "log")  # type: ignore[arg-type]
    # The first command makes the yard, so it says so (--create); the others find it.
    made = yard.cli(
        "user", "create", "carol", "--password-stdin", "--create", input="a fine password\n"
    )
    assert made.stderr == f"yard: {tmp_path / 'data'} (new)\n"
    secret = yard.cli(
        "token",
        "create",
        "--user",
        "carol",
        "--name",
        "ci",
        "--scopes",
        "api:write pypi:upload",
        "--max-age",
        "600",
    ).stdout
    assert secret.strip().startswith("wy_") and secret.count("\n") == 1
    listing = yard.cli("token", "list", "--user", "carol").stdout
    assert "ci" in listing and "api:write pypi:upload" in listing
    assert secret.strip() not in listing
    db = (tmp_path / "data" / "yard.db").read_bytes()
    assert secret.strip().encode() not in db

    for args, message in [
        (("user", "create", "carol", "--password-stdin"), "already exists"),
        (
            ("token", "create", "--user", "carol", "--name", "x", "--scopes", "bogus"),
            "unknown scope(s): bogus",
        ),
        (
            ("token", "create", "--user", "nobody", "--name", "x", "--scopes", "api"),
            "no owner named 'nobody'",
        ),
        (("token", "revoke", "--user", "carol", "nope"), "no token named 'nope'"),
        (("label", "copy", "carol", "missing", "main"), "has no label 'missing'"),
        (("user", "create", "api", "--password-stdin"), "reserved"),
    ]:
        result = yard.cli(*args, input="a fine password\n", check=False)
        assert result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1

    no_tty = yard.cli("user", "create", "dave", check=False, input="")
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr
    yard.cli("token", "revoke", "--user", "carol", "ci")
    assert "ci" not in yard.cli("token", "list", "--user", "carol").stdout.split()


def test_check_finds_problems(tmp_path: Path) -> None:
    yard = start_yard(tmp_path / "data")
    try:
        token = yard.user("erin")
        twine(
            yard,
            "erin/",
            token,
            make_wheel(tmp_path, "chk", "1.0"),
            make_wheel(tmp_path, "chk", "2.0"),
        )
        assert yard.cli("check").returncode == 0
        blobs = sorted(
            p
            for p in (tmp_path / "data" / "files").rglob("*")
            if p.is_file() and ".staging" not in p.parts and p.suffix != ".metadata"
        )
        blobs[0].write_bytes(b"tampered")
        blobs[1].unlink()
        stray = tmp_path / "data" / "files" / "stray"
        stray.write_bytes(b"x")
        os.utime(stray, (time.time() - 7200, time.time() - 7200))  # past the grace period
        result = yard.cli("check", check=False)
        assert result.returncode == 1
        assert "size:" in result.stdout and "missing:" in result.stdout
        assert "orphan: stray" in result.stdout
    finally:
        stop_yard(yard)
