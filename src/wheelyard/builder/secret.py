"""Keeping the upload token of ``wheelyard build`` away from the code it builds.

Builds (and pip's resolution, which runs build backends too) are child processes of
``wheelyard build``, running as the same user. A child can read any same-user, dumpable
process's ``/proc/<pid>/environ`` — the environment it was *started* with, which removing a
variable from ``os.environ`` later does not change — and its open files through
``/proc/<pid>/fd``. So, first thing, :func:`seal`:

* marks the process non-dumpable (Linux): the kernel then refuses other processes without
  ``CAP_SYS_PTRACE`` its ``environ``, ``mem``, ``fd`` and ``ptrace``;
* if ``WHEELYARD_TOKEN`` is set, replaces the process with the same command line
  (``execve``, same pid) whose environment lacks it, handing the token over through a pipe
  (``WHEELYARD_TOKEN_FD`` names the descriptor and carries no secret);
* in the new image, drains and closes that pipe at once, before anything is run: the token
  then lives only in this process's memory, never in an environment, an argument, a file
  descriptor a child could inherit or open, or a log.

``--token-file`` / ``WHEELYARD_TOKEN_FILE`` keep the token out of every environment from the
start; that file is read only when the token is first needed. :func:`upload_token` is the one
place that obtains the token.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from pathlib import Path

from wheelyard.errors import InvalidInput

TOKEN_VARIABLE = "WHEELYARD_TOKEN"  # noqa: S105 (a variable name)
FD_VARIABLE = "WHEELYARD_TOKEN_FD"
FILE_VARIABLE = "WHEELYARD_TOKEN_FILE"
# Never handed to build-setup.sh or a build by any runner: uploading is the executor's job,
# not the build's (the hand-off descriptor and the token file's path carry no secret, but
# builds need neither).
SECRET_VARIABLES = (TOKEN_VARIABLE, FD_VARIABLE, FILE_VARIABLE)
# Tokens are ~50 characters; the limit keeps the hand-off within one pipe buffer, so writing
# it before the exec can never block.
_MAX_TOKEN = 4096
_PR_SET_DUMPABLE = 4

_state: dict[str, str | None] = {"token": None, "file": None}


def refuse_inspection() -> bool:
    """Make this process non-dumpable (Linux); True if the kernel agreed.

    Children get their own dumpable image at ``execve``, so builds are unaffected; only
    inspecting *this* process (environ, memory, fds, ptrace) becomes root's privilege."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _read_pipe(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, _MAX_TOKEN):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def _take_hand_off() -> None:
    """In the new image: drain and close the pipe the previous one left the token in."""
    value = os.environ.pop(FD_VARIABLE, None)
    if value is None:
        return
    try:
        fd = int(value)
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise OSError(f"fd {fd} is not a pipe")
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"{FD_VARIABLE} names no token hand-off pipe ({exc})") from None
    try:
        _state["token"] = _read_pipe(fd).strip() or None
    finally:
        os.close(fd)


def _replace_process(token: str) -> None:
    """``execve`` this very command line without the token in its environment; returns only
    if that is impossible (another OS, an unrecognisable command line, exec refused)."""
    if os.name != "posix":
        return
    args = sys.argv[1:]
    if args and list(sys.orig_argv[-len(args) :]) != args:
        return  # not the command line this process was started with
    encoded = token.encode()
    if len(encoded) > _MAX_TOKEN:
        raise InvalidInput(f"{TOKEN_VARIABLE} is too long to be a token")
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_VARIABLE, FD_VARIABLE)}
    read, write = os.pipe()
    try:
        os.write(write, encoded)
    finally:
        os.close(write)
    os.set_inheritable(read, True)
    env[FD_VARIABLE] = str(read)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, list(sys.orig_argv), env)  # noqa: S606 (the same command)
    except OSError:
        os.close(read)


def seal(own_process: bool, token_file: str | None = None) -> None:
    """Run once, before ``wheelyard build`` runs anything (a probe, pip, a build).

    ``own_process``: this process is the ``wheelyard`` command itself (not ``main()`` called
    from other Python code), so it may replace itself with the same command line."""
    refuse_inspection()
    _state["file"] = token_file or os.environ.get(FILE_VARIABLE) or None
    token = os.environ.get(TOKEN_VARIABLE)
    if token and own_process:
        _replace_process(token)  # does not return when it worked
    _take_hand_off()
    if os.environ.pop(TOKEN_VARIABLE, None) and _state["token"] is None:
        # No re-exec possible: children no longer inherit it (unsetenv), and on Linux the
        # non-dumpable flag guards the initial environment of this process.
        _state["token"] = token


def token_file() -> Path | None:
    """Where the token file is (never its content), so a build environment can refuse to
    make it visible to builds."""
    path = _state["file"]
    return Path(path).absolute() if path is not None else None


def upload_token() -> str | None:
    """The token, from ``--token-file``/``WHEELYARD_TOKEN_FILE`` or what :func:`seal` took
    over from ``WHEELYARD_TOKEN``; None when there is none. The one way to get it."""
    path = _state["file"]
    if path is not None:
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read the token file {path}: {exc.strerror}") from None
        if not text:
            raise InvalidInput(f"the token file {path} is empty")
        return text
    return _state["token"]
