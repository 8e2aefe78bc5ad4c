"""Building sdists offline: successes, a failure with its hint, and no token in any build."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from tests.builder import host
from tests.conftest import client_env
from wheelyard.builder import uv
from wheelyard.builder.buildenvs import SharedEnvs
from wheelyard.builder.compile import BuildTask, build_all, build_one
from wheelyard.builder.hints import hint
from wheelyard.builder.interpreters import probe
from wheelyard.builder.runners.host import HostRunner
from wheelyard.testing import make_sdist


def test_builds_continue_past_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    good = make_sdist(tmp_path, "goodpkg", "1.0")
    other = make_sdist(tmp_path, "otherpkg", "2.0")
    bad = make_sdist(
        tmp_path,
        "badpkg",
        "1.0",
        fail_with="src/ext.c:1:10: fatal error: yaml.h: No such file or directory",
    )
    # The token is in the caller's environment; no build may see it.
    env = HostRunner({**client_env(), "WHEELYARD_TOKEN": "wy_secret_value"})
    tasks = [
        BuildTask(p, v, me, str(path))
        for p, v, path in (
            ("goodpkg", "1.0", good),
            ("badpkg", "1.0", bad),
            ("otherpkg", "2.0", other),
        )
    ]
    results = build_all(env, tasks, tmp_path / "wheelhouse", jobs=2)

    assert [r.ok for r in results] == [True, False, True]
    wheel = results[0].wheel
    assert wheel is not None and wheel.name == "goodpkg-1.0-py3-none-any.whl"
    assert "goodpkg/__init__.py" in zipfile.ZipFile(wheel).namelist()
    # Each build's CPU time (its pip and backend), measured where it ran and read from its log.
    assert all(0 < r.cpu < 120 for r in results)
    assert "# wheelyard: build cpu seconds " in results[0].log.read_text()
    failed = results[1]
    assert failed.log.is_file() and failed.log.name == f"badpkg-1.0-{me.tag}.log"
    assert any("yaml.h" in line for line in failed.tail)
    assert failed.hint is not None and "yaml.h" in failed.hint and "-dev" in failed.hint
    log = failed.log.read_text()
    assert "WHEELYARD_TOKEN in build env: False" in log and "wy_secret_value" not in log


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("x.c:2: fatal error: ffi.h: No such file or directory", "missing C header ffi.h"),
        ("/usr/bin/ld: cannot find -lyaml: No such file", "missing library libyaml"),
        (
            "ModuleNotFoundError: No module named 'numpy.distutils'",
            "missing build dependency numpy",
        ),
        (
            "Package 'libxml-2.0', required by 'virtual:world', not found in the pkg-config "
            "search path",
            "pkg-config cannot find libxml-2.0",
        ),
        ("error: something else", None),
    ],
)
def test_hints(log: str, expected: str | None) -> None:
    found = hint(log)
    assert (found is None) if expected is None else (found is not None and expected in found)


def test_uv_builds_in_the_prepared_environment(tmp_path: Path) -> None:
    """When uv makes the build environments, uv is the frontend too (no pip start-up per
    build); the backend still runs in the prepared environment, with the build's variables."""
    me = probe(Path(sys.executable), host())
    command = uv.find(host())
    assert me is not None and command is not None
    sdist = make_sdist(tmp_path, "viauv", "1.0")
    house = tmp_path / "wheelhouse"
    shared = SharedEnvs(host(), house / ".envs", uv=command)
    task = BuildTask("viauv", "1.0", me, str(sdist), {"FIXTURE_BY": "uv"})
    result = build_one(host(), task, house, shared)
    log = result.log.read_text()
    assert result.ok, log
    assert f"{command[0]} build --quiet --wheel --no-build-isolation" in log
    assert result.wheel is not None
    built = zipfile.ZipFile(result.wheel).read("viauv/__init__.py")
    assert b"'FIXTURE_BY': 'uv'" in built
    assert 0 < result.cpu < 120  # still measured where it ran
