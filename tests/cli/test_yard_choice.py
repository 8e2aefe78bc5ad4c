"""Admin commands say which yard they act on, and never make a new one by accident.

The commands run in-process (``wheelyard.cli.main.main``) on a real SQLite yard; what they
print is read from the real stdout and stderr.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from wheelyard.cli.common import describe
from wheelyard.cli.main import main
from wheelyard.config import Settings

PASSWORD = "a fine password\n"
CREATE_ALICE = ("user", "create", "alice", "--password-stdin")


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(autouse=True)
def _no_yard_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WHEELYARD_DATA_DIR", "WHEELYARD_DATABASE_URL", "WHEELYARD_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "command",
    [
        CREATE_ALICE,
        ("token", "list", "--user", "alice"),
        ("label", "list", "alice"),
        ("events", "alice"),
        ("check",),
        ("import", "alice", "nothing.whl"),
        ("owner", "private", "alice"),
    ],
)
def test_a_command_refuses_to_make_a_new_yard_without_create(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    typo = tmp_path / "wheelyrad-data"
    status, out, err = run(capsys, monkeypatch, "--data-dir", str(typo), *command, stdin=PASSWORD)
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"wheelyard: error: there is no yard in {typo}: give --create to make a new one "
        "there, or --data-dir (WHEELYARD_DATA_DIR) to name an existing one"
    ]
    assert not typo.exists(), "a refused command leaves nothing behind"


def test_create_makes_the_yard_and_every_command_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    where = ["--data-dir", str(data)]
    status, out, err = run(capsys, monkeypatch, *where, *CREATE_ALICE, "--create", stdin=PASSWORD)
    assert status == 0 and out == "created user alice\n"
    assert err == f"yard: {data} (new)\n"
    assert (data / "yard.db").is_file()

    # Now the yard exists: no --create needed, and --create changes nothing.
    status, out, err = run(capsys, monkeypatch, *where, "org", "create", "acme", "--owner", "alice")
    assert status == 0 and err == f"yard: {data}\n"
    secret_args = ("token", "create", "--user", "alice", "--name", "ci", "--scopes", "api")
    status, out, err = run(capsys, monkeypatch, *where, *secret_args, "--create")
    assert status == 0 and err == f"yard: {data}\n"
    assert out.startswith("wy_") and out.count("\n") == 1, "stdout holds only the secret"

    status, out, err = run(capsys, monkeypatch, *where, "label", "list", "alice")
    assert status == 0 and "main" in out and err == f"yard: {data}\n"

    # A failed command prints its one error line, not the yard line.
    status, out, err = run(capsys, monkeypatch, *where, "label", "list", "nobody")
    assert status == 1 and err.splitlines() == ["wheelyard: error: no owner named 'nobody'"]


def test_the_default_data_dir_is_named_in_full(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _out, err = run(capsys, monkeypatch, "label", "list", "alice")
    assert status == 1 and f"there is no yard in {tmp_path / 'wheelyard-data'}:" in err
    status, _out, err = run(capsys, monkeypatch, "check", "--create")
    assert status == 0 and err == f"yard: {tmp_path / 'wheelyard-data'} (new)\n"


def test_an_empty_database_file_is_no_yard(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "yard.db").touch()
    status, _out, err = run(capsys, monkeypatch, "--data-dir", str(data), "check")
    assert status == 1 and "there is no yard in" in err
    assert (data / "yard.db").stat().st_size == 0, "nothing was written to it"


def test_a_yard_elsewhere_is_named_by_its_database_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "elsewhere" / "index.db"
    files = tmp_path / "blobs"
    monkeypatch.setenv("WHEELYARD_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("WHEELYARD_STORAGE_URL", str(files))
    status, _out, err = run(capsys, monkeypatch, "label", "list", "alice")
    assert status == 1
    assert f"there is no yard in database sqlite:///{db} (files {files}):" in err
    status, _out, err = run(capsys, monkeypatch, "check", "--create")
    assert status == 0 and err == f"yard: database sqlite:///{db} (files {files}) (new)\n"


def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql+psycopg://bob:hunter2@db.example:5432/yard"
    settings = Settings.from_env(
        {"WHEELYARD_DATA_DIR": str(tmp_path), "WHEELYARD_DATABASE_URL": url}
    )
    shown = describe(settings)
    files = tmp_path / "files"
    assert shown == f"database postgresql+psycopg://bob:***@db.example:5432/yard (files {files})"


@pytest.mark.e2e
def test_an_empty_postgresql_database_is_no_yard(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    postgres: str,
) -> None:
    from tests.postgres import new_database

    url = new_database(postgres)
    monkeypatch.setenv("WHEELYARD_DATABASE_URL", url)
    monkeypatch.setenv("WHEELYARD_STORAGE_URL", str(tmp_path / "files"))
    status, _out, err = run(capsys, monkeypatch, "label", "list", "alice")
    assert status == 1 and "there is no yard in database postgresql" in err
    status, _out, err = run(capsys, monkeypatch, *CREATE_ALICE, stdin=PASSWORD)
    assert status == 1, "still none: the refusal made no tables"
    status, _out, err = run(capsys, monkeypatch, *CREATE_ALICE, "--create", stdin=PASSWORD)
    assert status == 0 and err.startswith("yard: database postgresql") and err.endswith("(new)\n")
    status, out, err = run(capsys, monkeypatch, "label", "list", "alice")
    assert status == 0 and "main" in out and "(new)" not in err
