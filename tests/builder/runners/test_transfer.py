"""How files reach a container: ``auto`` copies for a remote daemon (GitLab's docker-in-docker)
and binds otherwise; in ``copy`` mode the container has no mounts, yet every command sees what
the host wrote and the host gets back what a command wrote — new, changed (also within the
same second at the same size), deleted, executable, symbolic links — and nothing else."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from tests.builder.runners.conftest import EngineUnderTest
from wheelyard.builder.runners.container import ContainerRunner
from wheelyard.builder.runners.engines import Engine
from wheelyard.builder.runners.transfer import choose, remote
from wheelyard.builder.settings import load
from wheelyard.errors import InvalidInput


def _engine(name: str, **environ: str) -> Engine:
    return Engine(name, f"/usr/bin/{name}", environ)


def test_auto_copies_only_for_a_remote_daemon() -> None:
    assert choose("auto", _engine("docker")) == "bind"
    assert choose("auto", _engine("docker", DOCKER_HOST="unix:///run/d.sock")) == "bind"
    dind = _engine("docker", DOCKER_HOST="tcp://docker:2376")
    assert choose("auto", dind) == "copy" and choose(None, dind) == "copy"
    assert remote(dind) == "DOCKER_HOST=tcp://docker:2376"
    assert choose("auto", _engine("docker", DOCKER_HOST="ssh://me@builder")) == "copy"
    assert choose("auto", _engine("podman", CONTAINER_HOST="ssh://me@h/run/podman.sock")) == "copy"
    assert choose("auto", _engine("podman", DOCKER_HOST="tcp://docker:2376")) == "bind"
    assert choose("bind", dind) == "bind" and choose("copy", _engine("podman")) == "copy"


def test_the_setting_comes_from_file_environment_and_flag(tmp_path: Path) -> None:
    assert load(tmp_path, {}, environ={}).container_transfer == "auto"
    (tmp_path / "wheelyard.toml").write_text('[build]\ncontainer-transfer = "bind"\n')
    assert load(tmp_path, {}, environ={}).container_transfer == "bind"
    env = {"WHEELYARD_CONTAINER_TRANSFER": "copy"}
    assert load(tmp_path, {}, environ=env).container_transfer == "copy"
    assert load(tmp_path, {"container_transfer": "auto"}, environ=env).container_transfer == "auto"
    with pytest.raises(
        InvalidInput, match=r"--container-transfer: expected one of auto, bind, copy"
    ):
        load(tmp_path, {"container_transfer": "rsync"}, environ={})
    with pytest.raises(InvalidInput, match="unknown container transfer 'rsync'"):
        ContainerRunner({}, "img", transfer_mode="rsync")


def _copying(engine: EngineUnderTest) -> ContainerRunner:
    return ContainerRunner(engine.env, engine.image, engine.name, transfer_mode="copy")


@pytest.mark.e2e
def test_copies_follow_changes_both_ways(engine: EngineUnderTest, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("one\n")
    (folder / "sub" / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (folder / "sub" / "run.sh").chmod(0o755)
    with _copying(engine) as runner:
        runner.share(folder)

        def sh(script: str) -> str:
            result = runner.capture(["sh", "-c", script], cwd=folder)
            assert result.returncode == 0, result.stderr
            return result.stdout

        # Host → container: contents, modes; no mount of the folder.
        assert sh("cat a.txt; sub/run.sh") == "one\nran\n"
        assert runner.transfer == "copy"
        mounts = [line.split()[4] for line in sh("cat /proc/self/mountinfo").splitlines()]
        assert "/" in mounts and not [m for m in mounts if m.startswith("/wheelyard")]
        # Container → host: new, changed, deleted files; folders; links; modes.
        sh("echo two > b.txt; mkdir -p new/deep; ln -s b.txt link; rm a.txt; chmod 700 sub")
        assert (folder / "b.txt").read_text() == "two\n"
        assert (folder / "new" / "deep").is_dir()
        assert os.readlink(folder / "link") == "b.txt"
        assert not (folder / "a.txt").exists()
        assert (folder / "sub").stat().st_mode & 0o777 == 0o700
        # The same size within the same second: still copied (either way).
        for word in ("AAA", "BBB", "CCC"):
            sh(f"echo {word} > c.txt")
            assert (folder / "c.txt").read_text() == f"{word}\n"
        for word in ("DDD", "EEE"):
            (folder / "c.txt").write_text(f"{word}\n")
            assert sh("cat c.txt") == f"{word}\n"
        # Deleted on the host: gone inside; a folder the host emptied and removed too.
        (folder / "b.txt").unlink()
        (folder / "new" / "deep").rmdir()
        assert sh("ls -A; ls new") == "c.txt\nlink\nnew\nsub\n"
        # Host paths in what a command prints are the host's.
        assert sh("pwd").strip() == str(folder)


@pytest.mark.e2e
def test_a_link_out_of_the_folder_is_not_followed(engine: EngineUnderTest, tmp_path: Path) -> None:
    """What a build writes through a symbolic link must not land outside the shared folder
    on the host: a folder replaced by a link to / is copied as the link, and nothing of /
    is written or deleted."""
    folder = tmp_path / "shared"
    folder.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine\n")
    with _copying(engine) as runner:
        runner.share(folder)
        script = "mkdir d && echo x > d/keep && echo y > d/f"
        assert runner.capture(["sh", "-c", script], cwd=folder).returncode == 0
        assert (folder / "d" / "keep").read_text() == "x\n"
        script = f"rm -r d && ln -s {outside} d && mkdir -p {outside} && echo z > {outside}/keep"
        assert runner.capture(["sh", "-c", script], cwd=folder).returncode == 0
    assert os.readlink(folder / "d") == str(outside)
    assert (outside / "keep").read_text() == "mine\n"


@pytest.mark.e2e
def test_every_archive_length_is_copied_in(engine: EngineUnderTest, tmp_path: Path) -> None:
    """podman cp stops reading a tar stream at its end marker, and failed ("write on closed
    pipe") on the padding tarfile writes after it for archives ending at some 10 KiB records
    (the 51st, 54th, 57th, 60th … here): files that end the archive at each of 16 records
    all arrive."""
    folder = tmp_path / "shared"
    folder.mkdir()
    with _copying(engine) as runner:
        runner.share(folder)
        for record in range(48, 64):
            # the archive: a folder's header, the file's, its data; then the end marker
            size = record * tarfile.RECORDSIZE - 2 * tarfile.BLOCKSIZE
            (folder / "big").write_bytes(b"x" * size)
            result = runner.capture(["wc", "-c", str(folder / "big")])
            assert result.returncode == 0, result.stderr
            assert result.stdout.split()[0] == str(size)


def test_the_network_setting_reaches_the_runner(tmp_path: Path) -> None:
    """``container-network`` (e.g. ``host`` for a daemon without a bridge, as .ci/run starts
    dockerd) from the file, the environment or the flag; the docker e2e tests build with it."""
    from wheelyard.builder.runners import make_runner

    assert load(tmp_path, {}, environ={}).container_network is None
    env = {"WHEELYARD_CONTAINER_NETWORK": "host"}
    settings = load(tmp_path, {"container": "img"}, environ=env)
    assert settings.container_network == "host"
    runner = make_runner(settings, {"PATH": "/nonexistent"})
    assert isinstance(runner, ContainerRunner) and runner.network == "host"
    assert ContainerRunner(env, "img").network == "host"  # as wheelyard's own environment
    (tmp_path / "wheelyard.toml").write_text('[build]\ncontainer-network = "wheelyard-net"\n')
    assert load(tmp_path, {}, environ={}).container_network == "wheelyard-net"


def test_the_flags_set_them(tmp_path: Path) -> None:
    from wheelyard.cli.build import settings_of
    from wheelyard.cli.main import build_parser

    argv = ["build", str(tmp_path), "--container-transfer", "copy", "--container-network", "host"]
    settings = settings_of(build_parser().parse_args(argv))
    assert (settings.container_transfer, settings.container_network) == ("copy", "host")
    with pytest.raises(SystemExit):  # argparse: one line naming the choices, exit 2
        build_parser().parse_args(["build", "--container-transfer", "rsync"])
