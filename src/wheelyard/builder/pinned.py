"""Resolving a requirements set pinned throughout, line by line.

Resolving sdists makes pip build their metadata, seconds each, for every interpreter. When
every requirement is pinned (``==`` or a direct URL, as pip-compile writes it) and the
closure holds nothing the files do not pin, the closure is exactly the pinned lines whose
markers apply. So pip is asked per line (``--no-deps``, several processes at once), each
line's resolution is kept (``<wheelhouse>/.cache/``), a rerun asks only about the lines that
changed, and an sdist that pip may only build from source is asked for once, not once per
interpreter. All of it provided the options, the constraint files, pip's configuration and
the interpreter are unchanged and no line needs anything unpinned. Anything else — ranges,
editables, remote includes, ``--refresh`` — means: pip resolves everything, as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.resolve import Resolved, resolve
from wheelyard.builder.runners import Runner
from wheelyard.errors import InvalidInput

_INCLUDES = ("-r", "--requirement", "-c", "--constraint")
Lines = dict[str, list[Resolved]]  # a requirement line → what it resolved to (none or one)


class _Unpinned(Exception):
    pass


class How(Enum):
    """How an interpreter's closure was found."""

    RESOLVED = "resolved"  # pip resolved the whole set, as usual
    REUSED = "reused"  # every line's resolution kept from the last run
    LINE_BY_LINE = "line by line"  # every line asked alone (``--no-deps``)
    CHANGED = "changed"  # only the lines that changed since the last run asked
    UV = "resolved with uv"  # uv resolved the whole set (builder/uv.py)
    YARD = "taken from the yard's build record"  # an earlier run's (builder/yardrecord.py)


@dataclass(frozen=True)
class Resolution:
    """One interpreter's closure and how it was found."""

    closure: tuple[Resolved, ...]
    how: How
    changed: int = 0  # CHANGED: the lines asked again
    borrowed: int = 0  # LINE_BY_LINE: sdist lines taken from another interpreter's answer
    donor: str | None = None  # that interpreter ("3.12")

    def describe(self) -> str:
        """A short note for the user, e.g. "1 changed line"."""
        if self.how is How.CHANGED:
            return f"{self.changed} changed line{'s' if self.changed > 1 else ''}"
        if self.how is How.LINE_BY_LINE:
            taken = f", {self.borrowed} from Python {self.donor}" if self.borrowed else ""
            return f"resolved line by line{taken}"
        return str(self.how.value)


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
    h.update("\0".join(interp.platforms).encode() + b"\1")  # two images' same path
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


