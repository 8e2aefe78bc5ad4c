"""A command server for a long-lived container, instead of one ``docker exec`` / ``podman exec``
per command (each costs 120-220 ms of engine latency; the server, a few milliseconds).

The container's main process is :data:`MAIN`: a shell that starts :data:`SERVER` (stdlib
Python, 3.6 or newer) with the first interpreter it finds, or, in an image without one, falls
back to holding stdin open (``cat``), and the runner then uses one ``exec`` per command as
before. Either way it prints a ready line first, saying which.

The server reads framed requests on its stdin and writes framed replies on its stdout; each
frame is a kind byte, a command id and a payload length (big-endian, :data:`HEADER`), then the
payload. Host to server: ``r`` start a command (JSON: argv, env — added to the container's
own —, cwd, whether it reads stdin, whether stderr joins stdout), ``i`` stdin bytes, ``c``
close stdin, ``k`` kill the command (its whole process group). Server to host: ``o`` stdout
bytes, ``e`` stderr bytes, ``x`` the exit status (decimal; a command killed by signal N ends
with 128 + N, as an engine's ``exec`` reports it; one that could not start, 126 or 127 with its
reason on stderr). Commands run concurrently, each in its own session, with their output
streamed as it comes. When stdin closes (wheelyard ended, or was killed) the server exits and
the engine removes the container (``--rm``).

:class:`Channel` is the host side: it writes requests, and a reader thread routes each reply
to its :class:`Call`, which a caller waits on like a process."""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
import threading
from collections.abc import Mapping
from typing import IO

READY = "wheelyard-container-ready"
SERVING = f"{READY} server"
HEADER = struct.Struct(">cII")  # kind, command id, payload length
_CHUNK = 65536
# What a command still running when the container goes away ends with (as SIGKILL's).
GONE = 137

SERVER = r"""
import json, os, signal, struct, subprocess, sys, threading
HEADER = struct.Struct(">cII")
lock = threading.Lock()
running = {}
doomed = set()

def send(kind, cid, data=b""):
    frame = memoryview(HEADER.pack(kind, cid, len(data)) + data)
    with lock:
        while frame:
            frame = frame[os.write(1, frame):]

def pump(cid, fd, kind):
    while True:
        data = os.read(fd, 65536)
        if not data:
            break
        send(kind, cid, data)
    os.close(fd)

def feed(proc, chunks):
    for data in iter(chunks.get, None):
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except OSError:
            pass
    try:
        proc.stdin.close()
    except OSError:
        pass

def kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass

def serve(cid, request, chunks):
    env = dict(os.environ)
    env.update(request["env"])
    merge = request.get("merge")
    try:
        proc = subprocess.Popen(
            request["argv"], cwd=request.get("cwd") or "/", env=env,
            stdin=subprocess.PIPE if chunks is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            start_new_session=True, bufsize=0,
        )
    except OSError as exc:
        why = "wheelyard: cannot run %s: %s\n" % (request["argv"][0], exc.strerror or exc)
        send(b"o" if merge else b"e", cid, why.encode())
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        send(b"x", cid, str(code).encode())
        running.pop(cid, None)
        return
    running[cid] = proc
    if cid in doomed:
        kill(proc)
    pumps = [threading.Thread(target=pump, args=(cid, os.dup(proc.stdout.fileno()), b"o"))]
    proc.stdout.close()
    if not merge:
        pumps.append(threading.Thread(target=pump, args=(cid, os.dup(proc.stderr.fileno()), b"e")))
        proc.stderr.close()
    if chunks is not None:
        pumps.append(threading.Thread(target=feed, args=(proc, chunks)))
    for t in pumps:
        t.daemon = True
        t.start()
    code = proc.wait()
    for t in pumps[:2]:
        t.join(10)  # (a daemon it left behind may hold the pipe open)
    running.pop(cid, None)
    send(b"x", cid, str(128 - code if code < 0 else code).encode())

def main():
    import queue
    os.environ.pop("PWD", None)  # the shell's, not the commands' (as exec gives them none)
    stdin = sys.stdin.buffer
    inputs = {}
    os.write(1, b"wheelyard-container-ready server\n")
    while True:
        head = stdin.read(HEADER.size)
        if len(head) < HEADER.size:
            break
        kind, cid, size = HEADER.unpack(head)
        data = stdin.read(size)
        if len(data) < size:
            break
        if kind == b"r":
            request = json.loads(data.decode("utf-8"))
            chunks = queue.Queue() if request.get("stdin") else None
            if chunks is not None:
                inputs[cid] = chunks
            running[cid] = None
            t = threading.Thread(target=serve, args=(cid, request, chunks))
            t.daemon = True
            t.start()
        elif kind == b"i" and cid in inputs:
            inputs[cid].put(data)
        elif kind == b"c" and cid in inputs:
            inputs.pop(cid).put(None)
        elif kind == b"k":
            proc = running.get(cid)
            if proc is not None:
                kill(proc)
            elif cid in running:
                doomed.add(cid)
    for proc in list(running.values()):
        if proc is not None:
            kill(proc)

main()
"""

