"""Build environments shared by the builds that need the same thing: one venv per
interpreter × build requirements, created once (and kept in the wheelhouse for the next run),
then used read-only by pip with ``--no-build-isolation``.

pip's own isolation creates a fresh environment and installs the build requirements for every
single build, which costs as much as compiling a small extension. A venv is marked complete
only after its requirements installed, so a killed run never leaves a half one in use.
With ``uv`` (given when uv resolves, so pip's configuration plays no part: builder/uv.py)
uv creates the environment and installs into it, in a fraction of pip's time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelyard.builder.interpreters import Interpreter, venv_commands
from wheelyard.builder.runners import Runner

_COMPLETE = ".wheelyard-complete"
_RECORD = ".wheelyard-requirements.json"


def _installed(venv: Path) -> dict[str, str]:
    """Project → version of what a venv holds (from its .dist-info folders)."""
    found: dict[str, str] = {}
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found[canonicalize_name(name)] = version
    return found


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
        self._failed: set[str] = set()
        self._fresh: set[str] = set()  # created by this run (a refresh recreates each once)

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
                self._note(log, f"build environment {key} could not be created before")
                return None
            stale = self.refresh and key not in self._fresh
            if stale or not (venv / _COMPLETE).exists():
                other = self._satisfying(interp, requirements, files)
                if other is not None:
                    self._note(log, f"using build environment {other} (it satisfies {key})")
                    return other
                if not self._create(interp, venv, requirements, files, log, environment):
                    self._failed.add(key)
                    return None
                self._fresh.add(key)
                self._record(venv, requirements, files)
            else:
                self._note(log, f"using build environment {venv}")
        return venv

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
            pip = ["env", f"VIRTUAL_ENV={venv}", *self.uv, "pip"]
        args = [a for f in files for a in ("-r", str(f))] + list(requirements)
        self._note(log, f"creating build environment {venv}")
        # An in-tree backend may need nothing installed (pip and uv refuse an empty install).
        for cmd in [create, *([[*pip, "install", *args]] if args else [])]:
            if self.runner.run(cmd, log, environment) != 0:
                return False
        (venv / _COMPLETE).touch()
        return True

    @staticmethod
    def _note(log: Path, text: str) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"# {text}\n")
