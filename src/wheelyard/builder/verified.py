"""The record of passed verifications, kept in the wheelhouse: per interpreter, the hash of
the exact set of wheels (names and bytes), the pins, the test commands and what it was
verified in (the host, or a container engine, image and the image's digest), which is also
written out beside the hash. An unchanged rerun finds its hash there and does not verify
again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from wheelyard.builder.interpreters import Interpreter
from wheelyard.digest import file_sha256

RECORD = ".verified.json"


def set_hash(
    interp: Interpreter,
    pins: Sequence[str],
    wheels: Iterable[Path],
    tests: Mapping[str, str],
    environment: str = "host",
) -> str:
    h = hashlib.sha256()
    if environment != "host":  # (host hashes stay what they were)
        h.update(f"{environment}\0".encode())
    h.update(f"{interp.record_key}\0".encode())
    h.update("\n".join(sorted(pins)).encode() + b"\0")
    for wheel in sorted(set(wheels), key=lambda p: p.name):
        h.update(f"{wheel.name}\0{file_sha256(wheel)}\0".encode())
    for project, command in sorted(tests.items()):
        h.update(f"{project}\0{command}\0".encode())
    return h.hexdigest()


def _load(wheelhouse: Path) -> dict[str, str | dict[str, str]]:
    try:
        data = json.loads((wheelhouse / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_verified(wheelhouse: Path, interp: Interpreter, digest: str) -> bool:
    entry = _load(wheelhouse).get(str(interp.executable))
    return (entry.get("digest") if isinstance(entry, dict) else entry) == digest


def record(wheelhouse: Path, interp: Interpreter, digest: str, environment: str = "host") -> None:
    """Remember a pass; written atomically (a rename), so a killed run leaves no half record."""
    entry: str | dict[str, str] = digest
    if environment != "host":
        entry = {"digest": digest, "environment": environment}
    data = {**_load(wheelhouse), str(interp.executable): entry}
    tmp = wheelhouse / (RECORD + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(wheelhouse / RECORD)
