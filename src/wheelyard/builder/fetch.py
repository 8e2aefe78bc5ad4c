"""Fetching the wheels a plan does not build: from the yard (its download API, through the yard
client, which carries the token) or upstream (the interpreter's own pip, so the user's index
settings apply); and sdists from an upstream URL. Writes go through a temporary file and a
rename, so a killed run never leaves a truncated file."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.plan import Step
from wheelyard.builder.runners import Runner
from wheelyard.client import YardClient, save_stream


def download(url: str, target: Path) -> None:
    """Stream an upstream ``url`` (not a yard: no token) to ``target``, atomically."""
    with httpx.stream("GET", url, follow_redirects=True, timeout=300) as resp:
        resp.raise_for_status()
        save_stream(resp, target)


def copy_atomically(source: Path, target: Path) -> None:
    """A local wheel (a find-links folder) into the wheelhouse, through a temporary file."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    with open(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)
    Path(name).replace(target)


def fetch(
    runner: Runner,
    wheelhouse: Path,
    interp: Interpreter,
    step: Step,
    yard: tuple[YardClient, str] | None,
    direct: bool = False,
) -> Path:
    """The wheel of a yard or upstream step, in ``wheelhouse`` (kept when already there).
    ``direct``: download an upstream wheel by its URL (uv resolved it: pip's configuration
    plays no part, builder/uv.py), not through pip."""
    target = wheelhouse / step.filename
    if target.exists():
        return target
    if step.source == "yard":
        assert yard is not None, "a yard step needs the yard's client and owner"
        client, owner = yard
        client.download(
            f"/api/download/{owner}/{step.project}/{step.version}/{step.filename}", target
        )
        return target
    if direct and step.url.startswith(("https://", "http://")):
        download(step.url.split("#", 1)[0], target)
        return target
    if direct and step.url.startswith("file://"):
        copy_atomically(Path(unquote(urlparse(step.url).path)), target)
        return target
    # Upstream: the interpreter's pip fetches, so the user's index credentials and certs apply.
    log = wheelhouse / "logs" / f"download-{step.filename}.log"
    log.unlink(missing_ok=True)
    cmd = [str(interp.executable), "-m", "pip", "--disable-pip-version-check", "download"]
    status = runner.run([*cmd, "--no-deps", "-d", str(wheelhouse), step.url], log)
    if status != 0 or not target.exists():
        raise OSError(f"pip could not download it; see {log}")
    return target
