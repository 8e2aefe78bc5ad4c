"""Where interpreters live and commands run: the ``Runner`` protocol and the registry that
picks an implementation by the ``runner`` setting (``--runner``, ``WHEELYARD_RUNNER``;
``--container`` selects ``container``). The default, ``auto``, builds in a container where
docker or podman answers and on the host only where none does (:func:`decide`, which says why).

Everything the builder runs — probing interpreters, resolving, building, repairing,
verifying, build-setup.sh — goes through a runner passed in explicitly; nothing falls back to
the host on its own. The planner only sees a runner's results as data (an interpreter's
version, pip and platform tags). A new environment is one module implementing ``Runner`` plus
one entry in ``RUNNERS``, as cibuildwheel's platform modules are: ``host`` runs here,
``container`` in a manylinux (or any) image through docker or podman.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Protocol

from wheelyard.builder.runners import engines
from wheelyard.builder.runners.commands import Commands
from wheelyard.builder.runners.container import ContainerRunner
from wheelyard.builder.runners.host import HostRunner
from wheelyard.builder.runners.images import DEFAULT as DEFAULT_IMAGE
from wheelyard.builder.secret import SECRET_VARIABLES
from wheelyard.builder.settings import BuildSettings
from wheelyard.errors import EngineFailed, InvalidInput

__all__ = ["AUTO", "DEFAULT", "RUNNERS", "SECRET_VARIABLES", "Runner", "decide", "make_runner"]


class Runner(Commands, Protocol):
    """A build environment. Paths are mapped explicitly: callers write command lines, working
    directories and variables with *host* paths of folders passed to :meth:`share` (the
    project folder, the wheelhouse) or of a :meth:`scratch` folder; the runner rewrites them to
    where its commands see those files (the host: the same paths; a container: its mounts),
    and :meth:`outside` maps its paths in text read back to the host's. Files written there
    are on the host at the host path; nothing else is shared. Interpreter executables are
    the environment's own paths. ``run`` and ``capture`` (one command, its output to a log or
    returned) come from :class:`~wheelyard.builder.runners.commands.Commands`."""

    name: str
    # Commands start from tool caches of their own that vanish with the environment (a
    # container): caches worth keeping are put in a shared folder instead.
    ephemeral: bool

    def __enter__(self) -> Runner:
        """Get ready (the host: nothing to do; a container: find the engine)."""

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop and remove what was started; what was written to shared folders stays."""

    def release(self) -> None:
        """The run's commands are over: begin removing what was started, so that removal
        overlaps what follows (the upload); ``__exit__`` still waits for it. No command may
        run afterwards."""

    def share(self, *folders: Path) -> None:
        """Make host folders visible to commands, before the first command that uses them."""

    def scratch(self, prefix: str) -> AbstractContextManager[Path]:
        """A temporary host folder commands see too, removed when the block ends."""

    def outside(self, text: str) -> str:
        """``text`` (a path or URL the environment printed or wrote) with the host's paths."""

    def glob(self, pattern: str) -> list[Path]:
        """Existing paths matching a shell pattern (or a plain path), as commands see them."""

    def interpreter_candidates(self) -> list[Path]:
        """Executables worth probing for CPython, in order of preference."""

    def repair_command(self) -> tuple[list[str], dict[str, str]]:
        """The auditwheel command line and the variables it needs (patchelf on PATH)."""

    @property
    def identity(self) -> str:
        """What verification ran in, for its record (``host``, or engine, image and digest)."""

    def variant(self, image: str) -> Runner:
        """Where a package that names its own build image builds: for a container runner, a
        second container of that image, started on first use and removed with this runner
        (itself for the same image); the host has no images."""

    def pristine(self) -> Runner:
        """Where commands may run untouched by a build-setup.sh running here meanwhile (the
        set's resolution): a container runner's verify container when it is of the same
        image, so the script can start ahead; this runner itself where there is none such
        (the host: the script's effects there are the machine's, so it never starts ahead)."""

    def clean(self) -> AbstractContextManager[Runner]:
        """Where to verify: an environment without what build-setup.sh installed (the host:
        itself; a container runner: a fresh container of the verify image)."""


def _host(settings: BuildSettings, environ: Mapping[str, str]) -> Runner:
    return HostRunner(environ)


def _container(settings: BuildSettings, environ: Mapping[str, str]) -> Runner:
    return ContainerRunner(
        environ,
        settings.container or DEFAULT_IMAGE,
        settings.container_engine,
        settings.verify_image,
        transfer_mode=settings.container_transfer,
        network=settings.container_network,
    )


# setting value → factory; a factory gets the settings and the variables commands start from.
RUNNERS: dict[str, Callable[[BuildSettings, Mapping[str, str]], Runner]] = {
    "host": _host,
    "container": _container,
}
AUTO = "auto"
DEFAULT = AUTO


def decide(settings: BuildSettings, environ: Mapping[str, str]) -> tuple[BuildSettings, str]:
    """``settings`` with ``runner = "auto"`` made concrete — ``container`` when docker or podman
    (or the named engine) answers, else ``host`` — and one line saying why ("" when the runner
    was named)."""
    if settings.runner != AUTO:
        return settings, ""
    try:
        engine = engines.find(settings.container_engine, environ)
    except EngineFailed:
        which = settings.container_engine or "docker or podman"
        why = (
            f"no {which} answers here"
            if not settings.container_engine
            else f"{which} does not answer here"
        )
        return dataclasses.replace(settings, runner="host"), why
    return dataclasses.replace(settings, runner="container"), f"{engine.name} answers here"


def make_runner(settings: BuildSettings, environ: Mapping[str, str]) -> Runner:
    """The runner the ``runner`` setting names (``auto``: see :func:`decide`), starting
    commands from ``environ``."""
    settings, _why = decide(settings, environ)
    try:
        factory = RUNNERS[settings.runner]
    except KeyError:
        known = ", ".join(sorted([*RUNNERS, AUTO]))
        raise InvalidInput(f"unknown runner {settings.runner!r} (known: {known})") from None
    return factory(settings, environ)
