"""auditwheel repair on a real C extension that links libyaml (outside every manylinux policy)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builder import host
from tests.conftest import client_env
from wheelyard.builder.compile import BuildTask, build_all
from wheelyard.builder.interpreters import discover, probe
from wheelyard.builder.repair import PURE, RepairFailed, repair
from wheelyard.builder.runners.host import HostRunner
from wheelyard.testing import make_c_sdist, make_c_sdist_without_libc, make_wheel

needs_toolchain = pytest.mark.skipif(
    shutil.which("cc") is None or not Path("/usr/include/yaml.h").exists(),
    reason="needs a C compiler and libyaml-dev (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def linux_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cext")
    me = probe(Path(sys.executable), host())
    assert me is not None
    sdist = make_c_sdist(tmp, "yamlext", "1.0")
    env = HostRunner(client_env())
    [result] = build_all(env, [BuildTask("yamlext", "1.0", me, str(sdist))], tmp / "wh", 1)
    assert result.wheel is not None, result.tail
    assert result.wheel.name.endswith("linux_x86_64.whl") or "linux_" in result.wheel.name
    return result.wheel


@needs_toolchain
def test_repair_grafts_external_library(linux_wheel: Path, tmp_path: Path) -> None:
    repaired = repair(linux_wheel, tmp_path / "out", host())
    assert repaired.policy.startswith("manylinux_") and "linux_x86_64" not in repaired.wheel.name
    assert any(lib.startswith("libyaml") for lib in repaired.grafted)
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(repaired.wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "manylinux" in shown
    # Installed, the extension loads libyaml from the grafted copy, not the system's.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--target",
            str(target),
            str(repaired.wheel),
        ],
        check=True,
        env=client_env(),
    )
    [ext] = list((target / "yamlext").glob("_ext*.so"))
    ldd = subprocess.run(["ldd", str(ext)], capture_output=True, text=True, check=True).stdout
    assert "yamlext.libs/libyaml" in ldd
    out = subprocess.run(
        [sys.executable, "-c", "import yamlext; print(yamlext.version())"],
        capture_output=True,
        text=True,
        check=True,
        env={**client_env(), "PYTHONPATH": str(target)},
    ).stdout
    assert out.strip().startswith("0.")


@needs_toolchain
def test_unsatisfiable_policy_fails_clearly(linux_wheel: Path, tmp_path: Path) -> None:
    with pytest.raises(RepairFailed, match=r"could not repair yamlext-1\.0.*manylinux_2_5_x86_64"):
        repair(linux_wheel, tmp_path / "out", host(), plat="manylinux_2_5_x86_64")


@needs_toolchain
def test_extension_without_libc_is_repaired(tmp_path: Path) -> None:
    """auditwheel cannot tell the libc of an extension that links none (before 3.11 its file
    name does not tell either); the interpreter's newest manylinux tag lets it still choose
    the most compatible policy."""
    older = [i for i in discover(host()) if (3, 9) <= i.version[:2] < (3, 11) and i.pip]
    if not older:
        pytest.skip("needs a CPython 3.9 or 3.10")
    me = older[-1]
    sdist = make_c_sdist_without_libc(tmp_path, "nolibc", "1.0")
    env = HostRunner(client_env())
    [built] = build_all(env, [BuildTask("nolibc", "1.0", me, str(sdist))], tmp_path / "wh", 1)
    assert built.wheel is not None, built.tail
    with pytest.raises(RepairFailed, match="libc"):
        repair(built.wheel, tmp_path / "plain", host())
    repaired = repair(built.wheel, tmp_path / "out", host(), platforms=me.platforms)
    assert repaired.policy == "manylinux_2_5_x86_64", repaired.wheel.name
    assert "linux_x86_64.whl" not in repaired.wheel.name.replace("manylinux", "")


def test_pure_wheels_pass_through(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "pure", "1.0")
    repaired = repair(wheel, tmp_path / "out", host())
    assert repaired.policy == PURE and repaired.grafted == ()
    assert repaired.wheel.read_bytes() == wheel.read_bytes()
