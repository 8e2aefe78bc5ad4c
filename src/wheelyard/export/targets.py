"""Where a snapshot goes: a folder or an S3 prefix, each written one object at a time,
every object replaced atomically (a folder: temporary file + rename; S3: PutObject)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from wheelyard.errors import InvalidInput
from wheelyard.storage.faults import storage_faults

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CHUNK = 1024 * 1024


class Target(Protocol):
    def keys(self) -> set[str]:
        """Every object already there, as ``/``-separated keys."""

    def read(self, key: str) -> bytes | None:
        """A small object's bytes (the snapshot's manifest), or None when there is none."""

    def open(self, key: str) -> BinaryIO:
        """A streamed reader over one object (a backup's blob); FileNotFoundError if none."""

    def put_bytes(self, key: str, data: bytes, media_type: str) -> None:
        """Write (or replace) one small object atomically."""

    def put_stream(self, key: str, stream: BinaryIO, media_type: str) -> None:
        """Write one object from ``stream`` in constant memory, atomically."""

    def delete(self, keys: list[str]) -> None:
        """Remove these objects (missing ones are fine)."""


class FolderTarget:
    """A folder on this machine (serve it with nginx, or ``pip install -i file://…``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def keys(self) -> set[str]:
        found: set[str] = set()
        top = len(str(self.root)) + 1
        for dirpath, _dirs, names in os.walk(self.root):
            folder = dirpath[top:].replace(os.sep, "/")
            for name in names:
                if name.endswith(".part"):
                    continue  # left by an export that was killed: overwritten or ignored
                found.add(f"{folder}/{name}" if folder else name)
        return found

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    @contextlib.contextmanager
    def _atomic(self, key: str) -> Iterator[BinaryIO]:
        dest = self._path(key)
        with storage_faults("writing the export"):
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".export-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    yield fh
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o644)  # readable by a web server's user
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def put_bytes(self, key: str, data: bytes, media_type: str) -> None:
        with self._atomic(key) as fh:
            fh.write(data)

    def put_stream(self, key: str, stream: BinaryIO, media_type: str) -> None:
        with self._atomic(key) as fh:
            shutil.copyfileobj(stream, fh, _CHUNK)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            # Drop folders left empty (a project or file that left the label).
            for parent in path.parents:
                if parent == self.root or not parent.is_relative_to(self.root):
                    break
                try:
                    parent.rmdir()
                except OSError:
                    break


class S3Target:
    """Objects under ``prefix`` in an S3 bucket, each with its content type set."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def keys(self) -> set[str]:
        found: set[str] = set()
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for entry in page.get("Contents", []):
                found.add(entry["Key"][len(self.prefix) :])
        return found

    def read(self, key: str) -> bytes | None:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey:
            return None
        with got["Body"] as body:
            return body.read()

    def open(self, key: str) -> BinaryIO:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        return got["Body"]  # type: ignore[return-value]  # a streamed body: read() and close()

    def put_bytes(self, key: str, data: bytes, media_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=media_type
        )

    def put_stream(self, key: str, stream: BinaryIO, media_type: str) -> None:
        from wheelyard.storage.s3 import TRANSFER

        self.client.upload_fileobj(
            stream,
            self.bucket,
            self.prefix + key,
            ExtraArgs={"ContentType": media_type},
            Config=TRANSFER,
        )

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at a time
            batch = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": self.prefix + k} for k in batch]}
            )


@dataclass(frozen=True)
class S3Account:
    """Where an ``s3://`` destination lives when it is not beside the yard's own bucket (a
    backup kept with another provider or account): an AWS profile (its credentials, region
    and, if it names one, ``endpoint_url``) and/or an endpoint URL. Empty: the yard's own S3
    settings (``WHEELYARD_S3_ENDPOINT_URL``, the AWS variables)."""

    profile: str | None = None
    endpoint_url: str | None = None

    @property
    def own(self) -> bool:
        return self.profile is None and self.endpoint_url is None

    def elsewhere(self) -> bool:
        """Whether the destination's bucket is another account's or provider's, so that a
        bucket of the yard's own bucket's name is another bucket (the yard's endpoint named
        again is the yard's own account)."""
        from wheelyard.storage.s3 import configured_endpoint

        yards = configured_endpoint(os.environ)
        return self.profile is not None or self.endpoint_url not in (None, yards)


def open_target(destination: str, account: S3Account | None = None) -> Target:
    """The target ``--to`` (or ``--from``) names: ``s3://BUCKET/PREFIX``, in the yard's own
    S3 account or ``account``, or a folder path."""
    if destination.startswith("s3://"):
        from wheelyard.storage.s3 import S3Store, client_for

        location = destination.removeprefix("s3://")
        if account is None or account.own:
            store = S3Store.from_url(location)
            return S3Target(store.client, store.bucket, store.prefix)
        bucket, _, prefix = location.partition("/")
        if not bucket:
            raise InvalidInput(f"{destination}: s3:// needs a bucket (s3://BUCKET/PREFIX)")
        return S3Target(client_for(account.profile, account.endpoint_url), bucket, prefix)
    if account is not None and not account.own:
        raise InvalidInput("--s3-profile and --s3-endpoint-url are for s3:// destinations only")
    return FolderTarget(Path(destination.removeprefix("file://")))


def _s3_place(url: str) -> tuple[str, str] | None:
    """(bucket, prefix ending in "/" or empty) of an ``s3://`` URL, else None."""
    if not url.startswith("s3://"):
        return None
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return bucket, prefix + "/" if prefix else ""


def _nested(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def refuse_overlap(
    destination: str, storage_url: str, folders: list[Path], elsewhere: bool = False
) -> None:
    """Refuse a destination inside the yard's own storage or folders, or holding them: an
    export cleans its destination of what is not its own (the yard's files), and ``check
    --repair`` collects what its store holds unreferenced (the export's). ``folders``: the
    data and staging folders; ``storage_url``: the store (a folder or ``s3://``);
    ``elsewhere``: an ``s3://`` destination in another account (``S3Account``), where a
    bucket of the same name is another bucket."""
    target, store = _s3_place(destination), _s3_place(storage_url)
    if elsewhere and target is not None:
        return
    clash = ""
    if target is not None:
        # One endpoint and account serve both (the yard's S3 settings): the same bucket with
        # nested prefixes is the same place.
        if store is not None and target[0] == store[0]:
            a, b = target[1], store[1]
            clash = storage_url if a.startswith(b) or b.startswith(a) else ""
    else:
        here = Path(destination.removeprefix("file://")).resolve()
        places = [*folders]
        if store is None:
            places.append(Path(storage_url.removeprefix("file://")))
        clash = next((str(f) for f in places if _nested(here, f.resolve())), "")
    if clash:
        raise InvalidInput(
            f"--to {destination} overlaps the yard's own storage ({clash}): an export there "
            "would delete the yard's files, and `wheelyard check --repair` the export's; "
            "choose a destination outside it"
        )
