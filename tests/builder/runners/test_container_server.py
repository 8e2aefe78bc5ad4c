"""The container runner's commands through its command server (runners/server.py), with each
engine and the test image: what a command sees (its variables, never the token; its folder),
exit statuses, a timed-out command killed inside the container, many commands at once, the
verify container served the same way, and one ``exec`` per command where the image has no
Python for the server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.builder.runners.conftest import EngineUnderTest
from wheelyard.builder.runners import server
from wheelyard.builder.runners.container import ContainerRunner

pytestmark = pytest.mark.e2e
TOKEN = "wy-secret-token-for-the-server-test"  # what must not be seen inside


def _runner(engine: EngineUnderTest) -> ContainerRunner:
    environ = {**engine.env, "WHEELYARD_TOKEN": TOKEN, "PIP_INDEX_URL": "https://example.org/"}
    return ContainerRunner(environ, engine.image, engine.name)


def test_commands_go_through_the_server(engine: EngineUnderTest, tmp_path: Path) -> None:
    with _runner(engine) as runner:
        runner.share(tmp_path)
        seen = runner.capture(
            [
                "sh",
                "-c",
                'env; echo "cwd=$(pwd)"; tr "\\0" "\\n" </proc/1/environ; cat /proc/1/cmdline',
            ],
            env={"WHEELYARD_TOKEN": TOKEN, "ADDED": str(tmp_path / "x")},
            cwd=tmp_path,
        )
        assert seen.returncode == 0, seen.stderr
        assert runner._channel is not None  # the server answered, so no exec per command
        assert "wheelyard-container-ready server" in seen.stdout  # PID 1 is the server
        assert TOKEN not in seen.stdout and "WHEELYARD_TOKEN" not in seen.stdout
        # Variables and folders written with host paths, seen with the container's; the
        # runner's own (pip's portable settings) too.
        assert f"ADDED={tmp_path}/x" in seen.stdout  # mapped back to the host's by capture
        assert f"cwd={tmp_path}" in seen.stdout
        assert "PIP_INDEX_URL=https://example.org/" in seen.stdout
        assert runner.capture(["sh", "-c", "exit 3"]).returncode == 3
        assert runner.capture(["no-such-command"]).returncode == 127
        log = tmp_path / "log.txt"
        assert runner.run(["sh", "-c", "echo out; echo err >&2; exit 5"], log) == 5
        assert log.read_text().splitlines()[1:] == ["out", "err"]
        name = runner._name
    assert engine.call("ps", "--all", "--quiet", "--filter", f"name={name}").stdout.strip() == ""


def test_a_timed_out_command_is_killed_in_the_container(engine: EngineUnderTest) -> None:
    with _runner(engine) as runner:
        runner.capture(["true"])
        started = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            runner.capture(["sh", "-c", "echo $$ >/tmp/pid; sleep 60 & wait"], timeout=2)
        assert time.monotonic() - started < 20
        left = runner.capture(["sh", "-c", "ps -eo args 2>/dev/null || ls /proc"]).stdout
        assert "sleep 60" not in left
        gone = runner.capture(["sh", "-c", 'kill -0 "$(cat /tmp/pid)"'])
        assert gone.returncode != 0


def test_many_commands_at_once(engine: EngineUnderTest) -> None:
    with _runner(engine) as runner:
        runner.capture(["true"])

        def one(i: int) -> tuple[int, str]:
            result = runner.capture(["sh", "-c", f"sleep 1; echo {i}; exit {i % 4}"])
            return result.returncode, result.stdout

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(32)))
        assert results == [(i % 4, f"{i}\n") for i in range(32)]
        assert time.monotonic() - started < 16  # 32 × 1 s one after another: 32 s
        big = runner.capture(["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a"])
        assert big.stdout == "a" * 3_000_000


def test_the_verify_container_is_served_too(engine: EngineUnderTest) -> None:
    with _runner(engine) as runner:
        runner.capture(["true"])
        with runner.clean() as clean:
            # Started in the background with the build container: ready before its first
            # command, and served.
            assert clean._process is not None and clean._channel is not None
            assert clean.capture(["sh", "-c", "echo $((6 * 7))"]).stdout == "42\n"
            assert clean._name != runner._name
            names = [runner._name, clean._name]
        with runner.clean() as again:  # a second one is started when asked for
            assert again._process is None and again.capture(["true"]).returncode == 0
            names.append(again._name)
    for name in names:
        assert engine.call("ps", "--all", "--quiet", "--filter", f"name={name}").stdout == ""


def test_an_unused_verify_container_is_removed_too(engine: EngineUnderTest) -> None:
    with _runner(engine) as runner:
        runner.capture(["true"])
        assert runner._warming is not None
        runner._warming.join()
        assert runner._spare is not None
        spare = runner._spare._name
        assert engine.call("ps", "--quiet", "--filter", f"name={spare}").stdout.strip()
    assert engine.call("ps", "--all", "--quiet", "--filter", f"name={spare}").stdout == ""


def test_without_python_each_command_is_an_exec(
    engine: EngineUnderTest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As in an image with no Python at the places the server looks for one.
    candidates = "/opt/python/cp3*/bin/python /usr/local/bin/python3 /usr/bin/python3"
    assert candidates in server.MAIN
    monkeypatch.setattr(server, "MAIN", server.MAIN.replace(candidates, "/nonexistent"))
    with _runner(engine) as runner:
        runner.share(tmp_path)
        seen = runner.capture(["sh", "-c", "env; cat /proc/1/cmdline"], cwd=tmp_path)
        assert runner._channel is None
        assert "cat" in seen.stdout and TOKEN not in seen.stdout
        assert runner.capture(["sh", "-c", "exit 3"]).returncode == 3
        assert os.environ.get("WHEELYARD_TOKEN") != TOKEN


def test_a_killed_wheelyard_leaves_no_container(engine: EngineUnderTest) -> None:
    """Killed outright (no handler runs): the server sees its stdin close, kills what runs
    and exits, and the engine removes the container (--rm)."""
    script = (
        "import sys\n"
        "from wheelyard.builder.runners.container import ContainerRunner\n"
        f"runner = ContainerRunner({engine.env!r}, {engine.image!r}, {engine.name!r})\n"
        "runner.__enter__()\n"
        "runner.capture(['true'])\n"
        "runner._warming.join()\n"
        "print(runner._name, runner._spare._name, flush=True)\n"
        "runner.capture(['sleep', '300'])\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=engine.env
    )
    assert child.stdout is not None
    names = child.stdout.readline().split()
    assert len(names) == 2
    child.kill()
    child.wait(30)
    deadline = time.monotonic() + 30
    left = names
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = [n for n in names if engine.call("ps", "-aq", "--filter", f"name={n}").stdout]
    assert left == []
