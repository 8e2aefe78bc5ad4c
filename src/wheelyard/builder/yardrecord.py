"""The yard as the builder's incremental store, so that a fresh clone (empty wheelhouse, no
pip cache, no ``.cache/``) skips what an earlier run already did: each interpreter's
resolution and the verification record are stored beside the label the run published
(``/api/build-records``), under a hash of every input of the run — the requirements folder's
files, the settings, where it runs (the host, or the engine, image and its digest), every
interpreter's implementation, version and platforms (not its path), and pip's configuration
(less what changes no resolution, such as its cache folder). Same key, same answers:
a rerun asks the yard once and neither resolves nor verifies again.

A resolution is taken from the record only for a set pinned throughout (a range may pick a
newer release today); a verification only for the exact wheel set that passed (its hash
names every wheel's bytes, builder/verified.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.pinned import How, Pinned, Resolution
from wheelyard.builder.resolve import Resolved
from wheelyard.builder.settings import BuildSettings
from wheelyard.builder.uv import HARMLESS, pip_settings

FORMAT = 1
REQUIREMENTS = "requirements.txt"
# Files of the requirements folder that feed a run (requirements, constraints, build
# requirements, build-setup.sh, the settings file).
_INPUT_PATTERNS = ("*.txt", "*.in", "*.toml", "*.cfg", "build-setup.sh")
# Settings that say where results go or how fast, not what they are.
_NOT_INPUTS = {"url", "owner", "label", "wheelhouse", "jobs", "source"}


def _folder_files(folder: Path) -> list[tuple[str, bytes]]:
    found: dict[str, bytes] = {}
    for pattern in _INPUT_PATTERNS:
        for path in folder.glob(pattern):
            if path.is_file():
                found[path.name] = path.read_bytes()
    return sorted(found.items())


def _settings_json(settings: BuildSettings) -> str:
    fields = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if f.name not in _NOT_INPUTS
    }
    plain = json.loads(json.dumps(fields, default=_plain))
    return json.dumps(plain, sort_keys=True)


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    return str(value)


def inputs_key(
    folder: Path,
    settings: BuildSettings,
    where: str,
    interpreters: Sequence[Interpreter],
    environ: Mapping[str, str],
    pinned: Pinned | None = None,
) -> str:
    """The hash of every input of a run (see the module's note). With ``pinned`` (the set in
    requirements.txt, pinned throughout): of every input but its requirement lines, which
    then key an earlier run's record of the same set with other pins (builder/partial.py)."""
    kind = " without pins" if pinned is not None else ""
    h = hashlib.sha256(f"wheelyard build record {FORMAT}{kind}\0{where}\0".encode())
    for name, content in _folder_files(folder):
        if pinned is not None and name == REQUIREMENTS:
            content = "\n".join(pinned.options).encode()  # its options, not its pins
        h.update(f"{name}\0{len(content)}\0".encode() + content)
    h.update(_settings_json(settings).encode() + b"\0")
    for interp in sorted(interpreters):
        h.update(f"{interp.record_key}\0{' '.join(interp.platforms)}\0".encode())
    # pip's configuration, files and PIP_* variables, but not what changes no resolution (a
    # CI's fresh PIP_CACHE_DIR, say)
    pip = {k: v for k, v in pip_settings(environ).items() if k not in HARMLESS}
    h.update(json.dumps(pip, sort_keys=True).encode())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class Record:
    """What the yard keeps for one key: per interpreter (by ``Interpreter.record_key``) its
    closure and the hash of the wheel set that passed verification."""

    resolutions: Mapping[str, tuple[Resolved, ...]]
    verified: Mapping[str, str]
    # The requirement lines of a set pinned throughout whose closures' entries all carry
    # their Requires-Dist (read from the wheels): what a run with other pins may build on.
    lines: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "resolutions": {
                k: [{**asdict(r), "requires": list(r.requires)} for r in v]
                for k, v in sorted(self.resolutions.items())
            },
            "verified": dict(sorted(self.verified.items())),
            "lines": list(self.lines),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record | None:
        """The record, or None for one of another format or shape."""
        if data.get("format") != FORMAT:
            return None
        try:
            resolutions = {
                str(k): tuple(
                    Resolved(**{**r, "requires": tuple(r.get("requires") or ())}) for r in v
                )
                for k, v in dict(data.get("resolutions") or {}).items()
            }
            verified = {str(k): str(v) for k, v in dict(data.get("verified") or {}).items()}
            lines = tuple(str(line) for line in data.get("lines") or ())
        except (TypeError, ValueError, AttributeError):
            return None
        return cls(resolutions, verified, lines)

    def resolutions_for(
        self, interpreters: Sequence[Interpreter]
    ) -> dict[Interpreter, Resolution] | None:
        """Every interpreter's closure, or None unless the record has all of them."""
        found = {}
        for interp in interpreters:
            closure = self.resolutions.get(interp.record_key)
            if closure is None:
                return None
            found[interp] = Resolution(closure, How.YARD)
        return found
