"""``wheelyard build``'s own argument handling (in-process, nothing is built)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelyard.cli.main import main


def test_container_that_swallowed_the_folder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "requirements.txt").write_text("six\n")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--container", "deps"]) == 1
    assert "write `wheelyard build deps --container` or `--container=IMAGE`" in (
        capsys.readouterr().err
    )
