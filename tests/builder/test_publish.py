"""The label a build publishes to: from CI variables or the git branch, made a valid label."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wheelyard.builder.publish import default_label, sanitise_label
from wheelyard.errors import InvalidInput


@pytest.mark.parametrize(
    ("branch", "label"),
    [
        ("main", "main"),
        ("feature/new thing", "feature-new-thing"),
        ("release-2026-11", "release-2026-11"),
        ("-x/", "x"),
    ],
)
def test_sanitise(branch: str, label: str) -> None:
    assert sanitise_label(branch) == label


def test_default_label(tmp_path: Path) -> None:
    assert default_label(tmp_path, {"GITHUB_REF_NAME": "dev/x"}) == "dev-x"
    assert default_label(tmp_path, {"CI_COMMIT_REF_NAME": "main"}) == "main"
    with pytest.raises(InvalidInput, match="pass --label"):
        default_label(tmp_path, {})
    subprocess.run(["git", "init", "-q", "-b", "release/2026.11", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    assert default_label(tmp_path, {}) == "release-2026.11"
    with pytest.raises(InvalidInput, match="cannot make a label"):
        sanitise_label("///")
