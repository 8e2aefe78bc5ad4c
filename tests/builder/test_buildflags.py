"""Builder flags: stripped, reproducible wheels; and builds reused by their inputs."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tests.builder.test_repair import needs_toolchain
from tests.builder.test_run import _build, _newest
from tests.conftest import run
from wheelyard.builder.buildflags import environment, sdist_epoch
from wheelyard.digest import file_sha256
from wheelyard.testing import make_c_sdist


def test_flags_come_after_the_users_and_keep_their_epoch(tmp_path: Path) -> None:
    sdist = make_c_sdist(tmp_path, "ext", "1.0")
    with tarfile.open(sdist) as tf:
        newest = max(int(m.mtime) for m in tf if m.isfile())
    assert sdist_epoch(sdist) == max(newest, 315532800)
    env = environment({"CFLAGS": "-O1 -g"}, True, sdist)
    assert env["CFLAGS"] == "-O1 -g -g0" and env["CXXFLAGS"] == "-g0"
    assert env["SOURCE_DATE_EPOCH"] == str(sdist_epoch(sdist))
    kept = environment({"SOURCE_DATE_EPOCH": "1700000000"}, False, sdist)
    assert kept == {"SOURCE_DATE_EPOCH": "1700000000"}
    assert sdist_epoch(tmp_path / "missing.tar.gz") is None


@pytest.mark.e2e
@needs_toolchain
def test_same_sdist_same_bytes_reused_and_stripped(tmp_path: Path) -> None:
    dists = tmp_path / "dists"
    dists.mkdir()
    make_c_sdist(dists, "yamlext", "1.0")
    (tmp_path / "requirements.txt").write_text("--no-index\n--find-links ./dists\nyamlext==1.0\n")
    python = _newest()

    def wheel(house: Path) -> Path:
        (found,) = house.glob("yamlext-*.whl")
        return found

    run(_build(tmp_path, tmp_path / "one", [python]))
    run(_build(tmp_path, tmp_path / "two", [python]))
    # Two builds in two wheelhouses (other build paths): the same bytes.
    assert file_sha256(wheel(tmp_path / "one")) == file_sha256(wheel(tmp_path / "two"))

    again = run(_build(tmp_path, tmp_path / "one", [python]))
    assert "reused: inputs unchanged" in again.stdout
    assert not list((tmp_path / "one" / "logs").glob("yamlext-1.0-*.log.1"))
    # A test command is not an input of the build: verified again, not built again.
    (tmp_path / "wheelyard.toml").write_text(
        "[build.packages.yamlext]\ntest = \"python -c 'import yamlext'\"\n"
    )
    tested = run(_build(tmp_path, tmp_path / "one", [python]))
    assert "reused: inputs unchanged" in tested.stdout
    assert "passed before" not in tested.stdout, tested.stdout

    run(_build(tmp_path, tmp_path / "debug", [python], "--no-strip"))
    assert wheel(tmp_path / "debug").stat().st_size > wheel(tmp_path / "one").stat().st_size
