"""Blob store in an S3-compatible bucket (AWS, MinIO, Ceph, R2, GCS's S3 API) through boto3.

``WHEELYARD_STORAGE_URL=s3://BUCKET/PREFIX``; the endpoint comes from
``WHEELYARD_S3_ENDPOINT_URL`` (or boto3's own ``AWS_ENDPOINT_URL``), credentials and region from
the usual AWS variables. Puts are one PutObject or a multipart upload streamed from the staged
file (both atomic: readers see the old object or the whole new one). Reads are ranged
GetObjects streamed in chunks. With ``WHEELYARD_S3_PRESIGN=1`` downloads are redirected to a
presigned URL valid for ``WHEELYARD_S3_PRESIGN_SECONDS`` (default 300), which makes the bucket
answer with the file's name (``Content-Disposition``) and media type; the URL names
``WHEELYARD_S3_PUBLIC_ENDPOINT_URL`` when set (the endpoint as clients reach it), else the
server's own endpoint.

Garbage collection needs a *versioned* bucket (``collecting`` refuses others): a claim is a
delete marker, so a publish racing the collector is never lost (see ``protocol.Collectable``).
The store's own objects live under ``PREFIX/.yard/`` and are never listed as keys.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from wheelyard.errors import InvalidInput, StorageError
from wheelyard.storage.disposition import attachment
from wheelyard.storage.protocol import Claim

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_INTERNAL = ".yard/"
_LOCK = _INTERNAL + "collector.lock"
LOCK_LEASE = 3600.0  # a collector that died holding the lock frees it after this long
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
# Parts of 16 MiB, 4 at a time: at most 64 MiB in flight per upload, whatever the file size.
TRANSFER = TransferConfig(
    multipart_threshold=16 * 1024 * 1024,
    multipart_chunksize=16 * 1024 * 1024,
    max_concurrency=4,
    use_threads=True,
)


# Connect: a handshake with a reachable endpoint takes milliseconds; 5 s still allows two lost
# SYNs (Linux resends after 1 s and 3 s). A black-holed endpoint then fails each attempt in 5 s,
# not botocore's 60 s (times 5 attempts: minutes of a pinned request thread).
CONNECT_TIMEOUT = 5.0
# Read: urllib3's read timeout bounds each wait for the *next* bytes, not a whole response. A
# 1 GiB download streamed to a slow client takes as long as the client needs: while the yard
# waits on the client it is not reading from S3, and no timeout runs. What it must outlast is
# the longest silence of a healthy store mid-request: the first byte of a GetObject under load,
# and above all the answer to UploadPart and CompleteMultipartUpload of a large file, which
# S3-compatible servers (MinIO, Ceph) give only once the parts are written and assembled on
# possibly busy disks. botocore's 60 s is kept for that; a shorter one would fail big uploads.
READ_TIMEOUT = 60.0
# /-/ready's client (``check``): both timeouts together stay under the probe's 5 s limit and
# nothing is retried, so the probe reports the store's own failure and its thread is back
# before the next probe; a healthy store answers a one-key listing in milliseconds.
PROBE_CONNECT_TIMEOUT = 2.0
PROBE_READ_TIMEOUT = 2.5
_PROBE_PREFIX = "ready-probe/"  # never written: its listing is empty on a healthy bucket


# Path-style works with every S3-compatible server; SigV4 for presigned URLs too (SigV2 is
# gone from AWS).
_COMMON = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
# Many pooled connections because each request thread streams its own download.
_TRANSFERS = _COMMON.merge(
    Config(
        max_pool_connections=64,
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )
)


def configured_endpoint(env: Mapping[str, str]) -> str | None:
    """The endpoint the yard's S3 settings name (None: AWS itself)."""
    return env.get("WHEELYARD_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL") or None


