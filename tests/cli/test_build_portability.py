"""``wheelyard build`` on the host states each platform wheel's glibc floor and checks it
against ``target``: a warning with a hint to use --container, an error with --strict (which
also stops the upload); a host build says so before it builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging import tags

from tests.builder import host
from tests.conftest import BIN, Yard, client_env, run
from tests.helpers import files_in
from wheelyard.builder.interpreters import discover
from wheelyard.builder.portability import describe, host_glibc, platform_floor
from wheelyard.testing import make_sdist, make_wheel

# The runs below are the wheelyard command as a user runs it, driving the real pip.
pytestmark = pytest.mark.e2e


def _newest_manylinux() -> str | None:
    """The newest manylinux tag this machine's pip accepts, if it is above manylinux_2_28."""
    for t in tags.sys_tags():
        floor = platform_floor(t.platform)
        if floor is not None and floor.libc == "glibc":
            return t.platform if floor.version > (2, 28) else None
    return None


@pytest.mark.skipif(_newest_manylinux() is None, reason="needs a host glibc newer than 2.28")
@pytest.mark.parametrize(
    "yard", ["sqlite"], indirect=True
)  # the yard's database is beside the point
def test_a_wheel_above_the_target_warns_and_fails_with_strict(
    tmp_path: Path, yard: Yard, owner_name: str
) -> None:
    platform = _newest_manylinux()
    assert platform is not None
    dists = tmp_path / "dists"
    dists.mkdir()
    # An upstream wheel only this machine's (new) glibc accepts, and a project to build here.
    wheel = make_wheel(dists, "newglibc", "1.0", tag=f"py3-none-{platform}")
    make_sdist(dists, "purepkg", "1.0")
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\nnewglibc==1.0\npurepkg==1.0\n"
    )
    interp = [i for i in discover(host()) if i.version[:2] >= (3, 9)][-1]
    report = tmp_path / "report.json"
    command = [
        str(BIN / "wheelyard"),
        "build",
        str(tmp_path),
        "--wheelhouse",
        str(tmp_path / "wh"),
        "--python",
        str(interp.executable),
        "--report",
        str(report),
    ]
    result = run(command, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    floor = describe(wheel.name)
    assert floor == f"glibc {host_glibc()}"
    assert f"note: building on the host (glibc {host_glibc()})" in result.stderr
    assert "1 platform wheel, floor " + floor in result.stdout
    assert f"warning: {wheel.name}: {floor}" in result.stdout
    assert "hint: use --container" in result.stdout
    data = json.loads(report.read_text())
    assert data["portability"]["above_target"] == [wheel.name]
    assert data["portability"]["target"] == "manylinux_2_28"
    assert {w["project"]: w["glibc"] for w in data["wheels"]} == {
        "newglibc": floor,
        "purepkg": "pure",
    }

    strict = run([*command, "--strict", "--upload-anyway"], check=False)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert f"error: {wheel.name}: {floor}" in strict.stdout
    assert json.loads(report.read_text())["ok"] is False

    # --strict stops the upload; within the target, the same set is published.
    token = yard.user(owner_name)
    publish = ["--upload", "--url", yard.url, "--owner", owner_name, "--label", "dev"]
    env = client_env(WHEELYARD_TOKEN=token)
    refused = run([*command, "--strict", *publish], env=env, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not uploading" in refused.stdout
    assert files_in(yard, owner_name, "dev", "newglibc") == []

    within = run([*command, "--strict", "--target", platform, *publish], env=env)
    assert "all within it" in within.stdout and "warning:" not in within.stdout
    assert files_in(yard, owner_name, "dev", "newglibc") == [wheel.name]
