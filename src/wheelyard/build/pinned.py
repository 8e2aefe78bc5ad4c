"""Reusing resolutions of a requirements set pinned throughout.

Resolving sdists makes pip build their metadata, seconds each, for every interpreter. When
every requirement is pinned (``==`` or a direct URL, as pip-compile writes it) and the
closure holds nothing the files do not pin, the closure is exactly the pinned lines whose
markers apply. So each line's resolution is kept (``<wheelhouse>/.cache/``) and a rerun asks
pip only about the lines that changed (``--no-deps``), provided the options, the constraint
files, pip's configuration and the interpreter are unchanged and the new lines need nothing
unpinned. Anything else — ranges, editables, remote includes, ``--refresh`` — means: let pip
resolve everything again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.interpreters import Interpreter
from wheelyard.build.resolve import Resolved, resolve_report
from wheelyard.yard.errors import InvalidInput

_INCLUDES = ("-r", "--requirement", "-c", "--constraint")


class _Unpinned(Exception):
    pass


@dataclass
class Pinned:
    """A requirements set read as pip would, split into what can change independently."""

    options: list[str] = field(default_factory=list)  # index options, -c lines …
    texts: dict[str, str] = field(default_factory=dict)  # constraint files: part of the key
    lines: dict[str, Requirement] = field(default_factory=dict)  # requirement lines

    @property
    def names(self) -> set[str]:
        return {canonicalize_name(r.name) for r in self.lines.values()}


def _logical_lines(text: str) -> list[str]:
    lines = []
    for line in text.replace("\\\n", " ").splitlines():
        # pip: a comment starts at "#" at the line start or after whitespace
        if line.lstrip().startswith("#"):
            continue
        cut = line.find(" #")
        lines.append(" ".join((line[:cut] if cut >= 0 else line).split()))
    return [line for line in lines if line]


def _exact(req: Requirement) -> bool:
    specs = list(req.specifier)
    exact = len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version
    return bool(req.url) or exact


def _walk(path: Path, top: Path, into: Pinned, constraints: bool = False) -> None:
    text = path.read_text()
    if constraints:
        into.texts[str(path)] = text  # loose constraints only narrow; their text is the key
        return
    for line in _logical_lines(text):
        if line.startswith("-"):
            words = shlex.split(line)
            option, _, inline = words[0].partition("=")
            if option in ("-e", "--editable"):
                raise _Unpinned
            if option in _INCLUDES:
                target = inline or (words[1] if len(words) > 1 else "")
                include = (path.parent / target).resolve()
                # Another folder would make relative options ambiguous; a URL cannot be read.
                if not include.is_file() or include.parent != top:
                    raise _Unpinned
                is_constraint = option in ("-c", "--constraint")
                if is_constraint:
                    into.options.append(line)
                _walk(include, top, into, is_constraint)
            else:
                into.options.append(line)
            continue
        try:
            req = Requirement(line.split(" --", 1)[0])
        except InvalidRequirement:
            raise _Unpinned from None
        if not _exact(req) or canonicalize_name(req.name) in into.names:
            raise _Unpinned
        into.lines[line] = req


def read_pinned(requirements: Path) -> Pinned | None:
    """The set, or None when some requirement is not pinned (or cannot be read here)."""
    pinned = Pinned()
    try:
        _walk(requirements.resolve(), requirements.resolve().parent, pinned)
    except (_Unpinned, OSError, ValueError):
        return None
    return pinned


def _pip_configuration(env: Mapping[str, str]) -> str:
    """Everything of pip's configuration that could change a resolution."""
    parts = [f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("PIP_")]
    home = Path(env.get("HOME") or Path.home())
    candidates = [
        env.get("PIP_CONFIG_FILE", ""),
        "/etc/pip.conf",
        "/etc/xdg/pip/pip.conf",
        str(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf"),
        str(home / ".pip" / "pip.conf"),
        os.path.join(env.get("VIRTUAL_ENV", "/nonexistent"), "pip.conf"),
    ]
    for name in candidates:
        if name and os.path.isfile(name):
            parts.append(f"{name}\0{Path(name).read_text(errors='replace')}")
    return "\n".join(parts)


def context_key(
    interp: Interpreter, pinned: Pinned, env: Mapping[str, str], pip_args: Sequence[str] = ()
) -> str:
    """What every line's resolution depends on besides the line itself."""
    h = hashlib.sha256()
    h.update(f"{interp.executable}\0{'.'.join(map(str, interp.version))}\0".encode())
    h.update("\0".join(pip_args).encode() + b"\1")
    for line in pinned.options:
        h.update(f"{line}\0".encode())
    for name, text in sorted(pinned.texts.items()):
        h.update(f"{name}\0{text}\0".encode())
    h.update(_pip_configuration(env).encode())
    return h.hexdigest()


def _needs_only_pinned(
    entries: list[Resolved], pinned: Pinned, environment: Mapping[str, str]
) -> bool:
    """Whether every dependency of ``entries`` that applies here is pinned in the files."""
    extras = {canonicalize_name(r.name): r.extras for r in pinned.lines.values()}
    for entry in entries:
        wanted = ["", *sorted(extras.get(entry.name, set()))]
        for text in entry.requires:
            dep = Requirement(text)
            marker: Marker | None = dep.marker
            if marker is not None and not any(
                marker.evaluate({**environment, "extra": e}) for e in wanted
            ):
                continue
            if canonicalize_name(dep.name) not in pinned.names:
                return False
    return True


def _store(
    entry: Path, key: str, environment: Mapping[str, str], lines: dict[str, list[Resolved]]
) -> None:
    data = {
        "key": key,
        "environment": dict(environment),
        "lines": {line: [asdict(r) for r in items] for line, items in lines.items()},
    }
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(entry.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(entry)


def _by_line(pinned: Pinned, closure: list[Resolved]) -> dict[str, list[Resolved]]:
    found = {r.name: r for r in closure}
    return {
        line: [found[name]] if (name := canonicalize_name(req.name)) in found else []
        for line, req in pinned.lines.items()
    }


def resolve_pinned(
    interp: Interpreter,
    requirements: Path,
    cache_dir: Path,
    refresh: bool = False,
    env: Mapping[str, str] | None = None,
    pip_args: Sequence[str] = (),
    where: BuildEnvironment | None = None,
) -> tuple[list[Resolved], str]:
    """The closure, and how it was found: "resolved", "reused" or "N changed lines"."""
    env = os.environ if env is None else env
    pinned = read_pinned(requirements)
    if pinned is None:
        return resolve_report(interp, requirements, list(pip_args), env, where)[0], "resolved"
    key = context_key(interp, pinned, env, pip_args)
    entry = cache_dir / f"resolve-{interp.tag}.json"
    cached: dict[str, list[Resolved]] = {}
    environment: dict[str, str] = {}
    if not refresh:
        try:
            data = json.loads(entry.read_text())
            if data.get("key") == key:
                environment = data["environment"]
                cached = {
                    line: [Resolved(**{**r, "requires": tuple(r["requires"])}) for r in items]
                    for line, items in data["lines"].items()
                }
        except (OSError, ValueError, TypeError, KeyError):
            cached = {}
    changed = [line for line in pinned.lines if line not in cached]
    if cached and not changed:
        lines = {line: cached[line] for line in pinned.lines}
        how = "reused"
    elif cached and len(changed) < len(pinned.lines):
        lines = _partial(
            interp, requirements, pinned, changed, cached, environment, env, pip_args, where
        )
        how = f"{len(changed)} changed line{'s' if len(changed) > 1 else ''}" if lines else ""
    else:
        lines = {}
        how = ""
    if not lines:
        closure, environment = resolve_report(interp, requirements, list(pip_args), env, where)
        if {r.name for r in closure} - pinned.names:
            return closure, "resolved"  # something unpinned: a rerun must resolve again
        lines, how = _by_line(pinned, closure), "resolved"
    _store(entry, key, environment, lines)
    return sorted({r for v in lines.values() for r in v}, key=lambda r: r.name), how


def _partial(
    interp: Interpreter,
    requirements: Path,
    pinned: Pinned,
    changed: list[str],
    cached: dict[str, list[Resolved]],
    environment: Mapping[str, str],
    env: Mapping[str, str],
    pip_args: Sequence[str],
    where: BuildEnvironment | None,
) -> dict[str, list[Resolved]]:
    """Ask pip about the changed lines only; {} when that is not enough."""
    # Beside the original, so relative --find-links and -c paths mean the same.
    scratch = requirements.parent / f".wheelyard-changed-{os.getpid()}.txt"
    try:
        scratch.write_text("\n".join([*pinned.options, *changed]) + "\n")
        fresh, _ = resolve_report(interp, scratch, [*pip_args, "--no-deps"], env, where)
    except InvalidInput:
        return {}  # the full resolution reports it, naming the real file
    finally:
        scratch.unlink(missing_ok=True)
    if not _needs_only_pinned(fresh, pinned, environment):
        return {}
    subset = Pinned(pinned.options, pinned.texts, {line: pinned.lines[line] for line in changed})
    lines = {line: cached[line] for line in pinned.lines if line in cached}
    lines.update(_by_line(subset, fresh))
    return lines