def client_for(profile: str | None, endpoint_url: str | None) -> S3Client:
    """A client for a bucket in another account than the yard's (a backup kept elsewhere):
    the AWS profile's credentials and region (and its ``endpoint_url``, if it names one), or
    the default credentials at ``endpoint_url``; the yard's own transfer settings."""
    try:
        session = boto3.session.Session(profile_name=profile)
    except ProfileNotFound:
        raise InvalidInput(
            f"--s3-profile {profile}: the AWS configuration has no such profile"
        ) from None
    region = session.region_name or "us-east-1"
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=_TRANSFERS)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _check_key(key: str) -> str:
    # The same rule as the local store: keys are yard-built; "." segments are the store's own.
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise ValueError(f"bad blob key {key!r}")
    return key


def _internal(relative: str) -> bool:
    return any(p.startswith(".") for p in relative.split("/"))


def _reason(exc: BaseException) -> str:
    """The S3 error code behind ``exc`` (the transfer manager wraps it), else its kind: never
    its text, which names local paths and keys."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError) and _code(seen):
            return _code(seen)
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _failed(exc: BaseException, doing: str) -> StorageError:
    tail = "; nothing was stored" if doing.startswith("storing") else ""
    return StorageError(f"object storage failed while {doing} ({_reason(exc)}){tail}")


@contextlib.contextmanager
def _faults(doing: str) -> Iterator[None]:
    """Turn client and transport failures into a StorageError naming what was being done."""
    try:
        yield
    except (ClientError, BotoCoreError, Boto3Error) as exc:  # Boto3Error: the transfer manager
        raise _failed(exc, doing) from exc


class _Body(io.RawIOBase):
    """A GetObject body as a raw stream (the caller wraps it in a buffered reader)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3Store:
    """``wheelyard.storage.protocol.YardStore`` over ``bucket``, every key under ``prefix``."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        presign_seconds: int | None = None,
        probe_client: S3Client | None = None,
        presign_client: S3Client | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.presign_seconds = presign_seconds
        self.probe_client = probe_client or client  # for ``check``: short timeouts, no retries
        # For ``url``: signs for the endpoint clients reach, which may not be the server's.
        self.presign_client = presign_client or client

    @classmethod
    def from_url(cls, location: str, env: dict[str, str] | None = None) -> S3Store:
        """The store ``s3://`` + ``location`` names, configured from the environment."""
        env = dict(os.environ if env is None else env)
        bucket, _, prefix = location.partition("/")
        if not bucket:
            raise InvalidInput("WHEELYARD_STORAGE_URL: s3:// needs a bucket (s3://BUCKET/PREFIX)")
        endpoint = configured_endpoint(env)
        presign = env.get("WHEELYARD_S3_PRESIGN", "").lower() in ("1", "true", "yes")
        seconds = env.get("WHEELYARD_S3_PRESIGN_SECONDS") or "300"
        if not seconds.isdigit() or not 0 < int(seconds) <= 7 * 24 * 3600:
            raise InvalidInput(
                f"WHEELYARD_S3_PRESIGN_SECONDS must be 1 to 604800 seconds, not {seconds!r}"
            )
        session = boto3.session.Session()
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        common = _COMMON
        client = session.client("s3", endpoint_url=endpoint, region_name=region, config=_TRANSFERS)
        probe = session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            # One check at a time per process (web/ready.py): one connection is enough.
            config=common.merge(
                Config(
                    max_pool_connections=1,
                    retries={"total_max_attempts": 1, "mode": "standard"},  # no retry
                    connect_timeout=PROBE_CONNECT_TIMEOUT,
                    read_timeout=PROBE_READ_TIMEOUT,
                )
            ),
        )
        # Inside a compose network or a cluster the server may reach the store by a name no
        # client resolves (http://minio:9000): presigned URLs must name the endpoint as clients
        # see it. Signing is local (no request), with the same credentials and region; SigV4
        # signs the host, so the URL is signed for that endpoint, not rewritten afterwards.
        public = env.get("WHEELYARD_S3_PUBLIC_ENDPOINT_URL") or None
        if public is not None and not public.startswith(("http://", "https://")):
            raise InvalidInput(
                f"WHEELYARD_S3_PUBLIC_ENDPOINT_URL must be an http(s):// URL, not {public!r}"
            )
        signer = None
        if presign and public and public != endpoint:
            signer = session.client("s3", endpoint_url=public, region_name=region, config=common)
        return cls(
            client, bucket, prefix, int(seconds) if presign else None, probe, presign_client=signer
        )

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def _head(self, key: str) -> dict[str, Any]:
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(key) from None
            raise _failed(exc, "reading a file") from exc
        except BotoCoreError as exc:
            raise _failed(exc, "reading a file") from exc

    # BlobStore

    def put_file(self, key: str, path: Path) -> None:
        full = self._key(key)
        if not path.is_file():
            raise StorageError(f"storing a file failed: {path} is not a staged file")
        with _faults("storing a file"):
            # Streams the file in parts (constant memory), or one PutObject when small.
            self.client.upload_file(str(path), self.bucket, full, Config=TRANSFER)

    def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        with _faults("storing a file"):
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)

    def open(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
        return self.open_sized(key, start, end)[0]

    def open_sized(self, key: str, start: int = 0, end: int | None = None) -> tuple[BinaryIO, int]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad byte range [{start}, {end})")
        full = self._key(key)
        if end == start:  # nothing to read, but a missing key is still missing
            return io.BytesIO(b""), self.size(key)
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            got = self.client.get_object(**args)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(key) from None
            if _code(exc) == "InvalidRange":  # starts past the end: reads short
                return io.BytesIO(b""), self.size(key)
            raise _failed(exc, "reading a file") from exc
        except BotoCoreError as exc:
            raise _failed(exc, "reading a file") from exc
        # "bytes 0-99/1234": the whole object's size follows the slash of a ranged answer.
        total = str(got.get("ContentRange", "")).rpartition("/")[2]
        size = int(total) if total.isdigit() else int(got["ContentLength"])
        return io.BufferedReader(_Body(got["Body"]), 256 * 1024), size

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def _versions(self, full: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """("version" | "marker", entry) for every version of exactly ``full``."""
        pages = self.client.get_paginator("list_object_versions")
        for page in pages.paginate(Bucket=self.bucket, Prefix=full):
            for version in page.get("Versions", []):
                if version["Key"] == full:
                    yield "version", dict(version)
            for marker in page.get("DeleteMarkers", []):
                if marker["Key"] == full:
                    yield "marker", dict(marker)

    def delete(self, key: str) -> None:
        full = self._key(key)
        with _faults("deleting a file"):
            # By version id, every one: on a versioned bucket a plain delete only hides it.
            for _kind, entry in list(self._versions(full)):
                self.client.delete_object(
                    Bucket=self.bucket, Key=full, VersionId=entry["VersionId"]
                )

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2")
        with _faults("listing files"):
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for entry in page.get("Contents", []):
                    relative = entry["Key"][len(self.prefix) :]
                    if relative and not _internal(relative):
                        yield relative

    def check(self) -> None:
        # One listing of a prefix that holds nothing: S3 answers it only if the bucket is there
        # and the credentials are good.
        with _faults("listing files"):
            self.probe_client.list_objects_v2(
                Bucket=self.bucket, Prefix=self.prefix + _PROBE_PREFIX, MaxKeys=1
            )

    def url(
        self, key: str, filename: str | None = None, media_type: str | None = None
    ) -> str | None:
        if self.presign_seconds is None:
            return None
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._key(key)}
        # Signed into the URL: the bucket answers with the file's name, not the blob key.
        if filename is not None:
            params["ResponseContentDisposition"] = attachment(filename)
        if media_type is not None:
            params["ResponseContentType"] = media_type
        return self.presign_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.presign_seconds
        )

    # Collectable: claims are delete markers on a versioned bucket.

    def _versioned(self) -> bool:
        with _faults("collecting garbage"):
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        return status == "Enabled"

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        if not self._versioned():
            raise StorageError(
                f"garbage collection needs versioning enabled on bucket {self.bucket!r} "
                "(a claimed blob must be restorable)"
            )
        lock = self.prefix + _LOCK
        with _faults("collecting garbage"):
            while True:
                try:
                    put = self.client.put_object(
                        Bucket=self.bucket,
                        Key=lock,
                        Body=str(time.time() + LOCK_LEASE).encode(),
                        IfNoneMatch="*",
                    )
                    break
                except ClientError as exc:
                    if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                        raise
                self._break_stale_lock(lock)
                time.sleep(0.2)
        try:
            yield
        finally:
            with _faults("collecting garbage"):
                self.client.delete_object(Bucket=self.bucket, Key=lock, VersionId=put["VersionId"])

    def _break_stale_lock(self, lock: str) -> None:
        try:
            held = self.client.get_object(Bucket=self.bucket, Key=lock)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return
            raise
        with held["Body"] as body:
            expiry = float(body.read().decode() or 0)
        if expiry < time.time():  # its collector died: the lease ran out
            self.client.delete_object(Bucket=self.bucket, Key=lock, VersionId=held["VersionId"])

    def mtime(self, key: str) -> float | None:
        try:
            return float(self._head(key)["LastModified"].timestamp())
        except FileNotFoundError:
            return None

    def _claim_of(self, key: str, marker: str) -> Claim:
        # The claimed copy's publish time, read after the marker: the newest real version.
        times = [
            e["LastModified"].timestamp()
            for kind, e in self._versions(self.prefix + key)
            if kind == "version"
        ]
        return Claim(key, marker, max(times, default=0.0))

    def claim(self, key: str) -> Claim | None:
        full = self._key(key)
        if not self.exists(key):
            return None
        with _faults("collecting garbage"):
            marker = self.client.delete_object(Bucket=self.bucket, Key=full)
            if not marker.get("DeleteMarker") or not marker.get("VersionId"):
                raise StorageError(f"bucket {self.bucket!r} did not keep a version of {key}")
            return self._claim_of(key, str(marker["VersionId"]))

    def restore(self, claim: Claim) -> None:
        # Without its marker the claimed version is current again, or a newer publish stays so.
        with _faults("collecting garbage"):
            self.client.delete_object(
                Bucket=self.bucket, Key=self._key(claim.key), VersionId=claim.handle
            )

    def forget(self, claim: Claim) -> None:
        full = self._key(claim.key)
        # Every real version that is not current: beneath the marker, or beneath a publish made
        # after it (same content-derived bytes), so what the key shows is never removed.
        with _faults("collecting garbage"):
            for kind, entry in list(self._versions(full)):
                if kind == "version" and not entry["IsLatest"]:
                    self.client.delete_object(
                        Bucket=self.bucket, Key=full, VersionId=entry["VersionId"]
                    )
            self.client.delete_object(Bucket=self.bucket, Key=full, VersionId=claim.handle)

    def pending_claims(self) -> Iterator[Claim]:
        pages = self.client.get_paginator("list_object_versions")
        markers: list[tuple[str, str]] = []
        with _faults("collecting garbage"):
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for entry in page.get("DeleteMarkers", []):
                    relative = entry["Key"][len(self.prefix) :]
                    if entry["IsLatest"] and relative and not _internal(relative):
                        markers.append((relative, entry["VersionId"]))
            claims = [self._claim_of(key, marker) for key, marker in sorted(markers)]
        yield from claims

    def sweep_incomplete(self, older_than: float) -> int:
        cutoff = time.time() - older_than
        removed = 0
        pages = self.client.get_paginator("list_multipart_uploads")
        with _faults("cleaning up incomplete uploads"):
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed += 1
        return removed
