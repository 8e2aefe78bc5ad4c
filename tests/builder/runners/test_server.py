"""The command server's protocol (runners/server.py), its server script run by this machine's
Python with the host side (``Channel``) talking to it over pipes, as a container's main process
is talked to: many commands at once, large output, exit statuses, stdin, killing, output
streamed while a command runs, and the end of every call when the server goes away."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wheelyard.builder.runners import server


@pytest.fixture
def channel() -> Iterator[tuple[server.Channel, subprocess.Popen[bytes]]]:
    process = subprocess.Popen(
        ["/bin/sh", "-c", server.MAIN.replace("/opt/python/cp3*/bin/python", sys.executable),
         "sh", server.SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    assert process.stdout.readline().decode().strip() == server.SERVING
    try:
        yield server.Channel(process.stdin, process.stdout, "test"), process
    finally:
        process.stdin.close()
        process.wait(timeout=10)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an unreaped zombie does not), after a moment to end."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(50):
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX":
            return False
        time.sleep(0.1)
    return True


def _run(ch: server.Channel, argv: list[str], **kw: object) -> tuple[int, bytes, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    code = ch.start(argv, {}, "/", out=out, err=err, **kw).wait(30)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_exit_statuses_output_and_environment(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    assert _run(ch, ["sh", "-c", "echo out; echo err >&2; exit 7"]) == (7, b"out\n", b"err\n")
    code, _, _ = _run(ch, ["sh", "-c", 'kill -9 "$$"'])
    assert code == 128 + 9  # as an engine's exec reports a command killed by a signal
    code, _, err = _run(ch, ["no-such-command-here"])
    assert code == 127 and b"no-such-command-here" in err
    out2 = io.BytesIO()
    call = ch.start(["sh", "-c", 'echo "$ADDED:$PWD"'], {"ADDED": "yes"}, "/tmp", out=out2)
    assert call.wait(30) == 0 and out2.getvalue() == b"yes:/tmp\n"


def test_stderr_joins_stdout_in_order_when_not_separate(
    channel: tuple[server.Channel, object],
) -> None:
    ch, _ = channel
    out = io.BytesIO()
    script = "for i in 1 2 3; do echo o$i; echo e$i >&2; done"
    assert ch.start(["sh", "-c", script], {}, "/", out=out).wait(30) == 0
    assert out.getvalue() == b"o1\ne1\no2\ne2\no3\ne3\n"


def test_many_commands_run_at_once(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    started = time.monotonic()
    outs = [io.BytesIO() for _ in range(40)]
    calls = [
        ch.start(["sh", "-c", f"sleep 0.5; echo {i}; exit {i % 5}"], {}, "/", out=o)
        for i, o in enumerate(outs)
    ]
    codes = [c.wait(60) for c in calls]
    assert codes == [i % 5 for i in range(40)]
    assert [o.getvalue() for o in outs] == [f"{i}\n".encode() for i in range(40)]
    assert time.monotonic() - started < 10  # 40 × 0.5 s one after another would be 20 s


def test_large_output_arrives_whole(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    size = 20_000_000
    script = f"head -c {size} /dev/urandom | tee /dev/stderr | sha256sum | cut -c1-64 >&2"
    code, out, err = _run(ch, ["sh", "-c", script])
    assert code == 0 and len(out) == 0 and len(err) == size + 65
    assert hashlib.sha256(err[:size]).hexdigest().encode() == err[size:-1]


def test_stdin_is_fed_and_closed(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    out = io.BytesIO()
    call = ch.start(["sh", "-c", "wc -c; echo done"], {}, "/", out=out, stdin=True)
    call.write(b"x" * 300_000)
    call.close()
    assert call.wait(30) == 0
    assert out.getvalue().split() == [b"300000", b"done"]
    code, out_none, _ = _run(ch, ["cat"])  # without stdin: /dev/null, not the server's
    assert (code, out_none) == (0, b"")


def test_output_streams_while_the_command_runs(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    out = io.BytesIO()
    call = ch.start(["sh", "-c", "echo first; sleep 30"], {}, "/", out=out)
    deadline = time.monotonic() + 10
    while out.getvalue() != b"first\n" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.getvalue() == b"first\n"
    with pytest.raises(subprocess.TimeoutExpired):
        call.wait(0.1)
    # Killed: it and what it started (the sleep) end at once.
    call.kill()
    assert call.wait(10) == 137


def test_a_timeout_kills_the_whole_command(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    out = io.BytesIO()
    call = ch.start(["sh", "-c", "sleep 60 & echo $!; wait"], {}, "/", out=out)
    with pytest.raises(subprocess.TimeoutExpired):
        server.wait_or_kill(call, timeout=1)
    assert call.returncode == 137
    assert not _alive(int(out.getvalue()))  # the sleep it started too


def test_every_call_ends_when_the_server_goes_away(
    channel: tuple[server.Channel, subprocess.Popen[bytes]],
) -> None:
    ch, process = channel
    err = io.BytesIO()
    calls = [ch.start(["sleep", "3"], {}, "/", out=io.BytesIO(), err=err) for _ in range(3)]
    time.sleep(0.3)
    process.kill()  # as rm --force does (the sleeps end by themselves)
    assert [c.wait(10) for c in calls] == [server.GONE] * 3
    assert b"went away" in err.getvalue()
    late = io.BytesIO()
    assert ch.start(["true"], {}, "/", out=late).wait(10) == server.GONE  # not a hang
    assert not ch.alive


def test_calls_from_many_threads(channel: tuple[server.Channel, object]) -> None:
    ch, _ = channel
    results: dict[int, tuple[int, bytes, bytes]] = {}

    def one(i: int) -> None:
        results[i] = _run(ch, ["sh", "-c", f"printf %0{1000 * i}d 0; exit {i % 3}"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, 25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {i: (c, len(o)) for i, (c, o, _) in results.items()} == {
        i: (i % 3, 1000 * i) for i in range(1, 25)
    }


def test_a_failing_output_sink_loses_only_its_own_output(
    channel: tuple[server.Channel, object],
) -> None:
    ch, _ = channel
    closed = io.BytesIO()
    closed.close()  # writing to it raises, as a full disk would
    assert ch.start(["echo", "lost"], {}, "/", out=closed).wait(30) == 0
    assert _run(ch, ["echo", "kept"]) == (0, b"kept\n", b"")
