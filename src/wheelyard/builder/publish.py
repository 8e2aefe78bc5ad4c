"""Publishing a wheelhouse to a label of the yard: files the owner already holds (same
sha256) only get the label; new files are uploaded through the PyPI upload API; a file name
the owner holds with other bytes is reported, never overwritten."""

from __future__ import annotations

import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name, parse_wheel_filename

from wheelyard.builder.yardquery import held_files
from wheelyard.client import YardClient
from wheelyard.digest import file_sha256
from wheelyard.errors import InvalidInput
from wheelyard.yard.names import check_label_name

Action = Literal["uploaded", "labelled", "present", "already", "conflict", "failed"]
_AT_ONCE = 4  # uploads in flight at once
_CI_BRANCH_VARIABLES = ("GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "TRAVIS_BRANCH")


@dataclass(frozen=True)
class Published:
    filename: str
    action: Action
    detail: str = ""


def sanitise_label(branch: str) -> str:
    """A git branch as a label: ``feature/x y`` → ``feature-x-y``."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", branch).strip(".-_")[:100].strip(".-_")
    if not label:
        raise InvalidInput(f"cannot make a label out of branch {branch!r}: pass --label")
    return check_label_name(label)


def default_label(folder: Path, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    for name in _CI_BRANCH_VARIABLES:
        if env.get(name):
            return sanitise_label(env[name])
    result = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=folder, capture_output=True, text=True
    )
    branch = result.stdout.strip()
    if result.returncode != 0 or not branch or branch == "HEAD":
        raise InvalidInput(
            "cannot tell the git branch (not a checkout, or a detached HEAD): pass --label"
        )
    return sanitise_label(branch)


def publish(client: YardClient, owner: str, label: str, wheels: Sequence[Path]) -> list[Published]:
    """Each wheel onto ``label`` of ``owner`` (the client carries the token), several at
    once; a wheel already on the label with the same bytes costs no request ("already")."""
    names = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
    on_label = _flat(held_files(client, owner, names, label))
    todo = sorted(set(wheels), key=lambda p: p.name)
    shas = {wheel: file_sha256(wheel) for wheel in todo}
    already = [w for w in todo if on_label.get(w.name) == shas[w]]
    rest = [w for w in todo if w not in already]
    held = _flat(held_files(client, owner, names)) if rest else {}

    def project(wheels: Sequence[Path]) -> list[Published]:
        return [_one(client, owner, label, w, held.get(w.name), shas[w]) for w in wheels]

    # One project's files one after another (they add to the same release), the first file
    # alone (it may create the label): the yard then never sees two creations of one row.
    done = project(rest[:1])
    by_project: dict[str, list[Path]] = defaultdict(list)
    for wheel in rest[1:]:
        by_project[canonicalize_name(parse_wheel_filename(wheel.name)[0])].append(wheel)
    with ThreadPoolExecutor(_AT_ONCE) as pool:
        for results in pool.map(project, by_project.values()):
            done.extend(results)
    return sorted(
        [*(Published(w.name, "already") for w in already), *done], key=lambda p: p.filename
    )


def _flat(files: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return {name: sha for held in files.values() for name, sha in held.items()}


def _one(
    client: YardClient, owner: str, label: str, wheel: Path, held_sha: str | None, sha: str
) -> Published:
    if held_sha is not None and held_sha != sha:
        return Published(
            wheel.name, "conflict", f"{owner} already holds {wheel.name} with sha256 {held_sha}"
        )
    if held_sha == sha:
        name, version, _b, _t = parse_wheel_filename(wheel.name)
        tagged = client.post(
            f"/api/channels/{owner}/{label}",
            json={"package": str(name), "version": str(version), "basename": wheel.name},
        )
        if tagged.status_code == 201:
            return Published(wheel.name, "labelled")
        # A token without api:write may still upload: the same bytes again only add the label.
    with wheel.open("rb") as fh:
        response = client.post(
            f"/{owner}/label/{label}/",
            data={":action": "file_upload", "sha256_digest": sha},
            files={"content": (wheel.name, fh)},
            timeout=600,
        )
    if response.status_code == 200:
        outcome = response.json().get("outcome")
        return Published(wheel.name, "present" if outcome == "existing" else "uploaded")
    detail = response.json().get("error", response.text) if response.content else ""
    return Published(
        wheel.name,
        "conflict" if response.status_code == 409 else "failed",
        f"{response.status_code}: {detail}",
    )
