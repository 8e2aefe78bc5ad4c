"""The explicit map between host folders and where a build environment sees them.

Callers write command lines with host paths; a runner that does not share the host's
filesystem (a container) mounts each shared folder at a path of its own and rewrites host
paths under those folders — whole arguments, ``--opt=PATH``, ``file://`` URLs, environment
values, the working directory — before running a command, and rewrites its paths back in
what the host reads from it (a pip report's URLs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Mount:
    host: Path
    inside: PurePosixPath
    read_only: bool = False


def _under(path: PurePosixPath | Path, folder: PurePosixPath | Path) -> bool:
    return path == folder or folder in path.parents


class PathMap:
    def __init__(self, root: str) -> None:
        self.root = PurePosixPath(root)
        self.mounts: list[Mount] = []

    def covers(self, host: Path) -> bool:
        return any(_under(host, m.host) for m in self.mounts)

    def add(self, host: Path, read_only: bool = False, inside: str | None = None) -> Mount | None:
        """Map ``host`` (absolute) unless a mapped folder holds it already; folders it holds
        are folded into it. Returns the new mount, or None when nothing changed."""
        host = Path(host).absolute()
        if self.covers(host):
            return None
        self.mounts = [m for m in self.mounts if not _under(m.host, host)]
        name = re.sub(r"[^A-Za-z0-9._-]", "_", host.name) or "root"
        target = PurePosixPath(inside) if inside else self.root / f"{len(self.mounts)}-{name}"
        while any(m.inside == target for m in self.mounts):
            target = target.with_name(target.name + "_")
        mount = Mount(host, target, read_only)
        self.mounts.append(mount)
        return mount

    @staticmethod
    def _pattern(prefixes: list[str]) -> re.Pattern[str] | None:
        if not prefixes:
            return None
        # Longest first, and only whole path components: /a/b maps, /a/bc and x/a/b do not.
        alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
        return re.compile(rf"(?<![\w.-])({alternatives})(?![\w.-])")

    def _rewrite(self, text: str, table: dict[str, str]) -> str:
        pattern = self._pattern(list(table))
        return pattern.sub(lambda m: table[m.group(1)], text) if pattern else text

    def inside(self, text: str) -> str:
        """``text`` with every mapped host path replaced by where the environment sees it."""
        return self._rewrite(text, {str(m.host): str(m.inside) for m in self.mounts})

    def outside(self, text: str) -> str:
        """The reverse of :meth:`inside`."""
        return self._rewrite(text, {str(m.inside): str(m.host) for m in self.mounts})
