"""build-setup.sh runs with real bash: its exports are handed on, the token is not, and a
failure carries the log's tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builder import host
from wheelyard.builder.hook import SetupFailed, run_setup
from wheelyard.builder.runners.host import HostRunner


def test_exports_are_handed_on_and_the_token_is_not(tmp_path: Path) -> None:
    (tmp_path / "build-setup.sh").write_text(
        'echo "token seen: ${WHEELYARD_TOKEN:-none}"\n'
        "export CFLAGS='-O2 -g0'\nexport PKG_CONFIG_PATH=/opt/x/lib/pkgconfig\n"
        "UNEXPORTED=1\ncd /\n"
    )
    env = HostRunner({"PATH": "/usr/bin:/bin", "WHEELYARD_TOKEN": "wy_secret", "KEEP": "1"})
    log = tmp_path / "logs" / "setup.log"
    exported = run_setup(env, tmp_path, log)
    assert exported == {"CFLAGS": "-O2 -g0", "PKG_CONFIG_PATH": "/opt/x/lib/pkgconfig"}
    assert "token seen: none" in log.read_text() and "wy_secret" not in log.read_text()


def test_no_script_is_nothing_to_do(tmp_path: Path) -> None:
    assert run_setup(host(), tmp_path, tmp_path / "setup.log") == {}


def test_failure_stops_with_the_log_tail(tmp_path: Path) -> None:
    (tmp_path / "build-setup.sh").write_text("echo installing libfoo-dev\nfalse\necho never\n")
    with pytest.raises(SetupFailed) as caught:
        run_setup(host(), tmp_path, tmp_path / "setup.log")
    assert caught.value.status == 1
    assert "installing libfoo-dev" in "\n".join(caught.value.tail)
    assert "never" not in (tmp_path / "setup.log").read_text()
