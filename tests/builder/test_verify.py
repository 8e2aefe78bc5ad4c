"""Verification in fresh virtual environments, from the wheelhouse only."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.builder import host
from tests.conftest import client_env
from wheelyard.builder.imports import import_names
from wheelyard.builder.interpreters import probe
from wheelyard.builder.runners.host import HostRunner
from wheelyard.builder.verify import verify
from wheelyard.testing import make_wheel


def test_verify_installs_and_imports(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    house = tmp_path / "wheelhouse"
    house.mkdir()
    good = make_wheel(house, "goodpkg", "1.0")
    broken = make_wheel(
        house, "brokenpkg", "1.0", module_body="raise ImportError('needs libfoo')\n"
    )
    env = HostRunner(client_env())
    work = tmp_path / "work"

    ok = verify(env, me, ["goodpkg==1.0"], house, [good], work)
    assert ok.ok and ok.failed == ()

    bad = verify(env, me, ["goodpkg==1.0", "brokenpkg==1.0"], house, [good, broken], work)
    assert not bad.ok and bad.failed == ("brokenpkg",)
    assert any("needs libfoo" in line for line in bad.tail)

    missing = verify(env, me, ["goodpkg==1.0", "not-in-wheelhouse==1.0"], house, [good], work)
    assert not missing.ok and missing.failed == ("install",)
    assert any("not-in-wheelhouse" in line for line in missing.tail)


def test_test_command_replaces_the_import(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    house = tmp_path / "wheelhouse"
    house.mkdir()
    odd = make_wheel(house, "oddpkg", "1.0", module_body="raise ImportError('not on import')\n")
    env = HostRunner(client_env())
    # The import would fail; the project's own test command is what counts.
    tests = {"OddPkg": "python -c 'import sys; print(sys.prefix)' && test -n \"$VIRTUAL_ENV\""}
    passed = verify(env, me, ["oddpkg==1.0"], house, [odd], tmp_path / "w", tests)
    assert passed.ok, passed.log.read_text()
    failing = {"oddpkg": "python -c 'import oddpkg'"}
    failed = verify(env, me, ["oddpkg==1.0"], house, [odd], tmp_path / "w", failing)
    assert failed.failed == ("oddpkg (test: python -c 'import oddpkg')",)


def test_import_names(tmp_path: Path) -> None:
    assert import_names(make_wheel(tmp_path, "Some-Thing", "1.0")) == ["some_thing"]


def test_one_command_imports_all_and_names_each_failure(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    house = tmp_path / "wheelhouse"
    house.mkdir()
    good = make_wheel(house, "goodpkg", "1.0")
    broken = make_wheel(house, "brokenpkg", "1.0", module_body="raise ImportError('libfoo')\n")
    # A crash of the interpreter itself: it must not decide the others' verdicts.
    crash = make_wheel(house, "crashpkg", "1.0", module_body="import os\nos.abort()\n")
    pins = ["goodpkg==1.0", "brokenpkg==1.0", "crashpkg==1.0"]
    bad = verify(HostRunner(client_env()), me, pins, house, [good, broken, crash], tmp_path / "w")
    assert not bad.ok and bad.failed == ("brokenpkg", "crashpkg")
    log = bad.log.read_text()
    assert log.count("failed-imports.txt brokenpkg crashpkg goodpkg\n") == 1  # one command
    assert log.count("\n$ ") == 2  # (after the venv's creation and the install)
    assert "wheelyard: import crashpkg failed" in log and "import goodpkg failed" not in log
