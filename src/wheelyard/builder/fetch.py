"""Fetching the wheels a plan does not build: from the yard (its download API, with the
token) or upstream (the interpreter's own pip, so the user's index settings apply). Writes go
through a ``.part`` file and a rename, so a killed run never leaves a truncated wheel."""

from __future__ import annotations

from pathlib import Path

import httpx

from wheelyard.builder.envs import BuildEnvironment
from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.plan import Step


def download(url: str, target: Path, headers: dict[str, str] | None = None) -> None:
    """Stream ``url`` to ``target`` through a ``.part`` file and a rename."""
    tmp = target.with_name(target.name + ".part")
    with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=300) as resp:
        resp.raise_for_status()
        with tmp.open("wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)
    tmp.replace(target)  # a killed run never leaves a truncated wheel behind


def fetch(
    env: BuildEnvironment,
    wheelhouse: Path,
    interp: Interpreter,
    step: Step,
    yard: tuple[str, str] | None,
    token: str | None,
) -> Path:
    """The wheel of a yard or upstream step, in ``wheelhouse`` (kept when already there)."""
    target = wheelhouse / step.filename
    if target.exists():
        return target
    if step.source == "yard":
        assert yard is not None, "a yard step needs the yard's URL and owner"
        url, owner = yard
        base = f"{url.rstrip('/')}/api/download/{owner}/{step.project}/{step.version}/"
        download(base + step.filename, target, {"Authorization": f"token {token}"} if token else {})
        return target
    # Upstream: the interpreter's pip fetches, so the user's index credentials and certs apply.
    log = wheelhouse / "logs" / f"download-{step.filename}.log"
    log.unlink(missing_ok=True)
    cmd = [str(interp.executable), "-m", "pip", "--disable-pip-version-check", "download"]
    status = env.run([*cmd, "--no-deps", "-d", str(wheelhouse), step.url], log)
    if status != 0 or not target.exists():
        raise OSError(f"pip could not download it; see {log}")
    return target
