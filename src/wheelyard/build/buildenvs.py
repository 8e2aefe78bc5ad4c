"""Build environments shared by the builds that need the same thing: one venv per
interpreter × build requirements, created once (and kept in the wheelhouse for the next run),
then used read-only by pip with ``--no-build-isolation``.

pip's own isolation creates a fresh environment and installs the build requirements for every
single build, which costs as much as compiling a small extension. A venv is marked complete
only after its requirements installed, so a killed run never leaves a half one in use.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from wheelyard.build.envs import BuildEnvironment
from wheelyard.build.interpreters import Interpreter, venv_commands

_COMPLETE = ".wheelyard-complete"


class SharedEnvs:
    def __init__(self, env: BuildEnvironment, root: Path, refresh: bool = False) -> None:
        self.env = env
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
        for req in sorted(requirements):
            h.update(f"{req}\0".encode())
        for path in files:
            h.update(path.read_bytes() + b"\0")
        return f"{interp.tag}-{h.hexdigest()[:16]}"

    def python(
        self,
        interp: Interpreter,
        requirements: Sequence[str],
        files: Sequence[Path],
        log: Path,
        environment: Mapping[str, str],
    ) -> list[str] | None:
        """The pip command line that builds in the environment (created on first use), or
        None when its requirements could not be installed (the reason is in ``log``)."""
        key = self.key(interp, requirements, files)
        venv = self.root / key
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._failed:
                self._note(log, f"build environment {key} could not be created before")
                return None
            stale = self.refresh and key not in self._fresh
            if stale or not (venv / _COMPLETE).exists():
                if not self._create(interp, venv, requirements, files, log, environment):
                    self._failed.add(key)
                    return None
                self._fresh.add(key)
            else:
                self._note(log, f"using build environment {venv}")
        return venv_commands(interp, venv)[1]

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
        args = [a for f in files for a in ("-r", str(f))] + list(requirements)
        self._note(log, f"creating build environment {venv}")
        for cmd in (create, [*pip, "install", *args]):
            if self.env.run(cmd, log, environment) != 0:
                return False
        (venv / _COMPLETE).touch()
        return True

    @staticmethod
    def _note(log: Path, text: str) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"# {text}\n")
