"""Resolving ``requirements.txt`` for one interpreter with that interpreter's own pip
(``pip install --dry-run --report``), so markers, requires-python and wheel tags are judged by
the Python that will run the result, and the user's pip configuration applies."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.utils import NormalizedName, canonicalize_name

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.runners import Runner
from wheelyard.errors import InvalidInput


@dataclass(frozen=True)
class Resolved:
    """One distribution of the closure, as pip chose it."""

    name: NormalizedName
    version: str
    filename: str
    url: str
    requires: tuple[str, ...] = ()  # Requires-Dist, to check a partial resolution
    requires_python: str | None = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


def check(
    result: subprocess.CompletedProcess[str], tool: str, requirements: Path, pythons: str
) -> None:
    """A resolver's failure as one error naming the file and the Python version(s) it
    resolved for, with its last lines."""
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise InvalidInput(
            f"{tool} could not resolve {requirements.name} for Python {pythons}:\n{tail}"
        )


def resolve(
    interp: Interpreter,
    requirements: Path,
    runner: Runner,
    env: Mapping[str, str],
    pip_args: list[str] | None = None,
) -> list[Resolved]:
    """The full closure pip would install from ``requirements`` for ``interp``. ``env`` is
    the environment pip's configuration was read from (the runner's); commands get the
    runner's own, not ``env`` again."""
    with runner.scratch("wheelyard-resolve-") as tmp:
        report = tmp / "report.json"
        cmd = [
            str(interp.executable),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--disable-pip-version-check",
            "--quiet",
            "--report",
            str(report),
            "-r",
            str(requirements),
            *(pip_args or []),
        ]
        # A dry run changes nothing, so PEP 668's guard on system interpreters does not apply.
        # Only that: the runner starts commands from its own environment (a container's
        # holds pip's portable settings, never the host's PATH, HOME or other paths).
        run_env = {"PIP_BREAK_SYSTEM_PACKAGES": "1"}
        result = runner.capture(cmd, env=run_env, cwd=requirements.parent)
        check(result, "pip", requirements, interp.minor)
        data = json.loads(report.read_text())
    resolved = []
    for item in data.get("install", []):
        url = runner.outside(item["download_info"]["url"])  # a local file: the host's path
        filename = unquote(Path(urlparse(url).path).name)
        meta = item["metadata"]
        requires = tuple(meta.get("requires_dist") or ())
        name = canonicalize_name(meta["name"])
        requires_python = meta.get("requires_python")
        resolved.append(Resolved(name, meta["version"], filename, url, requires, requires_python))
    return sorted(resolved, key=lambda r: r.name)
