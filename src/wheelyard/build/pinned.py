"""Reusing a resolution when the requirements are fully pinned.

Resolving sdists makes pip build their metadata, seconds each, for every interpreter. When
the whole closure is pinned in the files (``==`` or a direct URL, as pip-compile writes it)
and neither the files nor pip's configuration changed, the closure cannot differ, so a
rerun takes it from ``<wheelhouse>/.cache/``. Ranges, editables or anything unreadable mean:
resolve again (and so does ``--refresh``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelyard.build.interpreters import Interpreter
from wheelyard.build.resolve import Resolved

_INCLUDES = ("-r", "--requirement", "-c", "--constraint")


class _Unpinned(Exception):
    pass


def _logical_lines(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    lines = []
    for line in joined.splitlines():
        # pip: a comment starts at "#" at the line start or after whitespace
        if line.lstrip().startswith("#"):
            continue
        cut = line.find(" #")
        lines.append((line[:cut] if cut >= 0 else line).strip())
    return [line for line in lines if line]


def _pinned_name(requirement: str) -> str | None:
    """The project a requirement pins exactly, or None."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return None
    specs = list(req.specifier)
    exact = len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version
    return canonicalize_name(req.name) if req.url or exact else None


def _walk(path: Path, texts: dict[str, str], pinned: set[str], constraints: bool = False) -> None:
    """Collect the text of ``path`` and its includes and the projects they pin; raise
    _Unpinned at a loose requirement (constraints may be loose: they only narrow)."""
    text = path.read_text()
    texts[str(path.resolve())] = text
    for line in _logical_lines(text):
        if line.startswith("-"):
            words = shlex.split(line)
            option, _, inline = words[0].partition("=")
            if option in ("-e", "--editable"):
                raise _Unpinned
            if option in _INCLUDES:
                target = inline or (words[1] if len(words) > 1 else "")
                include = (path.parent / target).resolve()
                if not include.is_file():
                    raise _Unpinned  # a remote include: cannot tell whether it changed
                if str(include) not in texts:
                    _walk(include, texts, pinned, constraints or option in ("-c", "--constraint"))
            continue
        name = _pinned_name(line.split(" --", 1)[0].strip())
        if name is not None:
            pinned.add(name)
        elif not constraints:
            raise _Unpinned


def _pip_configuration() -> str:
    """Everything of pip's configuration that could change a resolution."""
    parts = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("PIP_")]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidates = [
        os.environ.get("PIP_CONFIG_FILE", ""),
        "/etc/pip.conf",
        "/etc/xdg/pip/pip.conf",
        str(config_home / "pip" / "pip.conf"),
        str(Path.home() / ".pip" / "pip.conf"),
        os.path.join(os.environ.get("VIRTUAL_ENV", "/nonexistent"), "pip.conf"),
    ]
    for name in candidates:
        if name and os.path.isfile(name):
            parts.append(f"{name}\0{Path(name).read_text(errors='replace')}")
    return "\n".join(parts)


def cache_key(interp: Interpreter, requirements: Path) -> tuple[str, frozenset[str]] | None:
    """A key for ``requirements`` resolved by ``interp`` and the projects the files pin;
    None when a rerun must resolve."""
    texts: dict[str, str] = {}
    pinned: set[str] = set()
    try:
        _walk(requirements, texts, pinned)
    except (_Unpinned, OSError, ValueError):
        return None
    h = hashlib.sha256()
    h.update(f"{interp.executable}\0{'.'.join(map(str, interp.version))}\0".encode())
    for name, text in sorted(texts.items()):
        h.update(f"{name}\0{text}\0".encode())
    h.update(_pip_configuration().encode())
    return h.hexdigest(), frozenset(pinned)


def resolve_pinned(
    interp: Interpreter,
    requirements: Path,
    cache_dir: Path,
    resolver: Callable[[Interpreter, Path], list[Resolved]],
    refresh: bool = False,
) -> tuple[list[Resolved], bool]:
    """The closure, and whether it came from the cache."""
    found = cache_key(interp, requirements)
    key = found[0] if found else None
    entry = cache_dir / f"resolve-{interp.tag}.json"
    if key and not refresh:
        try:
            data = json.loads(entry.read_text())
            if data.get("key") == key:
                return [Resolved(**item) for item in data["closure"]], True
        except (OSError, ValueError, TypeError, KeyError):
            pass
    closure = resolver(interp, requirements)
    # Only a closure pinned throughout is reusable: an unpinned dependency may move upstream.
    if found and {r.name for r in closure} <= found[1]:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(entry.name + ".tmp")
        entry_data = {"key": found[0], "closure": [vars(r) for r in closure]}
        tmp.write_text(json.dumps(entry_data))
        tmp.replace(entry)
    return closure, False
