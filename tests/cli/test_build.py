"""``wheelyard build``'s own argument handling (in-process, nothing is built)."""

from __future__ import annotations

import subprocess
import sys
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


def test_build_loads_the_builder_alone() -> None:
    """``wheelyard build`` parses with its own module only: no database, server or S3 stack
    (it replaces its process once before running: loading them would be paid twice)."""
    code = (
        "import sys\n"
        "from wheelyard.cli.main import build_parser\n"
        "parser = build_parser('build')\n"
        "args = parser.parse_args(['build', '.', '--plan'])\n"
        "assert args.command == 'build', args\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'uvicorn', 'starlette', 'boto3') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "everything = build_parser(None)\n"
        "names = everything._subparsers._group_actions[0].choices\n"
        "assert {'serve', 'build', 'user', 'token'} <= set(names), names\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
