"""Export destinations never overlap the yard's own storage: an export cleans its destination
of what is not its own, and ``check --repair`` collects what the store holds unreferenced, so
either would delete the other's files. Folders nest by path (after resolving links), S3
places by bucket and prefix; the command refuses with one line and changes nothing. And an
``s3://`` destination may live in another account or provider (``--s3-profile``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers import Yard, free_port
from tests.s3server import client as s3client
from tests.s3server import new_bucket, s3_server, yard_env
from wheelyard.errors import InvalidInput
from wheelyard.export.targets import S3Account, refuse_overlap
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


def test_a_bucket_of_another_account_is_another_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELYARD_S3_ENDPOINT_URL", "http://yard-store:9000")
    folders = [tmp_path / "data"]
    for account, refused in [
        (S3Account(), True),
        (S3Account(endpoint_url="http://yard-store:9000"), True),  # the yard's own, named again
        (S3Account(endpoint_url="https://offsite.example"), False),
        (S3Account(profile="backups"), False),
    ]:
        if refused:
            with pytest.raises(InvalidInput, match="overlaps"):
                refuse_overlap("s3://yard/files", "s3://yard/files", folders, account.elsewhere())
        else:
            refuse_overlap("s3://yard/files", "s3://yard/files", folders, account.elsewhere())


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


@pytest.mark.e2e
def test_a_backup_kept_in_another_account_round_trips(s3_endpoint: str, tmp_path: Path) -> None:
    """The yard's files on one S3 server, its backup on another, named by an AWS profile (its
    keys, region and endpoint_url): `export --all --s3-profile` writes there and not beside
    the yard, and `import --from --s3-profile` restores it into a new SQLite + folder yard."""
    with s3_server(tmp_path / "moto-other.log", free_port()) as other:
        bucket = new_bucket(other, versioned=False)
        aws = tmp_path / "aws"
        aws.mkdir()
        (aws / "config").write_text(
            f"[profile backups]\nregion = eu-west-1\nendpoint_url = {other}\n"
        )
        (aws / "credentials").write_text(
            "[backups]\naws_access_key_id = another-account\naws_secret_access_key = its-secret\n"
        )
        profile = {
            "AWS_CONFIG_FILE": str(aws / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        }
        yard_files = yard_env(s3_endpoint, new_bucket(s3_endpoint))
        env = {**yard_files, **profile}
        source = Yard("", tmp_path / "src", None, tmp_path / "src.log", env)  # type: ignore[arg-type]
        source.cli(
            "user", "create", "alice", "--password-stdin", "--create", input="a fine password\n"
        )
        wheel = make_wheel(tmp_path, "alpha", "1.0")
        source.cli("import", "alice", str(wheel), "-l", "main")
        to = f"s3://{bucket}/nightly"
        source.cli("export", "--all", "--to", to, "--s3-profile", "backups")

        kept = s3client(other).list_objects_v2(Bucket=bucket, Prefix="nightly/")["Contents"]
        assert "nightly/manifest.json" in {entry["Key"] for entry in kept}
        with pytest.raises(ClientError):  # not a bucket of the yard's own server
            s3client(s3_endpoint).head_bucket(Bucket=bucket)

        restored = Yard("", tmp_path / "dst", None, tmp_path / "d.log", profile)  # type: ignore[arg-type]
        restored.cli("import", "--from", to, "--s3-profile", "backups", "--create")
        assert "ok" in restored.cli("check").stdout
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        blobs = [p for p in (tmp_path / "dst").rglob(digest) if p.is_file()]
        assert len(blobs) == 1 and blobs[0].read_bytes() == wheel.read_bytes()

    for args, message in [
        (("--to", "s3://bucket/x", "--s3-profile", "nope"), "the AWS configuration has no such"),
        (("--to", str(tmp_path / "folder"), "--s3-profile", "backups"), "for s3:// destinations"),
    ]:
        refused = source.cli("export", "--all", *args, check=False)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
