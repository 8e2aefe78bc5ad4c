"""``wheelyard build`` end to end, offline: fetch from the yard and upstream, build, repair
(a real C extension linking libyaml), verify in fresh venvs; pure projects built once."""

from __future__ import annotations

import zipfile
from pathlib import Path

from packaging import tags

from tests.build.test_repair import needs_toolchain
from tests.conftest import BIN, Yard, client_env, run
from tests.e2e.test_clients import twine
from wheelyard.build.interpreters import discover
from wheelyard.testing import make_c_sdist, make_sdist, make_wheel


@needs_toolchain
def test_build_fetches_builds_repairs_verifies(tmp_path: Path, yard: Yard, owner_name: str) -> None:
    interps = [i for i in discover() if i.version[:2] >= (3, 9)][-2:]
    platform = next(t.platform for t in tags.sys_tags() if t.platform.startswith("manylinux"))
    dists = tmp_path / "dists"
    dists.mkdir()
    pure = make_wheel(dists, "purepkg", "1.0")
    for i in interps:
        make_wheel(dists, "binpkg", "1.0", tag=f"{i.tag}-{i.tag}-{platform}")
    make_sdist(dists, "srcpkg", "1.0")
    make_c_sdist(dists, "yamlext", "1.0")
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\npurepkg==1.0\nbinpkg==1.0\nsrcpkg==1.0\nyamlext==1.0\n"
    )
    token = yard.user(owner_name)
    twine(yard, f"{owner_name}/label/main/", token, pure)

    house = tmp_path / "wheelhouse"
    command = [
        str(BIN / "wheelyard"),
        "build",
        str(tmp_path),
        "--wheelhouse",
        str(house),
        "--python",
        *[str(i.executable) for i in interps],
        "--url",
        yard.url,
        "--owner",
        owner_name,
        "--upload",
        "--label",
        "dev",
    ]
    result = run(command, env=client_env(WHEELYARD_TOKEN=token), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for i in interps:
        assert f"verify Python {i.minor}: ok" in result.stdout

    names = sorted(p.name for p in house.glob("*.whl"))
    assert "purepkg-1.0-py3-none-any.whl" in names  # from the yard
    assert "srcpkg-1.0-py3-none-any.whl" in names
    repaired = [n for n in names if n.startswith("yamlext-")]
    assert len(repaired) == len(interps) and all("manylinux" in n for n in repaired)
    for name in repaired:
        libs = [n for n in zipfile.ZipFile(house / name).namelist() if ".libs/libyaml" in n]
        assert libs, name
    assert "libyaml" in result.stdout  # the summary shows what was grafted
    # A pure project is built once, not once per interpreter.
    assert len(list((house / "logs").glob("srcpkg-*.log"))) == 1
    # The token never reaches a log.
    assert all(token not in p.read_text(errors="replace") for p in (house / "logs").iterdir())
    # Published to the label: pip installs the whole set from it, nothing else.
    pins = tmp_path / "pins.txt"
    pins.write_text("purepkg==1.0\nbinpkg==1.0\nsrcpkg==1.0\nyamlext==1.0\n")
    assert "label dev of" in result.stdout and "conflict" not in result.stdout
    run(
        [
            str(interps[-1].executable),
            "-m",
            "pip",
            "install",
            "--target",
            str(tmp_path / "t"),
            "--index-url",
            f"{yard.url}/{owner_name}/label/dev/simple",
            "-r",
            str(pins),
        ]
    )
    assert (tmp_path / "t" / "yamlext.libs").is_dir()

    # A rerun with nothing changed builds nothing and uploads nothing.
    again = run(command, env=client_env(WHEELYARD_TOKEN=token))
    assert " built " not in again.stdout and "uploaded" not in again.stdout, again.stdout
    assert "labelled" in again.stdout


def test_failed_build_is_reported_with_hint(tmp_path: Path) -> None:
    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist(dists, "okpkg", "1.0")
    make_sdist(
        dists,
        "brokenc",
        "1.0",
        fail_with="brokenc.c:3:10: fatal error: ffi.h: No such file or directory",
    )
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\nokpkg==1.0\nbrokenc==1.0\n"
    )
    interp = [i for i in discover() if i.version[:2] >= (3, 9)][-1]
    result = run(
        [
            str(BIN / "wheelyard"),
            "build",
            str(tmp_path),
            "--wheelhouse",
            str(tmp_path / "wh"),
            "--python",
            str(interp.executable),
        ],
        check=False,
    )
    assert result.returncode == 1
    assert "brokenc 1.0 failed" in result.stdout and "ffi.h" in result.stdout
    assert "hint: missing C header ffi.h" in result.stdout
    assert (tmp_path / "wh" / "okpkg-1.0-py3-none-any.whl").is_file()
