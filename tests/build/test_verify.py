"""Verification in fresh virtual environments, from the wheelhouse only."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import client_env
from wheelyard.build.envs import HostEnvironment
from wheelyard.build.interpreters import probe
from wheelyard.build.verify import top_level_modules, verify
from wheelyard.testing import make_wheel


def test_verify_installs_and_imports(tmp_path: Path) -> None:
    me = probe(Path(sys.executable))
    assert me is not None
    house = tmp_path / "wheelhouse"
    house.mkdir()
    good = make_wheel(house, "goodpkg", "1.0")
    broken = make_wheel(
        house, "brokenpkg", "1.0", module_body="raise ImportError('needs libfoo')\n"
    )
    reqs = tmp_path / "requirements.txt"
    env = HostEnvironment(client_env())

    reqs.write_text("goodpkg==1.0\n")
    ok = verify(env, me, reqs, house, [good], tmp_path / "work")
    assert ok.ok and ok.failed == ()

    reqs.write_text("goodpkg==1.0\nbrokenpkg==1.0\n")
    bad = verify(env, me, reqs, house, [good, broken], tmp_path / "work")
    assert not bad.ok and bad.failed == ("brokenpkg",)
    assert any("needs libfoo" in line for line in bad.tail)

    reqs.write_text("goodpkg==1.0\nnot-in-wheelhouse==1.0\n")
    missing = verify(env, me, reqs, house, [good], tmp_path / "work")
    assert not missing.ok and missing.failed == ("install",)
    assert any("not-in-wheelhouse" in line for line in missing.tail)


def test_top_level_modules(tmp_path: Path) -> None:
    assert top_level_modules(make_wheel(tmp_path, "Some-Thing", "1.0")) == ["some_thing"]
