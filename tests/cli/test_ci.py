"""``wheelyard ci init`` as a user runs it: the file lands where the CI service reads it, an
existing one is kept without --force, and every bad input is one line and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wheelyard.ci.templates import SERVICES
from wheelyard.cli.main import main


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_init_writes_the_service_file(
    service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    assert main(["ci", "init", service, "--root", str(tmp_path)]) == 0
    target = tmp_path / SERVICES[service].path
    data = yaml.safe_load(target.read_text())
    assert isinstance(data, dict) and data
    captured = capsys.readouterr()
    assert f"wrote {target}" in captured.out
    assert "WHEELYARD_TOKEN" in captured.out  # says which secrets to set
    assert "no requirements.txt" not in captured.err


def test_existing_file_is_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "wheelyard.yml"
    target.parent.mkdir(parents=True)
    target.write_text("mine\n")
    assert main(["ci", "init", "github", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"wheelyard: error: {target} exists: pass --force to overwrite it"
    ]
    assert target.read_text() == "mine\n"
    assert main(["ci", "init", "github", "--root", str(tmp_path), "--force"]) == 0
    assert "wheelyard build --container --upload" in target.read_text()
    assert "pull_request:" not in target.read_text()  # pull requests: skip by default
    capsys.readouterr()
    args = ["ci", "init", "github", "--root", str(tmp_path), "--force", "--pull-requests", "build"]
    assert main(args) == 0
    assert "\n  pull_request:\n" in target.read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--folder", "../elsewhere"], "--folder '../elsewhere': give a plain path"),
        (["--install", "'unclosed"], "--install"),
        (["--root", "/nonexistent/repo"], "/nonexistent/repo is not a directory"),
    ],
)
def test_bad_input_is_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["ci", "init", "gitlab", "--root", str(tmp_path), *extra]
    if "--root" in extra:
        args = ["ci", "init", "gitlab", *extra]
    assert main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wheelyard: error: ") and message in lines[0]
    assert not (tmp_path / ".gitlab-ci.yml").exists()


def test_missing_requirements_and_default_install_are_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ci", "init", "travis", "--root", str(tmp_path), "--folder", "deps"]) == 0
    err = capsys.readouterr().err
    assert f"no requirements.txt in {tmp_path / 'deps'}" in err
    assert "--install" in err
    assert (
        "wheelyard build --container --upload --report wheelyard-report.json deps"
        in (tmp_path / ".travis.yml").read_text()
    )
