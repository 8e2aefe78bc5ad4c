"""``wheelyard build`` end to end, offline: fetch from the yard and upstream, build, repair
(a real C extension linking libyaml), verify in fresh venvs; pure projects built once."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from packaging import tags

from tests.builder import host
from tests.builder.test_repair import needs_toolchain
from tests.conftest import BIN, Yard, client_env, run
from tests.e2e.test_clients import twine
from wheelyard.builder.interpreters import discover
from wheelyard.testing import make_c_sdist, make_sdist, make_wheel

# Every test runs the wheelyard command as a user does (a subprocess), some against a yard.
pytestmark = pytest.mark.e2e


@needs_toolchain
def test_build_fetches_builds_repairs_verifies(tmp_path: Path, yard: Yard, owner_name: str) -> None:
    interps = [i for i in discover(host()) if i.version[:2] >= (3, 9)][-2:]
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
    command = _build(
        tmp_path,
        house,
        [i.executable for i in interps],
        "--url",
        yard.url,
        "--owner",
        owner_name,
        "--upload",
        "--label",
        "dev",
    )
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

    # A rerun with nothing changed builds nothing, uploads nothing, verifies nothing.
    report = tmp_path / "report.json"
    again = run([*command, "--report", str(report)], env=client_env(WHEELYARD_TOKEN=token))
    # Files already on the label cost no request: said as such, with the label's URL.
    assert "uploaded" not in again.stdout and "6 already on dev" in again.stdout, again.stdout
    assert f"published to {yard.url}/{owner_name}/label/dev/simple/" in again.stdout
    assert {r["source"] for r in json.loads(report.read_text())["wheels"]} == {"yard"}
    for i in interps:
        assert f"verify Python {i.minor}: ok (this exact set passed before)" in again.stdout

    # Changing one pin rebuilds that project only, once per interpreter.
    make_c_sdist(dists, "yamlext", "1.1")
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\npurepkg==1.0\nbinpkg==1.0\nsrcpkg==1.0\nyamlext==1.1\n"
    )
    bumped = run([*command, "--report", str(report)], env=client_env(WHEELYARD_TOKEN=token))
    data = json.loads(report.read_text())
    built = sorted(
        (r["project"], r["version"], r["python"]) for r in data["wheels"] if r["source"] == "built"
    )
    assert built == [("yamlext", "1.1", i.minor) for i in interps], bumped.stdout
    assert len(list((house / "logs").glob("yamlext-1.1-*.log"))) == len(interps)
    assert all(v["ok"] and not v["skipped"] for v in data["verified"])
    assert [p["action"] for p in data["published"]].count("uploaded") == len(interps)


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
    interp = [i for i in discover(host()) if i.version[:2] >= (3, 9)][-1]
    result = run(
        _build(tmp_path, tmp_path / "wh", [interp.executable]),
        check=False,
    )
    assert result.returncode == 1
    assert "brokenc 1.0 failed" in result.stdout and "ffi.h" in result.stdout
    assert "hint: missing C header ffi.h" in result.stdout
    assert (tmp_path / "wh" / "okpkg-1.0-py3-none-any.whl").is_file()


def _build(folder: Path, house: Path, pythons: list[Path], *extra: str) -> list[str]:
    """``wheelyard build FOLDER --wheelhouse HOUSE --python …`` and the ``extra`` flags."""
    command = [str(BIN / "wheelyard"), "build", str(folder), "--wheelhouse", str(house)]
    return [*command, "--python", *map(str, pythons), *extra]


def _newest() -> Path:
    return [i for i in discover(host()) if i.version[:2] >= (3, 9)][-1].executable


def test_build_inputs_setup_script_build_requirements_overrides(tmp_path: Path) -> None:
    """requirements-build.txt reaches the build env, build-setup.sh's exports and a package's
    environment reach its build, its test command replaces the import check; CI gets plain
    lines; --report holds the rows."""
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "buildhelper", "1.0")
    make_sdist(dists, "needshelper", "1.0", needs="buildhelper")
    make_sdist(dists, "flagged", "1.0")
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\nneedshelper==1.0\nflagged==1.0\n"
    )
    (tmp_path / "requirements-build.txt").write_text(
        "--no-index\n--find-links ./dists\nbuildhelper==1.0\n"
    )
    (tmp_path / "build-setup.sh").write_text(
        'echo "preparing the machine"\nexport FIXTURE_FROM_SETUP="set up"\n'
    )
    (tmp_path / "wheelyard.toml").write_text(
        "[build]\njobs = 2\n\n"
        "[build.packages.flagged]\n"
        'environment = { FIXTURE_OVERRIDE = "only flagged" }\n'
        'test = "python -c \'import flagged; print(\\"tested\\", flagged.built_with)\'"\n'
    )
    report = tmp_path / "report.json"
    command = _build(tmp_path, tmp_path / "wh", [_newest()], "--report", str(report))
    result = run(command, env=client_env(CI="true"), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # Plain event lines under CI, one per state change.
    assert "needshelper 1.0 python" in result.stdout and ": building" in result.stdout
    assert "build-setup.sh set FIXTURE_FROM_SETUP" in result.stdout

    wh = tmp_path / "wh"
    flagged = zipfile.ZipFile(wh / "flagged-1.0-py3-none-any.whl").read("flagged/__init__.py")
    assert b"'FIXTURE_FROM_SETUP': 'set up'" in flagged
    assert b"'FIXTURE_OVERRIDE': 'only flagged'" in flagged
    other = zipfile.ZipFile(wh / "needshelper-1.0-py3-none-any.whl").read("needshelper/__init__.py")
    assert b"FIXTURE_FROM_SETUP" in other and b"FIXTURE_OVERRIDE" not in other
    assert "preparing the machine" in (wh / "logs" / "build-setup.log").read_text()
    verify_log = next((wh / "logs").glob("verify-*.log")).read_text()
    assert "tested {" in verify_log and "import needshelper" in verify_log

    data = json.loads(report.read_text())
    assert data["ok"] is True and data["verified"][0]["ok"] is True
    rows = {r["project"]: r for r in data["wheels"]}
    assert rows["needshelper"]["source"] == "built" and rows["needshelper"]["state"] == "done"
    assert rows["flagged"]["tag"] == "pure" and rows["flagged"]["seconds"] > 0
    # The shared build environment was asked for ahead of its builds (whoever came first
    # made it: the first builds start at once), made once, and measured apart.
    envs = data["build_envs"]
    assert envs["created"] == 1 and envs["seconds"] > 0 and envs["cpu"] > 0
    assert len(list((wh / "logs").glob("buildenv-*.log"))) == 1
    logs = "".join(p.read_text() for p in (wh / "logs").glob("*.log"))
    assert logs.count("# creating build environment") == 1

    # Without requirements-build.txt the undeclared import fails, with a hint where to add it.
    (tmp_path / "requirements-build.txt").unlink()
    again = run(command, env=client_env(CI="true"), check=False)
    assert again.returncode == 1
    assert "hint: missing build dependency buildhelper: add it to requirements-build.txt" in (
        again.stdout
    )
    assert json.loads(report.read_text())["ok"] is False


def test_failing_setup_script_stops_the_run(tmp_path: Path) -> None:
    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist(dists, "okpkg", "1.0")
    (tmp_path / "requirements.txt").write_text("--no-index\n--find-links ./dists\nokpkg==1.0\n")
    (tmp_path / "build-setup.sh").write_text("echo apt-get install libnothing-dev\nexit 3\n")
    result = run(
        _build(tmp_path, tmp_path / "wh", [_newest()]),
        check=False,
    )
    assert result.returncode == 1
    assert "build-setup.sh failed with exit status 3" in result.stdout
    assert "apt-get install libnothing-dev" in result.stdout
    assert not list((tmp_path / "wh").glob("*.whl"))
    assert not list((tmp_path / "wh" / "logs").glob("okpkg-*.log"))


def _pypi_reachable() -> bool:
    try:
        return httpx.get("https://pypi.org/simple/pyyaml/", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


@needs_toolchain
@pytest.mark.skipif(not _pypi_reachable(), reason="needs pypi.org (CI has network)")
def test_real_sdist_from_pypi_with_c_extension(tmp_path: Path) -> None:
    """PyYAML's sdist, built from source: its C extension links the system libyaml, which
    auditwheel must graft; then verified for real."""
    (tmp_path / "requirements.txt").write_text("pyyaml==6.0.2 --no-binary pyyaml\n")
    report = tmp_path / "report.json"
    result = run(
        _build(tmp_path, tmp_path / "wh", [_newest()], "--report", str(report)),
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = json.loads(report.read_text())["wheels"]
    assert row["source"] == "built" and row["tag"].startswith("manylinux_")
    assert any(lib.startswith("libyaml") for lib in row["grafted"])
    wheel = tmp_path / "wh" / row["filename"]
    shown = run([sys.executable, "-m", "auditwheel", "show", str(wheel)])
    assert f'consistent with the following platform tag:\n"{row["tag"]}"' in shown.stdout
    assert any(".libs/libyaml" in n for n in zipfile.ZipFile(wheel).namelist())


def test_extra_index_url_at_the_target_label_reuses_its_wheels(
    tmp_path: Path, yard: Yard, owner_name: str
) -> None:
    """requirements.txt may name the label it publishes to: what is there is not rebuilt."""
    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist(dists, "srcpkg", "1.0")
    make_sdist(dists, "newpkg", "1.0")
    built = make_wheel(tmp_path, "srcpkg", "1.0")  # what an earlier run published
    token = yard.user(owner_name)
    twine(yard, f"{owner_name}/label/dev/", token, built)
    empty = tmp_path / "empty-index"
    empty.mkdir()
    (tmp_path / "requirements.txt").write_text(
        f"--index-url {empty.as_uri()}\n"
        f"--extra-index-url {yard.url}/{owner_name}/label/dev/simple\n"
        "--find-links ./dists\nsrcpkg==1.0\nnewpkg==1.0\n"
    )
    report = tmp_path / "report.json"
    command = _build(tmp_path, tmp_path / "wh", [_newest()], "--report", str(report))
    # Without --url the label is just an index pip finds the wheel in.
    result = run(command, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sources = {r["project"]: r["source"] for r in json.loads(report.read_text())["wheels"]}
    assert sources == {"srcpkg": "upstream", "newpkg": "built"}
    # With --url it counts as held by the owner: labelled on upload, never re-sent.
    result = run(
        [*command, "--url", yard.url, "--owner", owner_name, "--upload", "--label", "dev"],
        env=client_env(WHEELYARD_TOKEN=token),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert {r["project"]: r["source"] for r in data["wheels"]}["srcpkg"] == "yard"
    actions = {p["filename"]: p["action"] for p in data["published"]}
    assert actions["srcpkg-1.0-py3-none-any.whl"] in ("labelled", "present", "already")
    assert actions["newpkg-1.0-py3-none-any.whl"] == "uploaded"


@needs_toolchain
def test_an_interpreter_whose_pip_cannot_resolve_builds_and_verifies(tmp_path: Path) -> None:
    """Python 3.7 ships pip 22.0 (no ``--dry-run --report``): uv resolves for it, its own pip
    builds, uv's venv verifies."""
    old = [i for i in discover(host()) if i.version[:2] == (3, 7) and i.pip and i.pip < (22, 2)]
    if not old:
        pytest.skip("needs a Python 3.7 with its own pip < 22.2 (as pyenv installs it)")
    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist(dists, "srcpkg", "1.0")
    make_c_sdist(dists, "yamlext", "1.0")
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\nsrcpkg==1.0\nyamlext==1.0\n"
    )
    report = tmp_path / "report.json"
    result = run(_build(tmp_path, tmp_path / "wh", [old[0].executable], "--report", str(report)))
    assert "Python 3.7: resolved with uv" in result.stderr
    assert "verify Python 3.7: ok" in result.stdout
    rows = {r["project"]: r for r in json.loads(report.read_text())["wheels"]}
    assert rows["yamlext"]["filename"].startswith("yamlext-1.0-cp37-cp37m-manylinux")
