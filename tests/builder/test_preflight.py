"""Checks before any work: one line naming the cause and the fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.builder import host
from tests.conftest import BIN, Yard, client_env, run
from wheelyard.builder import preflight
from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.settings import BuildSettings
from wheelyard.client import YardUnreachable
from wheelyard.errors import InvalidInput


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_url_without_a_scheme_and_a_yard_not_running() -> None:
    settings = BuildSettings(url="localhost:8000", owner="me")
    with pytest.raises(YardUnreachable, match=r"must start with http:// .*did you mean"):
        preflight.yard(settings, lambda: None, upload=False)
    down = BuildSettings(url=f"http://127.0.0.1:{_closed_port()}", owner="me")
    with pytest.raises(YardUnreachable, match=r"is the server running\?"):
        preflight.yard(down, lambda: "wy_token", upload=True)


def test_uploading_needs_what_it_needs_before_the_work() -> None:
    with pytest.raises(InvalidInput, match="--upload needs --url and --owner"):
        preflight.yard(BuildSettings(), lambda: None, upload=True)
    with pytest.raises(InvalidInput, match="--url needs --owner"):
        preflight.yard(BuildSettings(url="http://127.0.0.1:1"), lambda: None, upload=False)
    settings = BuildSettings(url="http://127.0.0.1:1", owner="me")
    with pytest.raises(InvalidInput, match="--upload needs a token"):
        preflight.yard(settings, lambda: None, upload=True)


def test_the_label_must_be_nameable(tmp_path: Path) -> None:
    assert preflight.label(BuildSettings(label="dev"), tmp_path) == "dev"
    with pytest.raises(InvalidInput, match="invalid label name"):
        preflight.label(BuildSettings(label="no/slashes"), tmp_path)
    with pytest.raises(InvalidInput, match="pass --label"):
        preflight.label(BuildSettings(), tmp_path)  # not a git checkout


def test_old_and_pipless_interpreters_are_named() -> None:
    old = Interpreter((3, 5, 10), Path("/opt/python/cp35/bin/python"), pip=(20, 3))
    with pytest.raises(InvalidInput, match=r"Python 3.5 .* is not supported: the oldest .* 3.6"):
        preflight.interpreters([old], "auto", {}, host())
    pipless = Interpreter((3, 12, 1), Path("/x/python3.12"))
    with pytest.raises(InvalidInput, match=r"Python 3.12 .* has no pip: install it"):
        preflight.interpreters([pipless], "auto", {}, host())
    ok = Interpreter((3, 7, 16), Path("/x/python3.7"), pip=(22, 0))
    preflight.interpreters([ok], "auto", {}, host())  # uv resolves for it (a dependency)


@pytest.mark.e2e
def test_the_command_fails_first_in_one_line(tmp_path: Path, yard: Yard, owner_name: str) -> None:
    (tmp_path / "requirements.txt").write_text("purepkg==1.0\n")
    good = yard.user(owner_name)
    command = [str(BIN / "wheelyard"), "build", str(tmp_path), "--owner", owner_name, "--upload"]
    cases = [
        (["--url", yard.url, "--label", "dev"], "wy_not-a-token", "refused the token (401)"),
        (["--url", f"http://127.0.0.1:{_closed_port()}", "--label", "dev"], "wy_x",
         "is the server running?"),
        (["--url", "127.0.0.1:1", "--label", "dev"], "wy_x", "must start with http://"),
        (["--url", yard.url], good, "pass --label"),  # not a git checkout
        (["--url", yard.url, "--label", "dev"], "", "--upload needs a token"),
    ]  # fmt: skip
    for flags, token, expected in cases:
        env = client_env(WHEELYARD_TOKEN=token) if token else client_env()
        result = run([*command, *flags], env=env, check=False)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "wheelhouse").exists()


def test_too_old_versions_are_named_as_such() -> None:
    for value in ("2.7", "3.5", "cp27", "cp35"):
        with pytest.raises(InvalidInput, match=r"is not supported: the oldest .* is 3.6"):
            preflight.selectors([value])
    preflight.selectors(["3.6", "cp313", "3.10-3.13"])  # supported: no complaint
    pyenv_27 = Path.home() / ".pyenv" / "versions" / "2.7.18" / "bin" / "python2.7"
    if pyenv_27.is_file():  # a real Python 2.7, where this machine has one
        with pytest.raises(InvalidInput, match=r"Python 2.7 \(.*\) is not supported"):
            preflight.old_paths([str(pyenv_27)], host())
