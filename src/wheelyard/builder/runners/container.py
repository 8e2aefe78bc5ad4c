"""The container runner: everything the builder runs — interpreter probes, resolution,
build-setup.sh, builds, repairs — runs in one container of a build image (a PyPA manylinux
image by default), started on first use, reused for every command of the run and removed at
the end (also on Ctrl-C, a failure or SIGTERM; if wheelyard is killed outright, the
container's main process sees its stdin close and the engine removes it). That main process
is a command server (``server.py``): commands are requests on its stdin, not one engine
``exec`` each (still the way in an image without a Python for the server).

Files move only through the folders named in a :class:`PathMap`: the project folder and the
wheelhouse (``share``), a scratch folder of the run's own, and the host's CA bundle (read-only,
for TLS-intercepting networks). They are bind mounts, or copied in before and out after each
command where the engine cannot see the host's files (``transfer.py``: the ``copy`` mode, for
docker-in-docker). Commands are written with host paths and rewritten to the container's. The
container's environment holds only what a command is given plus pip's portable settings and
proxy variables: never the upload token, and never the token file. Verification runs in a
fresh container of the verify image (:meth:`clean`), without build-setup.sh, so a library that
was installed for the build but not grafted is missing there."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from wheelyard.builder.runners import engines, server, transfer
from wheelyard.builder.runners.commands import Commands, Launch
from wheelyard.builder.runners.engines import Engine
from wheelyard.builder.runners.images import image_for
from wheelyard.builder.runners.paths import PathMap
from wheelyard.builder.secret import SECRET_VARIABLES, token_file
from wheelyard.errors import EngineFailed, InvalidInput

ROOT = "/wheelyard"
CA_INSIDE = f"{ROOT}/ca-bundle.crt"
LABEL = "io.wheelyard.run"
NETWORK_VARIABLE = "WHEELYARD_CONTAINER_NETWORK"
_CA_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
_PASSED = {"SOURCE_DATE_EPOCH", "http_proxy", "https_proxy", "no_proxy"}
_PASSED |= {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
_LIVE: set[ContainerRunner] = set()  # started containers, for a signal to remove at once


def _portable(name: str, value: str, paths: PathMap) -> bool:
    """Whether a host variable means the same inside: not a secret, and not naming a host
    path the container cannot see (a pip.conf, --find-links folder or constraints file)."""
    if name in SECRET_VARIABLES:
        return False
    if value.startswith("/") and value != "/dev/null":
        return all(paths.covers(Path(part)) for part in value.split())
    return True


class ContainerRunner(Commands):
    name = "container"
    ephemeral = True

    def __init__(
        self,
        environ: Mapping[str, str],
        image: str,
        engine: str | None = None,
        verify_image: str | None = None,
        *,
        paths: PathMap | None = None,
        found: Engine | None = None,
        exchange: Path | None = None,
        purpose: str = "build",
        transfer_mode: str | None = None,
        network: str | None = None,
    ) -> None:
        self.environ = {k: v for k, v in environ.items() if k not in SECRET_VARIABLES}
        self.image = image_for(image)
        self.verify_image = image_for(verify_image) if verify_image else self.image
        self.engine_choice = engine or self.environ.get(engines.VARIABLE) or None
        self.engine = found
        chosen = transfer_mode or self.environ.get(transfer.VARIABLE) or "auto"
        if chosen not in transfer.MODES:
            known = ", ".join(transfer.MODES)
            raise InvalidInput(f"unknown container transfer {chosen!r} (known: {known})")
        self.transfer = chosen  # bind or copy once entered
        self._copier: transfer.Copier | None = None
        self.network = network or self.environ.get(NETWORK_VARIABLE) or None
        self.purpose = purpose
        self.paths = paths or PathMap(ROOT)
        self._owns_paths = paths is None
        self._name = f"wheelyard-{purpose}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: server.Channel | None = None  # None: one exec per command
        self._lock = threading.Lock()
        self._exchange = exchange  # the host side of the scratch mount
        self._variables: dict[str, str] = {}
        self._image_id: str | None = None
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}
        self._variants: dict[str, ContainerRunner] = {}
        # The verify container, started in the background once the build container runs,
        # so verification does not wait for it (clean() takes it).
        self._warming: threading.Thread | None = None
        self._spare: ContainerRunner | None = None
        # Removals begun before the end (release(), a verify container done with), so the
        # engine's work overlaps what the run does next; __exit__ waits for them.
        self._removing: list[threading.Thread] = []
        self._released = False

    # -- life cycle ------------------------------------------------------------------------
    def __enter__(self) -> ContainerRunner:
        if self.engine is None:
            self.engine = engines.find(self.engine_choice, self.environ)
        self.transfer = transfer.choose(self.transfer, self.engine)
        if self._owns_paths:
            self._exchange = Path(tempfile.mkdtemp(prefix="wheelyard-container-"))
            self.paths.add(self._exchange, inside=f"{ROOT}/scratch")
            ca = next((self.environ[v] for v in _CA_VARIABLES if self.environ.get(v)), None)
            if ca and Path(ca).is_file():
                self.paths.add(Path(ca), read_only=True, inside=CA_INSIDE)
            if threading.current_thread() is threading.main_thread():
                # Ctrl-C or SIGTERM: containers go first, so builds running in them end now
                # rather than when they finish; then the run unwinds as on Ctrl-C.
                self._previous = {
                    signum: signal.signal(signum, _interrupt)
                    for signum in (signal.SIGINT, signal.SIGTERM)
                    if signal.getsignal(signum) is not signal.SIG_IGN  # (nohup, background)
                }
        self._variables = self._base_variables()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.release()
            for thread in self._removing:
                thread.join()
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous = {}
            if self._exchange is not None and self._owns_paths:
                shutil.rmtree(self._exchange, ignore_errors=True)

    def release(self) -> None:
        """No command runs here any more: remove this container, its variants and the spare
        verify container, in the background (each removal is an engine call of its own, all
        at once); ``__exit__`` waits for them."""
        if self._released:
            return
        self._released = True
        if self._warming is not None:
            self._warming.join()
        spare, self._spare = self._spare, None
        for runner in [*self._variants.values(), self, *([spare] if spare else [])]:
            self._remove_later(runner._remove)

    def _remove_later(self, remove: Callable[[], None]) -> None:
        thread = threading.Thread(target=remove, name="wheelyard-container-removal")
        thread.start()
        self._removing.append(thread)

    def _base_variables(self) -> dict[str, str]:
        found = {
            k: v
            for k, v in self.environ.items()
            if (k.startswith("PIP_") or k in _PASSED) and _portable(k, v, self.paths)
        }
        if any(m.inside.as_posix() == CA_INSIDE for m in self.paths.mounts):
            found.update({v: CA_INSIDE for v in _CA_VARIABLES})
        return found

    def share(self, *folders: Path) -> None:
        refused = token_file()
        for folder in folders:
            folder = Path(folder).absolute()
            if refused is not None and (folder == refused or folder in refused.parents):
                raise InvalidInput(
                    f"the token file {refused} is inside {folder}, which the build container "
                    "sees: keep the token file outside the project folder and the wheelhouse"
                )
            if self.paths.covers(folder):
                continue
            if self._process is not None and self.transfer != "copy":
                raise EngineFailed(f"{folder} was shared after the container started")
            folder.mkdir(parents=True, exist_ok=True)
            self.paths.add(folder)
        self._variables = self._base_variables()

    def _start(self) -> None:
        with self._lock:
            if self._process is not None:
                return
            assert self.engine is not None, "enter the runner first"
            if self._released:
                raise EngineFailed(f"the {self.purpose} container was released: no more commands")
            image = self.verify_image if self.purpose == "verify" else self.image
            args = ["run", "--rm", "-i", "--name", self._name, "--label", f"{LABEL}={os.getpid()}"]
            if self.network:
                args += ["--network", self.network]
            for m in self.paths.mounts if self.transfer == "bind" else ():
                mode = ",ro" if m.read_only else ""
                args += ["--mount", f"type=bind,source={_csv(m.host)},target={m.inside}{mode}"]
            # The main process, the command server (or cat where the image has no Python),
            # lives as long as wheelyard holds its stdin open.
            args += ["--entrypoint", "", image, "/bin/sh", "-c", server.MAIN, "sh", server.SERVER]
            with tempfile.TemporaryFile() as errors:
                process = subprocess.Popen(
                    self.engine.command(*args),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=dict(self.engine.environ),
                )
                assert process.stdout is not None
                line = process.stdout.readline().decode(errors="replace").strip()
                if line not in (server.READY, server.SERVING):
                    process.kill()
                    process.wait()
                    errors.seek(0)
                    text = errors.read().decode(errors="replace")
                    raise EngineFailed(engines.explain(self.engine.name, f"start {image}", text))
            if line == server.SERVING:
                assert process.stdin is not None
                self._channel = server.Channel(process.stdin, process.stdout, self._name)
            self._process = process
            _LIVE.add(self)
            if self.transfer == "copy":
                self._copier = transfer.Copier(self.engine, self._name, self.paths, self._inside)
            if self.purpose == "build" and self._owns_paths and self._warming is None:
                self._warming = threading.Thread(target=self._warm, daemon=True)
                self._warming.start()

    def _warm(self) -> None:
        fresh = self._fresh().__enter__()
        try:
            fresh._start()
        except EngineFailed:
            return  # clean() starts one when it is needed, and then says why it cannot
        self._spare = fresh

    def _remove(self) -> None:
        process, self._process = self._process, None
        self._channel = None
        _LIVE.discard(self)
        if process is None or self.engine is None:
            return
        if self.engine.name == "docker" and os.getuid() != 0 and self.transfer == "bind":
            # A rootful daemon's root wrote these: give them back to the user who ran us
            # (rootless podman maps its root to that user already).
            writable = [str(m.inside) for m in self.paths.mounts if not m.read_only]
            owner = f"{os.getuid()}:{os.getgid()}"
            self.engine.call("exec", self._name, "chown", "-R", owner, *writable, timeout=300)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        # The main process exits when its stdin closes (the server kills what still runs), and
        # podman's client returns once --rm removed the container: no `rm` call of its own
        # then. Docker's daemon removes it after the client returns, so `rm` makes sure.
        try:
            process.wait(timeout=10)
            if self.engine.name == "podman":
                return
        except subprocess.TimeoutExpired:
            pass
        force = ["rm", "--force", self._name]
        if self.engine.name == "podman":
            force.insert(2, "--time=0")
        self.engine.call(*force, timeout=60)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    # -- commands --------------------------------------------------------------------------
    def _launch(self, cmd: list[str], env: Mapping[str, str] | None, cwd: Path | None) -> Launch:
        self._start()
        assert self.engine is not None
        if self._copier is not None:
            self._copier.push()
        merged = {**self._variables, **(env or {})}
        variables = {
            name: self.paths.inside(value)
            for name, value in merged.items()
            if name not in SECRET_VARIABLES
        }
        # Relative to wheelyard's own working directory, as on the host.
        workdir = self.paths.inside(str(Path(cwd).absolute())) if cwd else "/"
        inside = [self.paths.inside(a) for a in cmd]
        where = f"[{self._name}] "
        if self._channel is not None:
            return Launch(inside, variables, where=where, channel=self._channel, workdir=workdir)
        args = ["exec", "-i", "--workdir", workdir]
        for name, value in variables.items():
            args += ["--env", f"{name}={value}"]
        argv = self.engine.command(*args, self._name, *inside)
        return Launch(argv, self.engine.environ, where=where)

    def _inside(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """A command of the container's own (paths as it sees them), without copying before
        or after: through the server, else one exec."""
        assert self.engine is not None
        channel = self._channel
        if channel is None:
            return self.engine.call("exec", self._name, *argv)
        out, err = io.BytesIO(), io.BytesIO()
        code = channel.start(argv, {}, "/", out=out, err=err).wait()
        return subprocess.CompletedProcess(argv, code, _text(out), _text(err))

    def _landed(self) -> None:
        if self._copier is not None and self._process is not None:
            self._copier.pull()

    @contextmanager
    def scratch(self, prefix: str) -> Iterator[Path]:
        assert self._exchange is not None, "enter the runner first"
        with tempfile.TemporaryDirectory(prefix=prefix, dir=self._exchange) as tmp:
            yield Path(tmp)

    def outside(self, text: str) -> str:
        return self.paths.outside(text)

    def glob(self, pattern: str) -> list[Path]:
        script = 'for f in $1; do [ -e "$f" ] && echo "$f"; done; true'
        result = self.capture(["/bin/sh", "-c", script, "glob", pattern])
        return [Path(line) for line in sorted(result.stdout.splitlines()) if line]

    def interpreter_candidates(self) -> list[Path]:
        """The manylinux layout (``/opt/python/<tag>/bin/python``), else ``python3``."""
        return (
            self.glob("/opt/python/*/bin/python")
            or self.glob("/usr/local/bin/python3")
            or (self.glob("/usr/bin/python3"))
        )

    def repair_command(self) -> tuple[list[str], dict[str, str]]:
        return ["auditwheel"], {}  # the image's own: its policy is the image's

    def variant(self, image: str) -> ContainerRunner:
        reference = image_for(image)
        if reference == self.image:
            return self
        with self._lock:
            if reference not in self._variants:
                other = ContainerRunner(
                    self.environ,
                    reference,
                    paths=self.paths,
                    found=self.engine,
                    exchange=self._exchange,
                    transfer_mode=self.transfer,
                    network=self.network,
                )
                self._variants[reference] = other.__enter__()
            return self._variants[reference]

    # -- verification ------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """The engine, the image and its digest (looked up once)."""
        image = self.verify_image if self.purpose == "verify" else self.image
        if self._image_id is None and self.engine is not None:
            result = self.engine.call("image", "inspect", "--format", "{{.Id}}", image)
            found = result.stdout.strip() if result.returncode == 0 else "unknown"
            # docker prints the digest with its algorithm, podman without
            self._image_id = found if ":" in found or found == "unknown" else f"sha256:{found}"
        return f"{self.engine.name if self.engine else '?'} {image}@{self._image_id}"

    def pristine(self) -> ContainerRunner:
        """The verify container (started with this one, kept for verification) when it is of
        the same image: same interpreters at the same paths, and never a build-setup.sh."""
        if self.verify_image != self.image or not self._owns_paths:
            return self
        self._start()  # (which starts the verify container beside it)
        if self._warming is not None:
            self._warming.join()
        return self._spare or self

    @contextmanager
    def clean(self) -> Iterator[ContainerRunner]:
        """A fresh container of the verify image, seeing the same folders, without
        build-setup.sh or anything it installed (started already, when the build container
        was); removed when the block ends."""
        if self._warming is not None:
            self._warming.join()
        fresh, self._spare = self._spare, None
        entered = (fresh or self._fresh()).__enter__()
        try:
            yield entered
        finally:
            # Removed while the run goes on (its upload, its summary); __exit__ waits.
            self._remove_later(lambda: entered.__exit__(None, None, None))

    def _fresh(self) -> ContainerRunner:
        return ContainerRunner(
            self.environ,
            self.image,
            verify_image=self.verify_image,
            paths=self.paths,
            found=self.engine,
            exchange=self._exchange,
            purpose="verify",
            transfer_mode=self.transfer,
            network=self.network,
        )


def _text(data: io.BytesIO) -> str:
    return data.getvalue().decode(errors="replace")


def _csv(path: Path) -> str:
    """A path as one field of ``--mount``'s comma-separated value (docker reads it as CSV)."""
    text = str(path)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"') else text


def _interrupt(signum: int, frame: FrameType | None) -> None:
    for runner in list(_LIVE):
        runner._remove()
    raise KeyboardInterrupt