def _store(entry: Path, data: dict[str, object]) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(entry.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(entry)


def _by_line(pinned: Pinned, lines: Sequence[str], found: list[Resolved]) -> Lines:
    by_name = {r.name: r for r in found}
    return {
        line: [by_name[name]] if (name := canonicalize_name(pinned.lines[line].name)) in by_name
        else []
        for line in lines
    }  # fmt: skip


def forced_names(pinned: Pinned, pip_args: Sequence[str]) -> set[str]:
    """Projects pip may only take as sdists (``--no-binary``, in the files or the command)."""
    words = [w for line in pinned.options for w in shlex.split(line)] + list(pip_args)
    forced: set[str] = set()
    for i, word in enumerate(words):
        option, _, inline = word.partition("=")
        if option != "--no-binary":
            continue
        value = inline or (words[i + 1] if i + 1 < len(words) else "")
        for name in value.split(","):
            if name == ":all:":
                forced |= pinned.names
            elif name == ":none:":
                forced.clear()
            elif name:
                forced.add(canonicalize_name(name))
    return forced


@dataclass
class _Job:
    """One resolution of the set: what every interpreter's share needs to know."""

    requirements: Path
    pinned: Pinned
    cache_dir: Path
    refresh: bool
    env: Mapping[str, str]
    pip_args: Sequence[str]
    runner: Runner
    forced: set[str]


def resolve_all(
    interps: Sequence[Interpreter],
    requirements: Path,
    cache_dir: Path,
    runner: Runner,
    env: Mapping[str, str],
    refresh: bool = False,
    pip_args: Sequence[str] = (),
    jobs: int = 1,
) -> dict[Interpreter, Resolution]:
    """Each interpreter's closure and how it was found. ``env``: pip's configuration
    variables (part of the cache key), on top of the runner's.

    A pinned set is resolved line by line (``--no-deps``, ``jobs`` pip processes at once) for
    the first interpreter; the others take its sdists for the lines pip may only build from
    source (their file does not depend on the interpreter) once their markers and
    ``Requires-Python`` allow, and ask pip about the rest. Either way every dependency must be
    pinned, or the interpreter is resolved whole, by pip, as usual.
    """
    pinned = read_pinned(requirements)
    if pinned is None:
        with ThreadPoolExecutor(max(1, min(jobs, len(interps)))) as pool:
            closures = pool.map(
                lambda i: resolve(i, requirements, runner, env, list(pip_args)), interps
            )
            return {
                i: Resolution(tuple(c), How.RESOLVED)
                for i, c in zip(interps, closures, strict=True)
            }
    job = _Job(
        requirements,
        pinned,
        cache_dir,
        refresh,
        env,
        pip_args,
        runner,
        forced_names(pinned, pip_args),
    )
    first, rest = interps[0], interps[1:]
    resolution, donor = _one(job, first, None, jobs)
    results = {first: resolution}
    with ThreadPoolExecutor(max(1, min(jobs, len(rest)))) as pool:
        for interp, (r, _lines) in zip(
            rest, pool.map(lambda i: _one(job, i, (first, donor), 1), rest), strict=True
        ):
            results[interp] = r
    return results


def _lookup(job: _Job, key: str, entry: Path) -> dict[str, object]:
    if job.refresh:
        return {}
    try:
        data = json.loads(entry.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("key") == key else {}


def _one(
    job: _Job, interp: Interpreter, donor: tuple[Interpreter, Lines | None] | None, chunks: int
) -> tuple[Resolution, Lines | None]:
    pinned = job.pinned
    key = context_key(interp, pinned, job.env, job.pip_args)
    entry = job.cache_dir / f"resolve-{interp.tag}.json"
    data = _lookup(job, key, entry)
    all_lines = sorted(pinned.lines)
    cached: Lines = {}
    try:
        for line, items in dict(data.get("lines") or {}).items():  # type: ignore[call-overload]
            cached[line] = [Resolved(**{**r, "requires": tuple(r["requires"])}) for r in items]
    except (TypeError, KeyError):
        cached = {}
    changed = [line for line in all_lines if line not in cached]
    # A set seen to need unpinned dependencies is resolved whole, not line by line first.
    loose = data.get("loose") == _lines_hash(all_lines)
    lines: Lines = {}
    how, borrowed = How.RESOLVED, 0
    if not changed:
        lines, how = {line: cached[line] for line in all_lines}, How.REUSED
    elif not loose:
        found = _ask(job, interp, changed, donor, chunks)
        if found is not None:
            lines = {**{k: v for k, v in cached.items() if k in pinned.lines}, **found[0]}
            how = How.CHANGED if cached else How.LINE_BY_LINE
            borrowed = 0 if cached else found[1]
    if not lines:
        closure = resolve(interp, job.requirements, job.runner, job.env, list(job.pip_args))
        if {r.name for r in closure} - pinned.names:
            _store(entry, {"key": key, "loose": _lines_hash(all_lines)})
            return Resolution(tuple(closure), How.RESOLVED), None
        lines, how = _by_line(pinned, all_lines, closure), How.RESOLVED
    _store(
        entry,
        {"key": key, "lines": {k: [asdict(r) for r in v] for k, v in lines.items()}},
    )
    closure = sorted({r for v in lines.values() for r in v}, key=lambda r: r.name)
    resolution = Resolution(
        tuple(closure),
        how,
        changed=len(changed) if how is How.CHANGED else 0,
        borrowed=borrowed,
        donor=donor[0].minor if donor and borrowed else None,
    )
    return resolution, lines


def _lines_hash(lines: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _ask(
    job: _Job,
    interp: Interpreter,
    changed: Sequence[str],
    donor: tuple[Interpreter, Lines | None] | None,
    chunks: int,
) -> tuple[Lines, int] | None:
    """Resolutions of ``changed`` lines for ``interp`` and how many of them were taken from
    the donor's answer; None when pip must resolve all."""
    environment = interp.marker_environment
    if not environment:
        return None  # an interpreter without pip's packaging: no way to judge markers here
    derived: Lines = {}
    ask: list[str] = []
    donor_lines = donor[1] if donor else None
    for line in changed:
        req = job.pinned.lines[line]
        took = donor_lines.get(line) if donor_lines is not None else None
        if canonicalize_name(req.name) in job.forced and took and not took[0].is_wheel:
            if req.marker is not None and not req.marker.evaluate(environment):
                derived[line] = []
                continue
            spec = took[0].requires_python
            version = environment.get("python_full_version", "")
            if not spec or SpecifierSet(spec).contains(version, prereleases=True):
                derived[line] = took
                continue
        ask.append(line)
    found: list[Resolved] = []
    if ask:
        groups = [ask[i::chunks] for i in range(min(chunks, len(ask)))]
        with ThreadPoolExecutor(len(groups)) as pool:
            parts = list(pool.map(lambda g: _pip_no_deps(job, interp, g), groups))
        if any(p is None for p in parts):
            return None
        found = [r for p in parts for r in p or []]
    subset = _by_line(job.pinned, ask, found)
    entries = found + [r for v in derived.values() for r in v]
    if not _needs_only_pinned(entries, job.pinned, environment):
        return None
    return {**subset, **derived}, len(derived) if donor else 0


def _pip_no_deps(job: _Job, interp: Interpreter, lines: Sequence[str]) -> list[Resolved] | None:
    # Beside the original, so relative --find-links and -c paths mean the same.
    fd, name = tempfile.mkstemp(
        prefix=".wheelyard-lines-", suffix=".txt", dir=job.requirements.parent
    )
    scratch = Path(name)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join([*job.pinned.options, *lines]) + "\n")
        pip_args = [*job.pip_args, "--no-deps"]
        return resolve(interp, scratch, job.runner, job.env, pip_args)
    except InvalidInput:
        return None  # the full resolution reports it, naming the real file
    finally:
        scratch.unlink(missing_ok=True)
