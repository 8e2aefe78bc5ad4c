"""What ``wheelyard ci init`` pip-installs by default: the commit wheelyard was installed from,
read from the PEP 610 ``direct_url.json`` pip writes, when that is a VCS URL (wheelyard is not
on PyPI); otherwise ``wheelyard==VERSION``."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

from tests.helpers import client_env
from wheelyard.ci.templates import RELEASE_INSTALL, render, vcs_requirement
from wheelyard.testing import make_sdist


def _vcs(url: str) -> dict[str, object]:
    return {"url": url, "vcs_info": {"vcs": "git", "commit_id": COMMIT}}


def _dist(tmp_path: Path, direct_url: object | None) -> metadata.Distribution:
    info = tmp_path / "somepkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: somepkg\nVersion: 1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return metadata.Distribution.at(info)


COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (
            _vcs("https://git.example/team/somepkg.git"),
            f"somepkg @ git+https://git.example/team/somepkg.git@{COMMIT}",
        ),
        (  # ssh's git@ stays; a token or password never reaches a workflow
            _vcs("ssh://git@git.example/somepkg.git"),
            f"somepkg @ git+ssh://git@git.example/somepkg.git@{COMMIT}",
        ),
        (
            _vcs("https://ghp_secret@git.example/p.git"),
            f"somepkg @ git+https://git.example/p.git@{COMMIT}",
        ),
        (
            _vcs("https://me:pw@git.example:8443/p.git"),
            f"somepkg @ git+https://git.example:8443/p.git@{COMMIT}",
        ),
        ({"url": "file:///src/somepkg", "dir_info": {"editable": True}}, None),
        ({"url": "https://h/somepkg-1.0.tar.gz", "archive_info": {}}, None),
        (None, None),  # installed from an index: no direct_url.json
        ("not a mapping", None),
    ],
)
def test_vcs_requirement(tmp_path: Path, direct_url: object, expected: str | None) -> None:
    found = vcs_requirement(_dist(tmp_path, direct_url))
    assert (shlex.split(found) if found else None) == ([expected] if expected else None)


def test_the_requirement_renders_as_one_pip_argument(tmp_path: Path) -> None:
    url = _vcs("https://git.example/w.git")
    install = vcs_requirement(_dist(tmp_path, url))
    assert install is not None
    text = render("gitlab", "skip", ".", install)
    line = next(x for x in text.splitlines() if "pip install" in x)
    words = shlex.split(line.split("- ", 1)[1])
    assert words[-1] == f"somepkg @ git+https://git.example/w.git@{COMMIT}"
    assert RELEASE_INSTALL.startswith("wheelyard==")


@pytest.mark.e2e
def test_pip_installed_from_git_gives_that_commit(tmp_path: Path) -> None:
    """Real pip, real git: what pip records for a package installed from a git URL is read
    back as the requirement of that very commit."""
    # a project with an in-tree build backend (no build requirements: no index needed)
    with tarfile.open(make_sdist(tmp_path, "gitpkg", "1.0")) as sdist:
        sdist.extractall(tmp_path, filter="data")
    repo = tmp_path / "gitpkg-1.0"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run(
        [*pip, "--target", str(target), f"git+file://{repo}"],
        env=client_env(),
        check=True,
        capture_output=True,
    )
    [info] = target.glob("gitpkg-1.0.dist-info")
    found = vcs_requirement(metadata.Distribution.at(info))
    assert found is not None
    assert shlex.split(found) == [f"gitpkg @ git+file://{repo}@{commit}"]