# The container's main process: the server under the first Python 3.6+ found, else stdin held
# open by cat. ($1 is the server's source.)
MAIN = (
    "for p in /opt/python/cp3*/bin/python /usr/local/bin/python3 /usr/bin/python3; do "
    '[ -x "$p" ] && "$p" -I -S -c "import sys; sys.exit(sys.version_info < (3, 6))" '
    '</dev/null 2>/dev/null && exec "$p" -I -S -c "$1"; '
    f"done; echo {READY}; exec cat >/dev/null"
)


class Call:
    """One command running in the container, waited on like a process."""

    def __init__(self, channel: Channel, cid: int, out: IO[bytes], err: IO[bytes]) -> None:
        self._channel = channel
        self.cid = cid
        self.out = out
        self.err = err
        self.returncode: int | None = None
        self._done = threading.Event()

    def _finish(self, code: int) -> None:
        self.returncode = code
        self._done.set()

    def write(self, data: bytes) -> None:
        """Send bytes to the command's stdin (started with ``stdin=True``)."""
        for at in range(0, len(data), _CHUNK):
            self._channel._send(b"i", self.cid, data[at : at + _CHUNK])

    def close(self) -> None:
        """Close the command's stdin."""
        self._channel._send(b"c", self.cid)

    def kill(self) -> None:
        """Kill the command and everything it started (it then ends with 137)."""
        if not self._done.is_set():
            self._channel._send(b"k", self.cid)

    def wait(self, timeout: float | None = None) -> int:
        """The exit status, once the command ended and all its output was delivered;
        ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("(in the container)", timeout or 0)
        assert self.returncode is not None
        return self.returncode


class Channel:
    """The host side of a server: its process's stdin for requests, a reader thread on its
    stdout (after the ready line) delivering replies."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes], name: str = "") -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._lock = threading.Lock()  # one frame at a time on stdin; the ids and calls
        self._calls: dict[int, Call] = {}
        self._next = 0
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=f"server-{name}", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return not self._closed

    def start(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        out: IO[bytes],
        err: IO[bytes] | None = None,
        stdin: bool = False,
    ) -> Call:
        """Start ``argv`` in the container; its stdout goes to ``out`` and its stderr to
        ``err`` (None: into ``out``, interleaved as the command wrote them), chunk by chunk
        as they arrive. With ``stdin``, :meth:`Call.write` feeds it; otherwise it reads
        /dev/null."""
        request = {"argv": argv, "env": dict(env), "cwd": cwd, "stdin": stdin}
        request["merge"] = err is None
        payload = json.dumps(request).encode()
        with self._lock:
            self._next += 1
            call = Call(self, self._next, out, err if err is not None else out)
            if self._closed:
                call.err.write(b"wheelyard: the container is gone\n")
                call._finish(GONE)
                return call
            self._calls[call.cid] = call
            self._write(b"r", call.cid, payload)
        return call

    def _send(self, kind: bytes, cid: int, data: bytes = b"") -> None:
        with self._lock:
            if not self._closed:
                self._write(kind, cid, data)

    def _write(self, kind: bytes, cid: int, data: bytes) -> None:
        try:
            self._stdin.write(HEADER.pack(kind, cid, len(data)) + data)
            self._stdin.flush()
        except (OSError, ValueError):
            pass  # the container is gone: the reader ends every call

    def _read(self) -> None:
        try:
            while True:
                head = _exactly(self._stdout, HEADER.size)
                if head is None:
                    break
                kind, cid, size = HEADER.unpack(head)
                data = _exactly(self._stdout, size) if size else b""
                if data is None:
                    break
                with self._lock:
                    call = self._calls.get(cid)
                if call is None:
                    continue
                if kind in (b"o", b"e"):
                    sink = call.out if kind == b"o" else call.err
                    # (a sink that fails, a full disk, loses its own output, not the others')
                    with contextlib.suppress(OSError, ValueError):
                        sink.write(data)
                        sink.flush()
                elif kind == b"x":
                    with self._lock:
                        self._calls.pop(cid, None)
                    call._finish(int(data))
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._closed = True
                left, self._calls = list(self._calls.values()), {}
            for call in left:
                with contextlib.suppress(OSError, ValueError):
                    call.err.write(b"wheelyard: the container went away\n")
                call._finish(GONE)


def _exactly(stream: IO[bytes], size: int) -> bytes | None:
    """``size`` bytes, or None at the end of the stream."""
    data = stream.read(size)
    if len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while data and got < size:
        data = stream.read(size - got)
        parts.append(data)
        got += len(data)
    return b"".join(parts) if got == size else None


def wait_or_kill(call: Call, timeout: float | None = None) -> int:
    """Wait for ``call``, killing it after ``timeout`` seconds (then TimeoutExpired)."""
    try:
        return call.wait(timeout)
    except subprocess.TimeoutExpired:
        call.kill()
        call.wait(10)
        raise
