"""Build environments shared by the builds that need the same thing: one venv per
interpreter × build requirements, created once (and kept in the wheelhouse for the next run),
then used read-only by pip with ``--no-build-isolation``.

pip's own isolation creates a fresh environment and installs the build requirements for every
single build, which costs as much as compiling a small extension. A venv is marked complete
only after its requirements installed, so a killed run never leaves a half one in use.
With ``uv`` (given when uv resolves, so pip's configuration plays no part: builder/uv.py)
uv creates the environment and installs into it, in a fraction of pip's time.

Creating one waits mostly on the network and the disk, so the run asks for them ahead
(:meth:`SharedEnvs.ahead`, in the order builds will start) while other builds compile: a
build then finds its environment made. Each creation's wall and CPU seconds are kept
(:meth:`SharedEnvs.made`): work of the build phase that no single build's figures hold.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelyard.builder import cputime
from wheelyard.builder.interpreters import Interpreter, venv_commands
from wheelyard.builder.phases import Phases
from wheelyard.builder.runners import Runner

_COMPLETE = ".wheelyard-complete"
_RECORD = ".wheelyard-requirements.json"
UV_CACHE = ".uv-cache"  # uv's cache, under the environments' root, for an ephemeral runner


def _installed(venv: Path) -> dict[str, str]:
    """Project → version of what a venv holds (from its .dist-info folders)."""
    found: dict[str, str] = {}
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found[canonicalize_name(name)] = version
    return found


# Environments made ahead at once: they wait on the network, so a couple overlap the builds
# without taking much of a core from them.
AHEAD = 2


@dataclass(frozen=True)
class Need:
    """One build's environment: what ``SharedEnvs.venv`` is given."""

    interpreter: Interpreter
    requirements: tuple[str, ...]
    files: tuple[Path, ...]
    environment: Mapping[str, str]


@dataclass(frozen=True)
class Made:
    """One environment this run created: its wall and CPU seconds (``ok``: it was usable)."""

    key: str
    seconds: float
    cpu: float
    ok: bool


