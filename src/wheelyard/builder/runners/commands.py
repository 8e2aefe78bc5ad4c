"""Running one command of a runner, written once for every runner: ``run`` (output appended to
a log) and ``capture`` (output returned, with the environment's paths mapped back to the
host's). A runner says only how a command is launched (:meth:`Commands._launch`: the argument
vector, the variables and the folder the engine or the host process gets) and what follows it
(:meth:`Commands._landed`: a container in copy mode copies what the command wrote back). A
command goes to a process the host starts, or to a container's command server
(``server.py``), which streams its output back the same way."""

from __future__ import annotations

import io
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wheelyard.builder.runners.server import Channel, wait_or_kill


@dataclass(frozen=True)
class Launch:
    """How the host starts one command of the environment."""

    argv: list[str]
    environ: Mapping[str, str]  # the started process's whole environment
    cwd: Path | None = None  # on the host (None: a container's own working folder is in argv)
    where: str = ""  # shown before the command in its log, e.g. "[container-name] "
    # Through a container's command server instead: ``argv`` and ``environ`` are then the
    # command's own (the environment added to the container's) and ``workdir`` its folder.
    channel: Channel | None = None
    workdir: str = "/"


class Commands(Protocol):
    """``run`` and ``capture`` for a runner that can :meth:`_launch` a command."""

    def _launch(
        self, cmd: list[str], env: Mapping[str, str] | None, cwd: Path | None
    ) -> Launch: ...

    def _landed(self) -> None:
        """After every command (whatever its status): nothing, unless a runner needs it."""
        return None

    def outside(self, text: str) -> str: ...

    def run(
        self,
        cmd: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Run ``cmd`` with its output appended to ``log``; return its exit status.
        ``env`` adds to the runner's own variables (never the ``SECRET_VARIABLES``)."""
        launch = self._launch(cmd, env, cwd)
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log.open("ab") as fh:
                fh.write(f"$ {launch.where}{shlex.join(cmd)}\n".encode())
                fh.flush()
                if launch.channel is not None:
                    call = launch.channel.start(launch.argv, launch.environ, launch.workdir, out=fh)
                    return call.wait()
                return subprocess.run(
                    launch.argv,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env=dict(launch.environ),
                    cwd=launch.cwd,
                    stdin=subprocess.DEVNULL,
                ).returncode
        finally:
            self._landed()

    def capture(
        self,
        cmd: list[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` and return its output (for probes and resolution), with the
        environment's paths in it mapped to the host's."""
        launch = self._launch(cmd, env, cwd)
        if launch.channel is not None:
            out, err = io.BytesIO(), io.BytesIO()
            try:
                call = launch.channel.start(
                    launch.argv, launch.environ, launch.workdir, out=out, err=err
                )
                code = wait_or_kill(call, timeout)
            finally:
                self._landed()
            stdout, stderr = (_text(b.getvalue()) for b in (out, err))
            return subprocess.CompletedProcess(cmd, code, self.outside(stdout), stderr)
        try:
            result = subprocess.run(
                launch.argv,
                capture_output=True,
                text=True,
                env=dict(launch.environ),
                cwd=launch.cwd,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        finally:
            self._landed()
        return subprocess.CompletedProcess(
            cmd, result.returncode, self.outside(result.stdout), result.stderr
        )


def _text(data: bytes) -> str:
    """Output as ``subprocess.run(text=True)`` gives it: decoded, universal newlines."""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
