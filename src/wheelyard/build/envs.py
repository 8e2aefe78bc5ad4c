"""Where builds run. The host for now; a container environment (docker/podman with manylinux
images) can implement the same two methods without the planner or executor changing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

# Never handed to build-setup.sh or a build: uploading is the executor's job, not the build's.
SECRET_VARIABLES = ("WHEELYARD_TOKEN",)


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


class HostEnvironment:
    name = "host"

    def __init__(self, base: Mapping[str, str] | None = None) -> None:
        source = os.environ if base is None else base
        self.base = {k: v for k, v in source.items() if k not in SECRET_VARIABLES}

    def run(
        self,
        cmd: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        merged = {**self.base, **(env or {})}
        for name in SECRET_VARIABLES:
            merged.pop(name, None)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as fh:
            fh.write(f"$ {' '.join(cmd)}\n".encode())
            fh.flush()
            return subprocess.run(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=merged,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
            ).returncode
