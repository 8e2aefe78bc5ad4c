"""Container engines: the one to use (chosen, or the first of docker and podman that
*answers*: a CLI without a running daemon does not count), and its known start-up failures
turned into one line that names the fix."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from wheelyard.errors import EngineFailed, InvalidInput

ENGINES = ("docker", "podman")
VARIABLE = "WHEELYARD_CONTAINER_ENGINE"
# podman on hosts with a hybrid cgroup hierarchy and low hard limits (what CONTAINERS.md found)
_PODMAN_FIX = (
    "install runc and point CONTAINERS_CONF at a containers.conf with "
    '`default_ulimits = []` under [containers] and `runtime = "runc"` under [engine] '
    "(see the README's container section)"
)
_LIMITS = "the engine's default ulimits exceed this machine's hard limits"
_NO_DAEMON = (
    "no docker daemon answers there",
    "start dockerd (or the docker service), or point DOCKER_HOST at the socket or tcp:// "
    "address where yours listens",
)
# (engine or "" for any, what its output says, the cause, the fix: None for the engine's own)
_KNOWN: tuple[tuple[str, str, str, str | None], ...] = (
    (
        "",
        "cgroups in hybrid mode not supported",
        "the default OCI runtime (crun) cannot run here",
        None,
    ),
    ("", "setrlimit", _LIMITS, None),
    ("", "error setting rlimit", _LIMITS, None),
    ("docker", "Cannot connect to the Docker daemon", *_NO_DAEMON),
    ("docker", "error during connect", *_NO_DAEMON),
    (
        "docker",
        "permission denied while trying to connect to the Docker daemon",
        "this user may not use the docker daemon's socket",
        "add the user to the docker group (and log in again), use rootless docker, or podman",
    ),
)
_OWN_FIX = {"podman": _PODMAN_FIX, "docker": "lower the daemon's default ulimits"}


@dataclass(frozen=True)
class Engine:
    name: str  # docker or podman
    executable: str
    environ: Mapping[str, str]  # what every call of the engine gets (CONTAINERS_CONF …)

    def command(self, *args: str) -> list[str]:
        return [self.executable, *args]

    def call(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=dict(self.environ),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def check(self, result: subprocess.CompletedProcess[str], doing: str) -> str:
        """``result``'s stdout, or :class:`EngineFailed` saying what went wrong and, for a
        known failure, how to fix it."""
        if result.returncode == 0:
            return result.stdout
        raise EngineFailed(explain(self.name, doing, result.stderr or result.stdout))


def explain(engine: str, doing: str, output: str) -> str:
    """One line for a failed engine call: the known cause and its fix, else the last line."""
    last = next((line for line in reversed(output.strip().splitlines()) if line.strip()), "")
    for which, marker, cause, fix in _KNOWN:
        if which in ("", engine) and marker in output:
            where = _daemon(output) if which else ""
            fix = fix or _OWN_FIX.get(engine, "see the engine's documentation")
            return f"{engine} could not {doing}: {cause}{where}; fix: {fix}"
    return f"{engine} could not {doing}: {last or 'no output'}"


def _daemon(output: str) -> str:
    """`` (unix:///…)`` when the output names the daemon's address."""
    found = re.search(r"(unix|tcp|ssh|npipe)://[^\s\"']+", output)
    return f" ({found.group().rstrip('.:')})" if found else ""


# (executable, its whole environment) that answered: `info` takes 0.3-0.5 s, and a run with
# the default runner asks twice (which runner, then the runner itself)
_ANSWERED: set[tuple[str, frozenset[tuple[str, str]]]] = set()


def _answers(name: str, executable: str, environ: Mapping[str, str]) -> str | None:
    """None when ``<engine> info`` works (or worked before, with the same variables), else
    why not."""
    key = (executable, frozenset(environ.items()))
    if key in _ANSWERED:
        return None
    try:
        result = subprocess.run(
            [executable, "info"],
            capture_output=True,
            text=True,
            env=dict(environ),
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode == 0:
        _ANSWERED.add(key)
        return None
    return explain(name, "answer `info`", result.stderr or result.stdout)


def find(chosen: str | None, environ: Mapping[str, str]) -> Engine:
    """The engine ``chosen`` names (it must answer), or the first of :data:`ENGINES` that
    answers. Raises :class:`EngineFailed` saying what was tried."""
    if chosen is not None and chosen not in ENGINES:
        raise InvalidInput(f"unknown container engine {chosen!r} (known: {', '.join(ENGINES)})")
    tried = []
    for name in (chosen,) if chosen else ENGINES:
        executable = shutil.which(name, path=environ.get("PATH"))
        if executable is None:
            tried.append(f"{name}: not installed")
            continue
        why = _answers(name, executable, environ)
        if why is None:
            return Engine(name, executable, environ)
        tried.append(why)
    raise EngineFailed("no container engine answers (" + "; ".join(tried) + ")")
