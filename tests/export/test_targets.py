"""Export destinations never overlap the yard's own storage: an export cleans its destination
of what is not its own, and ``check --repair`` collects what the store holds unreferenced, so
either would delete the other's files. Folders nest by path (after resolving links), S3
places by bucket and prefix; the command refuses with one line and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Yard
from wheelyard.errors import InvalidInput
from wheelyard.export.targets import refuse_overlap
from wheelyard.testing import make_wheel


@pytest.mark.parametrize(
    ("destination", "refused"),
    [
        ("data", True),  # the yard itself
        ("data/files/snapshot", True),  # inside the store
        ("data/snapshot", True),  # beside yard.db, in the data folder
        (".", True),  # holding the yard
        ("link-to-data", True),  # the same folder by another name
        ("file://{tmp}/data", True),
        ("snapshot", False),
        ("data-snapshot", False),  # a sibling whose name starts alike
        ("s3://bucket/snap", False),
    ],
)
def test_folders_inside_or_around_the_yards_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, destination: str, refused: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "files").mkdir(parents=True)
    (tmp_path / "link-to-data").symlink_to(tmp_path / "data")
    data = tmp_path / "data"
    destination = destination.format(tmp=tmp_path)
    if refused:
        with pytest.raises(InvalidInput, match="overlaps the yard's own storage"):
            refuse_overlap(destination, str(data / "files"), [data, data / "files" / ".staging"])
    else:
        refuse_overlap(destination, str(data / "files"), [data, data / "files" / ".staging"])


@pytest.mark.parametrize(
    ("destination", "store", "refused"),
    [
        ("s3://yard", "s3://yard/files", True),  # the bucket's root holds the store
        ("s3://yard/files", "s3://yard/files", True),
        ("s3://yard/files/snapshot", "s3://yard/files", True),
        ("s3://yard/snapshot", "s3://yard", True),  # a store at the root holds everything
        ("s3://yard/filesx", "s3://yard/files", False),  # prefixes split at "/"
        ("s3://yard/snapshot/", "s3://yard/files/", False),
        ("s3://other/files", "s3://yard/files", False),
        ("/srv/snapshot", "s3://yard", False),
    ],
)
def test_s3_prefixes_nested_in_one_bucket_are_refused(
    tmp_path: Path, destination: str, store: str, refused: bool
) -> None:
    folders = [tmp_path / "data", tmp_path / "data" / "staging"]
    if refused:
        with pytest.raises(InvalidInput, match="overlaps the yard's own storage"):
            refuse_overlap(destination, store, folders)
    else:
        refuse_overlap(destination, store, folders)


@pytest.mark.e2e
def test_the_command_refuses_to_export_into_the_yard(tmp_path: Path) -> None:
    """As a user runs it: before the check, this export printed "deleted 5" and took
    yard.db and every stored file with it."""
    data = tmp_path / "data"
    yard = Yard("", data, None, tmp_path / "log")  # type: ignore[arg-type]
    yard.cli("user", "create", "alice", "--password-stdin", "--create", input="a fine password\n")
    wheel = make_wheel(tmp_path, "alpha", "1.0")
    yard.cli("import", "alice", str(wheel), "-l", "main")
    before = sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file())
    for destination in (str(data), str(data / "files")):
        for extra in ((), ("--all",)):
            args = ("alice", "main") if not extra else ()
            result = yard.cli("export", *args, *extra, "--to", destination, check=False)
            assert result.returncode != 0, (destination, extra)
            assert "overlaps the yard's own storage" in result.stderr
    assert sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file()) == before
    assert "ok" in yard.cli("check").stdout
