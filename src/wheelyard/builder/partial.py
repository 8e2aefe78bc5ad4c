"""Resolving only the pins that changed. When the yard holds no record of this exact set but
one of the same set with other pins (every other input the same: the key of
:func:`~wheelyard.builder.yardrecord.inputs_key` without the requirement lines), each line the
two share keeps the entry that run resolved, and uv resolves the changed lines alone, with the
shared ones as constraints: a one-pin change asks about one project, not the whole set (each
sdist of which would have its metadata built again).

Only for a set pinned throughout, both now and then (then: every entry carries its
Requires-Dist, read from the wheels that run made or took). The result must be what resolving
the whole set gives; else None and the set is resolved whole: a changed line needing anything
the files do not pin, an interpreter the record lacks, an entry of the earlier closure no
line names, or a kept entry whose requirements the new pins no longer meet.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from email.parser import HeaderParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from wheelyard.builder import uv as uvtool
from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.pinned import Pinned
from wheelyard.builder.resolve import Resolved
from wheelyard.builder.runners import Runner
from wheelyard.builder.yardrecord import Record
from wheelyard.errors import InvalidInput


def _reachable(url: str) -> bool:
    """An index's URL, or a local file that exists here."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path)).is_file()
    return url.startswith(("https://", "http://"))


def _name(line: str) -> str:
    return canonicalize_name(Requirement(line.split(" --", 1)[0]).name)


def _constraint(req: Requirement) -> str:
    """A pinned line as a constraint (constraints take no extras)."""
    pin = f"{req.name} @ {req.url}" if req.url else f"{req.name}{req.specifier}"
    return f"{pin} ; {req.marker}" if req.marker else pin


def _met(
    entry: Resolved, closure: Mapping[str, Resolved], interp: Interpreter, extras: set[str]
) -> bool:
    """Whether every requirement of ``entry`` that applies to ``interp`` is in ``closure`` at
    a version it accepts."""
    environment = interp.marker_environment
    for text in entry.requires:
        dep = Requirement(text)
        wanted = ["", *sorted(extras)]
        if dep.marker is not None and not any(
            dep.marker.evaluate({**environment, "extra": e}) for e in wanted
        ):
            continue
        found = closure.get(canonicalize_name(dep.name))
        if found is None or not dep.specifier.contains(found.version, prereleases=True):
            return False
    return True


def resolve_changed(
    uv: Sequence[str],
    interps: Sequence[Interpreter],
    requirements: Path,
    pinned: Pinned,
    earlier: Record,
    runner: Runner,
    env: Mapping[str, str],
    pip_args: Sequence[str],
) -> tuple[dict[Interpreter, list[Resolved]], int] | None:
    """Each interpreter's closure and how many lines were asked about; None when the set must
    be resolved whole (see the module's note)."""
    if not earlier.lines or not all(i.markers for i in interps):
        return None
    before: dict[Interpreter, tuple[Resolved, ...]] = {}
    for interp in interps:
        recorded = earlier.resolutions.get(interp.record_key)
        if recorded is None:
            return None
        before[interp] = recorded
    try:
        named_then = {_name(line) for line in earlier.lines}
    except InvalidRequirement:
        return None
    if any(r.name not in named_then for entries in before.values() for r in entries):
        return None
    then = set(earlier.lines)
    changed = [line for line in sorted(pinned.lines) if line not in then]
    kept = {canonicalize_name(pinned.lines[line].name) for line in pinned.lines if line in then}
    result = {i: [r for r in before[i] if r.name in kept] for i in interps}
    if not all(_reachable(r.url) for entries in result.values() for r in entries):
        return None  # the record names another machine's files
    if changed:
        found = _ask(uv, interps, requirements, pinned, changed, runner, env, pip_args)
        if found is None:
            return None
        asked = {canonicalize_name(pinned.lines[line].name) for line in changed}
        for interp, answer in found.items():
            if any(r.name not in pinned.names for r in answer):
                return None  # a changed line needs something unpinned: resolve all
            result[interp] += [r for r in answer if r.name in asked]
    extras = {canonicalize_name(r.name): set(r.extras) for r in pinned.lines.values()}
    for interp, entries in result.items():
        by_name: dict[str, Resolved] = {r.name: r for r in entries}
        kept_entries = [r for r in entries if r.name in kept]
        if not all(_met(r, by_name, interp, extras.get(r.name, set())) for r in kept_entries):
            return None  # a kept project needs what the changed pins no longer give
    ordered = {i: sorted(c, key=lambda r: r.name) for i, c in result.items()}
    return ordered, len(changed)


def _ask(
    uv: Sequence[str],
    interps: Sequence[Interpreter],
    requirements: Path,
    pinned: Pinned,
    changed: Sequence[str],
    runner: Runner,
    env: Mapping[str, str],
    pip_args: Sequence[str],
) -> dict[Interpreter, list[Resolved]] | None:
    """uv's closure of the changed lines alone, the other pins as constraints (beside the
    original file, so relative options mean the same); None when uv could not."""
    folder = requirements.parent
    others = [_constraint(req) for line, req in sorted(pinned.lines.items()) if line not in changed]
    files = []
    try:
        for prefix, lines in ((".wheelyard-changed-", [*pinned.options, *changed]),
                              (".wheelyard-kept-", others)):  # fmt: skip
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".txt", dir=folder)
            with os.fdopen(fd, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            files.append(Path(name))
        args = [*pip_args, "--constraint", str(files[1])]
        if len(interps) == 1:
            return {interps[0]: uvtool.resolve(uv, interps[0], files[0], runner, env, args)}
        return uvtool.resolve_universal(uv, interps, files[0], runner, env, args)
    except InvalidInput:
        return None  # resolving the whole set says what is wrong, naming the real file
    finally:
        for path in files:
            path.unlink(missing_ok=True)


def _wheel_requires(wheel: Path) -> tuple[tuple[str, str], tuple[str, ...]] | None:
    """(name, version) of a wheel and its Requires-Dist, from its METADATA."""
    try:
        name, version, _build, _tags = parse_wheel_filename(wheel.name)
        with zipfile.ZipFile(wheel) as zf:
            found = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if not found:
                return None
            message = HeaderParser().parsestr(zf.read(found[0]).decode("utf-8", "replace"))
    except (OSError, ValueError, zipfile.BadZipFile, InvalidWheelFilename):
        return None
    return (name, str(version)), tuple(message.get_all("Requires-Dist") or ())


def with_requires(
    resolutions: Mapping[str, Sequence[Resolved]], wheels: Sequence[Path]
) -> dict[str, tuple[Resolved, ...]] | None:
    """The closures with every entry's Requires-Dist read from its wheel among ``wheels``;
    None when an entry has none there (its requirements are then unknown)."""
    known = {}
    for wheel in wheels:
        read = _wheel_requires(wheel)
        if read is not None:
            known[read[0]] = read[1]
    result: dict[str, tuple[Resolved, ...]] = {}
    for interp, closure in resolutions.items():
        entries = []
        for entry in closure:
            try:
                requires = known.get((entry.name, str(Version(entry.version))))
            except InvalidVersion:
                return None
            if requires is None:
                return None
            entries.append(dataclasses.replace(entry, requires=requires))
        result[interp] = tuple(entries)
    return result
