"""Rendering and writing the CI workflow of one CI service from its template (package data).

A template is the workflow file itself with ``@NAME@`` placeholders and optional blocks between
``#[pull-requests`` and ``#]`` lines, kept only when pull requests are to be built (never
published). The rules the generated files keep — upload only on a push to a branch, the yard's
URL, owner and token only from the CI's secret store, the token only in the environment — are
written out in the templates and checked by tests against the parsed files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from wheelyard import __version__
from wheelyard.errors import Conflict, InvalidInput

PullRequests = Literal["skip", "build"]


@dataclass(frozen=True)
class Service:
    template: str  # package data file in wheelyard/ci/
    path: str  # where the CI service reads its workflow, relative to the repository root


SERVICES = {
    "github": Service("github.yml", ".github/workflows/wheelyard.yml"),
    "gitlab": Service("gitlab-ci.yml", ".gitlab-ci.yml"),
    "travis": Service("travis.yml", ".travis.yml"),
}
BUILD = "wheelyard build --container"
REPORT = "wheelyard-report.json"
RELEASE_INSTALL = f"wheelyard=={__version__}"
_BLOCK_START, _BLOCK_END = "#[pull-requests", "#]"
# What may stand unquoted in a YAML plain scalar after a command word (no ": ", " #", newlines).
_PLAIN = re.compile(r"[A-Za-z0-9_.,/=<>~!+@%'\[\]-]+(?: [A-Za-z0-9_.,/=<>~!+@%'\[\]:-]+)*")
_FOLDER = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


def vcs_requirement(dist: metadata.Distribution) -> str | None:
    """``'NAME @ git+URL@COMMIT'`` (quoted for a shell) when ``dist`` was installed from a
    version control checkout, by its PEP 610 ``direct_url.json``; else None (an index, a
    local folder, an archive). A password in the URL is left out."""
    try:
        raw = dist.read_text("direct_url.json")
        data = json.loads(raw) if raw else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("vcs_info"), dict):
        return None
    vcs, url = data["vcs_info"].get("vcs"), data.get("url")
    commit = data["vcs_info"].get("commit_id")
    if not (isinstance(vcs, str) and isinstance(url, str) and isinstance(commit, str)):
        return None
    parts = urlsplit(url)
    user = parts.username
    if user is not None and (parts.password is not None or user != "git"):
        # a name and password, or a token as the name: never written into a workflow
        # (ssh's conventional git@ stays)
        netloc = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=netloc)
    name = dist.metadata["Name"]
    return shlex.quote(f"{name} @ {vcs}+{urlunsplit(parts)}@{commit}")


def default_install() -> str:
    """What the workflow pip-installs by default: the commit this wheelyard was installed from
    when it came from a VCS URL (wheelyard is not on PyPI), else ``wheelyard==VERSION``."""
    try:
        found = vcs_requirement(metadata.distribution("wheelyard"))
    except metadata.PackageNotFoundError:
        found = None
    return found or RELEASE_INSTALL


DEFAULT_INSTALL = default_install()


def _plain(what: str, value: str) -> str:
    if not _PLAIN.fullmatch(value) or ": " in value or value.endswith(":"):
        raise InvalidInput(f"{what} {value!r} cannot stand in a workflow file: keep it simple")
    return value


def _folder(folder: str) -> str:
    """The requirements folder relative to the repository root, '' for the root itself."""
    path = PurePosixPath(folder)
    if folder in ("", ".") or path == PurePosixPath("."):
        return ""
    if path.is_absolute() or ".." in path.parts or not _FOLDER.fullmatch(str(path)):
        raise InvalidInput(
            f"--folder {folder!r}: give a plain path inside the repository (letters, digits, ._-/)"
        )
    return str(path)


def render(
    service: str,
    pull_requests: PullRequests = "skip",
    folder: str = ".",
    install: str = DEFAULT_INSTALL,
) -> str:
    """The workflow text for ``service`` (a key of :data:`SERVICES`)."""
    if service not in SERVICES:
        raise InvalidInput(f"unknown CI service {service!r} (known: {', '.join(SERVICES)})")
    where = _folder(folder)
    try:
        words = shlex.split(install)
    except ValueError as exc:
        raise InvalidInput(f"--install {install!r}: {exc}") from None
    if not words:
        raise InvalidInput("--install: say what pip installs, e.g. 'wheelyard==0.1.0'")
    pip_args = _plain("--install", " ".join(shlex.quote(w) for w in words))
    build = f"{BUILD} --report {REPORT}" + (f" {where}" if where else "")
    build_upload = f"{BUILD} --upload --report {REPORT}" + (f" {where}" if where else "")
    values = {
        "VERSION": __version__,
        "INSTALL": pip_args,
        "BUILD": build,
        "BUILD_UPLOAD": build_upload,
        "FOLDER_PREFIX": f"{where}/" if where else "",
    }
    text = resources.files("wheelyard.ci").joinpath(SERVICES[service].template).read_text()
    lines: list[str] = []
    keep = True
    for line in text.splitlines(keepends=True):
        if line.rstrip() == _BLOCK_START:
            keep = pull_requests == "build"
        elif line.rstrip() == _BLOCK_END:
            keep = True
        elif keep:
            lines.append(line)
    rendered = "".join(lines)
    for name, value in values.items():
        rendered = rendered.replace(f"@{name}@", value)
    left = re.search(r"@[A-Z_]+@", rendered)
    assert left is None, f"template {service} names an unknown placeholder {left.group()}"
    return rendered


def write(service: str, root: Path, text: str, force: bool = False) -> Path:
    """Write ``text`` to ``service``'s workflow path under ``root`` atomically; an existing
    file is replaced only with ``force``."""
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a directory")
    target = root / SERVICES[service].path
    if (target.exists() or target.is_symlink()) and not force:
        raise Conflict(f"{target} exists: pass --force to overwrite it")
    if target.is_dir():
        raise InvalidInput(f"{target} is a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