class SharedEnvs:
    def __init__(
        self,
        runner: Runner,
        root: Path,
        refresh: bool = False,
        uv: Sequence[str] | None = None,
    ) -> None:
        self.runner = runner
        self.uv = uv
        self.root = root
        self.refresh = refresh
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._failed: dict[str, Path] = {}  # key → the log saying why it failed
        self._fresh: set[str] = set()  # created by this run (a refresh recreates each once)
        self._made: list[Made] = []
        self._asked: set[str] = set()  # keys given to ahead()
        self._pool: ThreadPoolExecutor | None = None  # ahead()'s, until close()

    @staticmethod
    def key(interp: Interpreter, requirements: Sequence[str], files: Sequence[Path]) -> str:
        h = hashlib.sha256()
        h.update(f"{interp.executable}\0{'.'.join(map(str, interp.version))}\0".encode())
        h.update("\0".join(interp.platforms).encode() + b"\1")  # two images' same path
        for req in sorted(requirements):
            h.update(f"{req}\0".encode())
        for path in files:
            h.update(path.read_bytes() + b"\0")
        return f"{interp.tag}-{h.hexdigest()[:16]}"

    def venv(
        self,
        interp: Interpreter,
        requirements: Sequence[str],
        files: Sequence[Path],
        log: Path,
        environment: Mapping[str, str],
    ) -> Path | None:
        """The environment that serves these requirements (created on first use), or None
        when its requirements could not be installed (the reason is in ``log``)."""
        key = self.key(interp, requirements, files)
        venv = self.root / key
        # One lock per interpreter: a build waiting for another's environment may then find
        # that it serves it too.
        with self._guard:
            lock = self._locks.setdefault(interp.tag, threading.Lock())
        with lock:
            if key in self._failed:
                self._failed_before(key, log)
                return None
            stale = self.refresh and key not in self._fresh
            if stale or not (venv / _COMPLETE).exists():
                other = self._satisfying(interp, requirements, files)
                if other is not None:
                    self._note(log, f"using build environment {other} (it satisfies {key})")
                    return other
                if not self._create(interp, venv, requirements, files, log, environment):
                    self._failed[key] = log
                    return None
                self._fresh.add(key)
                self._record(venv, requirements, files)
            else:
                self._note(log, f"using build environment {venv}")
        return venv

    def ahead(self, needs: Iterable[Need], logs: Path, phases: Phases) -> None:
        """Create these environments in the background, :data:`AHEAD` at a time, in the
        order given (each logged to ``logs/buildenv-KEY.log``; timed as the build phase, whose
        work it is). A build wanting one still being made waits for it; one that failed is
        reported in the log of each build that wanted it. :meth:`close` ends the work."""
        for need in needs:
            key = self.key(need.interpreter, need.requirements, need.files)
            with self._guard:
                if key in self._asked:
                    continue
                self._asked.add(key)
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(AHEAD, thread_name_prefix="wheelyard-env")
                pool = self._pool

            def make(need: Need = need, key: str = key) -> None:
                log, interp = logs / f"buildenv-{key}.log", need.interpreter
                with phases.timing("build"):
                    self.venv(interp, need.requirements, need.files, log, need.environment)

            pool.submit(make)

    def close(self) -> None:
        """Drop the environments asked ahead and not started (their builds are over), and
        wait for those being made."""
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def made(self) -> list[Made]:
        """The environments this run created so far."""
        with self._guard:
            return list(self._made)

    def _failed_before(self, key: str, log: Path) -> None:
        """Say in ``log`` that ``key`` failed, with the failure's own log (its hints apply)."""
        where = self._failed[key]
        self._note(log, f"build environment {key} could not be created (see {where})")
        if where != log:
            try:
                text = where.read_text(errors="replace")
            except OSError:
                return
            with log.open("a") as fh:
                fh.write(text)

    @staticmethod
    def _names(requirements: Sequence[str], markers: Mapping[str, str]) -> dict[str, Requirement]:
        wanted: dict[str, Requirement] = {}
        for text in requirements:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(dict(markers)):
                wanted[canonicalize_name(req.name)] = req
        return wanted

    def _satisfying(
        self, interp: Interpreter, requirements: Sequence[str], files: Sequence[Path]
    ) -> Path | None:
        """A complete environment of this run for ``interp`` with the same requirement files
        and exactly the same required projects, at versions these requirements accept
        (``setuptools>=40.8`` and ``setuptools>=64`` end up the same). Same names only, so a
        build never sees an optional extra (Cython …) pip's isolation would not give it."""
        try:
            wanted = self._names(requirements, interp.marker_environment)
        except InvalidRequirement:
            return None
        digest = self._files_digest(files)
        for key in sorted(self._fresh):
            venv = self.root / key
            if not key.startswith(f"{interp.tag}-") or not (venv / _RECORD).exists():
                continue
            made = json.loads((venv / _RECORD).read_text())
            if made["files"] != digest:
                continue
            try:
                names = self._names(made["requirements"], interp.marker_environment)
            except InvalidRequirement:
                continue
            installed = _installed(venv)
            if set(names) == set(wanted) and all(
                name in installed and req.specifier.contains(installed[name], prereleases=True)
                for name, req in wanted.items()
            ):
                return venv
        return None

    @staticmethod
    def _files_digest(files: Sequence[Path]) -> str:
        return hashlib.sha256(b"\0".join(p.read_bytes() for p in files)).hexdigest()

    def _record(self, venv: Path, requirements: Sequence[str], files: Sequence[Path]) -> None:
        data = {"requirements": list(requirements), "files": self._files_digest(files)}
        (venv / _RECORD).write_text(json.dumps(data))

    def _create(
        self,
        interp: Interpreter,
        venv: Path,
        requirements: Sequence[str],
        files: Sequence[Path],
        log: Path,
        environment: Mapping[str, str],
    ) -> bool:
        shutil.rmtree(venv, ignore_errors=True)
        create, pip = venv_commands(interp, venv)
        if self.uv is not None:
            # Builds use the interpreter's pip (--python) or, when too old for that, the
            # venv's own: uv seeds one then.
            seed = ["--seed"] if create[-2:] == ["venv", str(venv)] else []
            create = [*self.uv, "venv", "--quiet", *seed, "--python", str(interp.executable)]
            create.append(str(venv))
            # A runner whose own caches vanish with it (a container) keeps uv's beside the
            # environments, on their mount: uv links from its cache there instead of copying
            # every file across file systems, and a later run finds it warm.
            cache = []
            if self.runner.ephemeral and "UV_CACHE_DIR" not in environment:
                cache = [f"UV_CACHE_DIR={self.root / UV_CACHE}"]
            pip = ["env", f"VIRTUAL_ENV={venv}", *cache, *self.uv, "pip"]
        args = [a for f in files for a in ("-r", str(f))] + list(requirements)
        self._note(log, f"creating build environment {venv}")
        started, offset = time.perf_counter(), log.stat().st_size
        ok = True
        # An in-tree backend may need nothing installed (pip and uv refuse an empty install).
        for cmd in [create, *([[*pip, "install", *args]] if args else [])]:
            timed = cputime.timed(interp.executable, cmd, cputime.ENV_LINE)
            if self.runner.run(timed, log, environment) != 0:
                ok = False
                break
        with log.open("rb") as fh:
            fh.seek(offset)
            cpu = cputime.total(fh.read().decode(errors="replace"), cputime.ENV_LINE)
        with self._guard:
            self._made.append(Made(venv.name, time.perf_counter() - started, cpu, ok))
        if ok:
            (venv / _COMPLETE).touch()
        return ok

    @staticmethod
    def _note(log: Path, text: str) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"# {text}\n")
