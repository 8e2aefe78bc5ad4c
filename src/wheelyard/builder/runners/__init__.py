"""Where interpreters live and commands run: the ``Runner`` protocol and the registry that
picks an implementation by the ``runner`` setting (``--runner``, ``WHEELYARD_RUNNER``).

Everything the builder runs — probing interpreters, resolving, building, repairing,
verifying, build-setup.sh — goes through a runner passed in explicitly; nothing falls back to
the host on its own. The planner only sees a runner's results as data (an interpreter's
version, pip and platform tags). A new environment (a container with manylinux images, the
project folder and the wheelhouse shared at the same paths) is one module implementing
``Runner`` plus one entry in ``RUNNERS``, as cibuildwheel's platform modules are.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Protocol

from wheelyard.builder.runners.host import HostRunner
from wheelyard.builder.secret import SECRET_VARIABLES
from wheelyard.errors import InvalidInput

__all__ = ["DEFAULT", "RUNNERS", "SECRET_VARIABLES", "Runner", "make_runner"]


class Runner(Protocol):
    """A build environment. Paths are shared: a folder passed to :meth:`share` (the project
    folder, the wheelhouse) and a :meth:`scratch` folder mean the same files to commands run
    here and to wheelyard, so nothing is copied in or out."""

    name: str

    def __enter__(self) -> Runner:
        """Start the environment (the host: nothing to start)."""

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop it; what was written to shared folders stays."""

    def share(self, *folders: Path) -> None:
        """Make host folders visible to commands at the same paths, before the first command
        that uses them (the host sees everything already)."""

    def scratch(self, prefix: str) -> AbstractContextManager[Path]:
        """A temporary folder both sides see, removed when the block ends."""

    def run(
        self,
        cmd: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Run ``cmd`` with its output appended to ``log``; return its exit status.
        ``env`` adds to the runner's own variables (never the ``SECRET_VARIABLES``)."""

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

    def repair_command(self) -> tuple[list[str], dict[str, str]]:
        """The auditwheel command line and the variables it needs (patchelf on PATH)."""


# setting value → factory; a factory gets the variables commands start from.
RUNNERS: dict[str, Callable[[Mapping[str, str]], Runner]] = {"host": HostRunner}
DEFAULT = "host"


def make_runner(name: str, environ: Mapping[str, str]) -> Runner:
    """The runner the ``runner`` setting names, starting commands from ``environ``."""
    try:
        factory = RUNNERS[name]
    except KeyError:
        known = ", ".join(sorted(RUNNERS))
        raise InvalidInput(f"unknown runner {name!r} (known: {known})") from None
    return factory(environ)
