"""How files move between the host and a build container: ``bind`` (the shared folders are bind
mounts: nothing to copy) or ``copy``, for an engine that cannot see the host's file system (a
GitLab docker-in-docker service, any tcp:// or ssh:// ``DOCKER_HOST``). ``auto`` means copy for
such a remote engine and bind otherwise.

In copy mode the container has no mounts: before each command the shared folders' changes are
copied in (a tar stream to ``<engine> cp - CONTAINER:/``), and after it the container's
changes are copied out (``tar`` run in the container, as cibuildwheel copies out; the image
needs ``tar``, ``find`` and ``stat``, which manylinux and musllinux images have). Only what
changed moves: each side's files are compared by type, size, whole-second mtime and mode with
the state both sides last agreed on, and a file changed within the second it was copied
counts as changed once more (git's "racily clean" rule). A file deleted on one side is
deleted on the other unless that side changed it since; a folder only when it is empty."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, cast

from wheelyard.builder.runners.engines import Engine, explain
from wheelyard.builder.runners.paths import Mount, PathMap
from wheelyard.builder.settings import TRANSFERS
from wheelyard.digest import file_sha256
from wheelyard.errors import EngineFailed

MODES = TRANSFERS
VARIABLE = "WHEELYARD_CONTAINER_TRANSFER"
_LOCAL = ("unix://", "npipe://", "fd://")
# a file's state: kind (f, d, l), size, mtime in whole seconds, permission bits
Sig = tuple[str, int, int, int]
# Lists every path under the given folders (when they exist) with its raw mode, size and mtime,
# after the container's clock: busybox and GNU find and stat both do this.
_LIST = 'date +%s; for d do [ -e "$d" ] && find "$d" -exec stat -c "%f %s %Y %n" {} +; done; true'
# Deletes files and symbolic links, and folders only when empty, deepest first.
_DELETE = (
    'for p do if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir "$p" 2>/dev/null; '
    'else rm -f "$p"; fi; done; true'
)
# what tar says of files that changed or vanished under it (GNU tar, busybox)
_RACE = re.compile(
    r"No such file or directory|file changed as we read it|file removed before we read it"
    r"|Exiting with failure status due to previous errors|Removing leading|^\s*$"
)
_CHUNK = 64_000  # bytes of paths per command line


def remote(engine: Engine) -> str | None:
    """``VARIABLE=value`` when the engine's daemon is not on this machine's file system
    (docker's DOCKER_HOST, podman's CONTAINER_HOST naming tcp:// or ssh://), else None."""
    variable = "DOCKER_HOST" if engine.name == "docker" else "CONTAINER_HOST"
    value = engine.environ.get(variable, "")
    if value and not value.startswith(_LOCAL):
        return f"{variable}={value}"
    return None


def choose(mode: str | None, engine: Engine) -> str:
    """``bind`` or ``copy`` for the setting ``mode`` (None or ``auto``: see :func:`remote`)."""
    if mode in (None, "auto"):
        return "copy" if remote(engine) else "bind"
    return mode


def _sig(mode: int, size: int, mtime: float) -> Sig | None:
    """The state compared; None for what is not copied (sockets, devices, fifos)."""
    if stat.S_ISDIR(mode):
        return ("d", 0, 0, stat.S_IMODE(mode))
    if stat.S_ISLNK(mode):
        return ("l", size, 0, 0)  # a link's size is its target's length; its mtime is not kept
    if stat.S_ISREG(mode):
        return ("f", size, int(mtime), stat.S_IMODE(mode))
    return None


def _host_tree(mount: Mount) -> Iterator[tuple[str, Sig, Path]]:
    """Every path of ``mount`` on the host: (inside path, state, host path)."""

    def one(host: Path, inside: PurePosixPath) -> tuple[str, Sig, Path] | None:
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            return None
        sig = _sig(st.st_mode, st.st_size, st.st_mtime)
        return (str(inside), sig, host) if sig else None

    top = one(mount.host, mount.inside)
    if top is None:
        return
    yield top
    if top[1][0] != "d":
        return
    for root, dirs, files in os.walk(mount.host):
        where = mount.inside.joinpath(*Path(root).relative_to(mount.host).parts)
        for name in (*dirs, *files):
            found = one(Path(root, name), where / name)
            if found:
                yield found


def _chunks(paths: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for path in paths:
        if batch and size + len(path) > _CHUNK:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += len(path) + 1
    if batch:
        yield batch


class Copier:
    """Keeps one container's copies of the shared folders in step with the host's."""

    def __init__(
        self,
        engine: Engine,
        container: str,
        paths: PathMap,
        inside: Callable[[list[str]], subprocess.CompletedProcess[str]] | None = None,
    ) -> None:
        self.engine = engine
        self.container = container
        # runs a short command in the container (its command server's, else an exec)
        self._inside = inside or (lambda argv: engine.call("exec", container, *argv))
        self.paths = paths
        self._known: dict[str, Sig] = {}  # inside path → the state both sides last agreed on
        # agreed on within the second the file last changed, so a change in that second
        # would not show: on the host, with the content's sha256 to compare; in the container
        self._host_racy: dict[str, str] = {}
        self._inside_racy: set[str] = set()
        self._lock = threading.Lock()
        self.copied_in = 0  # files copied each way, for tests and the curious
        self.copied_out = 0

    # -- paths ------------------------------------------------------------------------------
    def _host_of(self, inside: str) -> tuple[Mount, Path] | None:
        path = PurePosixPath(inside)
        for m in self.paths.mounts:
            if path == m.inside or m.inside in path.parents:
                return m, m.host.joinpath(*path.relative_to(m.inside).parts)
        return None

    @staticmethod
    def _contained(mount: Mount, host: Path) -> bool:
        """Whether writing ``host`` stays in ``mount`` (no symbolic link on the way out)."""
        root = mount.host.resolve()
        parent = host.parent.resolve()
        return parent == root or root in parent.parents

    def _host_sig(self, inside: str) -> Sig | None:
        found = self._host_of(inside)
        if found is None:
            return None
        try:
            st = os.lstat(found[1])
        except FileNotFoundError:
            return None
        return _sig(st.st_mode, st.st_size, st.st_mtime)

    def _host_unchanged(self, inside: str) -> bool:
        """Whether the host's file is as both sides last agreed (content too, if racy)."""
        if self._host_sig(inside) != self._known.get(inside):
            return False
        found = self._host_of(inside)
        if inside not in self._host_racy or found is None:
            return True
        try:
            return file_sha256(found[1]) == self._host_racy[inside]
        except OSError:
            return False

    # -- host → container -------------------------------------------------------------------
    def push(self) -> None:
        """Copy what changed on the host since the last copy into the container, and delete
        there what the host deleted."""
        with self._lock:
            now = int(time.time())
            host: dict[str, tuple[Sig, Path]] = {}
            for mount in self.paths.mounts:
                host.update((inside, (sig, path)) for inside, sig, path in _host_tree(mount))
            gone = sorted((p for p in self._known if p not in host), reverse=True)
            for p in gone:
                del self._known[p]
                self._host_racy.pop(p, None)
                self._inside_racy.discard(p)
            # a path that changed kind goes first, so the copy does not land inside it
            retyped = [p for p, (sig, _) in host.items() if self._known.get(p, sig)[0] != sig[0]]
            self._delete(sorted([*gone, *retyped], reverse=True))
            send = sorted(p for p, (sig, path) in host.items() if self._changed(p, sig, path, now))
            if not send:
                return
            parents = {str(a) for m in self.paths.mounts for a in m.inside.parents} - {"/"}
            self._send(sorted(parents), [(p, host[p][1]) for p in send], now)

    def _changed(self, inside: str, sig: Sig, path: Path, now: int) -> bool:
        if self._known.get(inside) != sig:
            return True
        if inside not in self._host_racy:
            return False
        try:
            if file_sha256(path) != self._host_racy[inside]:
                return True
        except OSError:
            return True
        if sig[2] < now:  # the second has passed: a later change shows in the mtime
            del self._host_racy[inside]
        return False

    def _delete(self, paths: list[str]) -> None:
        for batch in _chunks(paths):
            result = self._inside(["sh", "-c", _DELETE, "rm", *batch])
            self.engine.check(result, "delete files in the container")

    def _send(self, parents: list[str], files: list[tuple[str, Path]], now: int) -> None:
        sent: dict[str, Sig] = {}
        hashes: dict[str, str] = {}

        def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = int(info.mtime)
            return info

        with _Piped(self.engine, ["cp", "-", f"{self.container}:/"], into=True) as piped:
            try:
                capped = _Capped(piped.stream)
                out = cast(IO[bytes], capped)  # (all tarfile uses of it: write and tell)
                with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for parent in parents:
                        info = tarfile.TarInfo(parent.lstrip("/"))
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
                        tar.addfile(owned_by_root(info))
                    for inside, path in files:
                        try:
                            info = tar.gettarinfo(str(path), inside.lstrip("/"))
                        except FileNotFoundError:
                            continue  # deleted since it was listed: the next copy deletes it
                        owned_by_root(info)
                        if info.isreg():
                            with path.open("rb") as fh:
                                reader = _Hashing(fh)
                                tar.addfile(info, reader)
                            hashes[inside] = reader.hexdigest()
                        else:
                            tar.addfile(info)
                        sig = _info_sig(info)
                        if sig is not None:
                            sent[inside] = sig
                    # The archive ends with two empty blocks: podman cp stops reading there and
                    # fails on the padding tarfile writes after them ("write on closed pipe").
                    capped.limit = tar.offset + 2 * tarfile.BLOCKSIZE
            except BrokenPipeError:
                pass  # the engine stopped reading: its status and message say why
            except OSError as exc:  # a file shrank or became unreadable while it was sent
                piped.process.kill()
                raise EngineFailed(f"could not copy {exc.filename or 'a file'} in: {exc}") from None
        if piped.status != 0:
            raise EngineFailed(
                explain(self.engine.name, "copy files into the container", piped.errors)
            )
        for inside, sig in sent.items():
            self._known[inside] = sig
            self._mark(inside, sig, now, now, hashes.get(inside))
        self.copied_in += len(sent)

    def _mark(
        self, inside: str, sig: Sig, host_now: int, inside_now: int, sha256: str | None
    ) -> None:
        """Remember a file agreed on within the second it changed, to compare it again."""
        if sig[0] == "f" and sig[2] >= host_now and sha256 is not None:
            self._host_racy[inside] = sha256
        else:
            self._host_racy.pop(inside, None)
        if sig[0] == "f" and sig[2] >= inside_now:
            self._inside_racy.add(inside)
        else:
            self._inside_racy.discard(inside)

    # -- container → host -------------------------------------------------------------------
    def pull(self) -> None:
        """Copy what changed in the container's copies of the writable shared folders back
        to the host, and delete on the host what the container deleted."""
        with self._lock:
            roots = [m for m in self.paths.mounts if not m.read_only]
            if not roots:
                return
            listed = self._inside(["sh", "-c", _LIST, "list", *(str(m.inside) for m in roots)])
            lines = listed.stdout.splitlines()
            try:
                inside_now = int(lines[0])
            except (IndexError, ValueError):
                raise EngineFailed(
                    explain(self.engine.name, "list the container's files", listed.stderr)
                ) from None
            inside: dict[str, Sig] = {}
            for line in lines[1:]:
                parts = line.split(" ", 3)
                try:
                    sig = _sig(int(parts[0], 16), int(parts[1]), int(parts[2]))
                except (IndexError, ValueError):
                    continue  # a name with a line break: not copied
                if sig is not None:
                    inside[parts[3]] = sig
            listed_roots = {str(m.inside) for m in roots if str(m.inside) in inside}
            fetch: dict[str, Sig] = {}
            for path, sig in inside.items():
                known = self._known.get(path)
                if known != sig or (path in self._inside_racy and self._host_unchanged(path)):
                    fetch[path] = sig
            self._make_folders({p: s for p, s in fetch.items() if s[0] == "d"})
            files = sorted(p for p, s in fetch.items() if s[0] != "d")
            for batch in _chunks(files):
                self._receive(batch, int(time.time()), inside_now)
            self._forget(
                [
                    p
                    for p in self._known
                    if p not in inside and any(_within(p, r) for r in listed_roots)
                ]
            )

    def _make_folders(self, folders: Mapping[str, Sig]) -> None:
        for path in sorted(folders):
            found = self._host_of(path)
            if found is None or not self._contained(*found):
                continue
            host = found[1]
            if host.is_symlink() or (host.exists() and not host.is_dir()):
                host.unlink()
            host.mkdir(parents=True, exist_ok=True)
            os.chmod(host, folders[path][3])
            self._known[path] = folders[path]

    def _receive(self, batch: list[str], host_now: int, inside_now: int) -> None:
        relative = [p.lstrip("/") for p in batch]
        wanted = set(relative)
        command = ["exec", self.container, "tar", "-cf", "-", "-C", "/", *relative]
        with _Piped(self.engine, command, into=False) as piped:
            try:
                with tarfile.open(fileobj=piped.stream, mode="r|") as tar:
                    for member in tar:
                        if member.name in wanted:
                            self._write(tar, member, host_now, inside_now)
            except tarfile.ReadError:
                pass  # an empty or cut stream: tar's status and message say why
        status, text = piped.status, piped.errors
        # A file that changed or vanished while tar read it (another command still runs) is
        # caught up with by the next copy; anything else is a failure.
        if status != 0 and not all(_RACE.search(line) for line in text.splitlines()):
            raise EngineFailed(explain(self.engine.name, "copy files out of the container", text))

    def _write(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, host_now: int, inside_now: int
    ) -> None:
        inside = "/" + member.name
        found = self._host_of(inside)
        if found is None or not self._contained(*found):
            return
        host = found[1]
        host.parent.mkdir(parents=True, exist_ok=True)
        if host.is_dir() and not host.is_symlink():
            shutil.rmtree(host)
        # Unique per write: two containers (a package's own image beside the run's) may bring
        # the same file back at once, and each must rename only its own whole copy.
        unique = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        temporary = host.with_name(f".wheelyard-copy-{unique}-{host.name}")
        sha256 = None
        try:
            if member.isreg():
                source = tar.extractfile(member)
                assert source is not None
                reader = _Hashing(source)
                with temporary.open("wb") as fh:
                    shutil.copyfileobj(reader, fh)
                sha256 = reader.hexdigest()
                os.chmod(temporary, member.mode & 0o7777)
                os.utime(temporary, (member.mtime, member.mtime))
            elif member.issym():
                temporary.unlink(missing_ok=True)
                os.symlink(member.linkname, temporary)
            elif member.islnk():
                target = self._host_of("/" + member.linkname)
                if target is None or not target[1].is_file():
                    return
                shutil.copy2(target[1], temporary)
            else:
                return
            os.replace(temporary, host)
        except BaseException:
            temporary.unlink(missing_ok=True)  # never leave a partial copy beside the file
            raise
        st = os.lstat(host)  # as the container has it: same size, mtime, mode, link target
        sig = _sig(st.st_mode, st.st_size, st.st_mtime)
        if sig is not None:
            self._known[inside] = sig
            self._mark(inside, sig, host_now, inside_now, sha256)
            self.copied_out += 1

    def _forget(self, deleted: list[str]) -> None:
        """Delete on the host what the container deleted, unless the host changed it since."""
        for path in sorted(deleted, reverse=True):
            known = self._known.pop(path)
            self._host_racy.pop(path, None)
            self._inside_racy.discard(path)
            found = self._host_of(path)
            if found is None or not self._contained(*found) or self._host_sig(path) != known:
                continue
            host = found[1]
            if known[0] == "d":
                with contextlib.suppress(OSError):  # (the host put something there since)
                    host.rmdir()
            else:
                host.unlink(missing_ok=True)


class _Piped:
    """An engine command with a tar stream on its stdin (``into``) or stdout; its exit status
    and what it wrote to stderr are there once the block ends."""

    def __init__(self, engine: Engine, args: list[str], into: bool) -> None:
        self.engine, self.args, self.into = engine, args, into
        self.status = -1
        self.errors = ""

    def __enter__(self) -> _Piped:
        self._errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.engine.command(*self.args),
            stdin=subprocess.PIPE if self.into else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if self.into else subprocess.PIPE,
            stderr=self._errors,
            env=dict(self.engine.environ),
        )
        stream = self.process.stdin if self.into else self.process.stdout
        assert stream is not None
        self.stream: IO[bytes] = stream
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.into:  # read to the end: tar's padding, so it does not fail writing it
            while self.stream.read(1 << 16):
                pass
        with contextlib.suppress(BrokenPipeError):
            self.stream.close()
        self.status = self.process.wait()
        self._errors.seek(0)
        self.errors = self._errors.read().decode(errors="replace")
        self._errors.close()


class _Capped:
    """A pipe tarfile writes to (it asks where it is), which takes nothing past ``limit``."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.written = 0
        self.limit: int | None = None

    def write(self, data: bytes) -> int:
        if self.limit is not None:
            data = data[: max(0, self.limit - self.written)]
        self.raw.write(data)
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written


class _Hashing:
    """A file object's reads, hashed on the way."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.hash.update(data)
        return data

    def hexdigest(self) -> str:
        return self.hash.hexdigest()


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _info_sig(info: tarfile.TarInfo) -> Sig | None:
    """The state a file sent as ``info`` has in the container."""
    if info.isdir():
        return ("d", 0, 0, info.mode & 0o7777)
    if info.issym():
        return ("l", len(os.fsencode(info.linkname)), 0, 0)
    if info.isreg():
        return ("f", info.size, int(info.mtime), info.mode & 0o7777)
    return None
