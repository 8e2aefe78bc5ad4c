"""A throwaway S3-compatible server for the tests: moto's standalone server (``moto_server``,
from PyPI) as its own process on 127.0.0.1, spoken to over HTTP by boto3 like any bucket.

moto rather than MinIO (AGPL) or npm's s3rver (no object versioning, which the store's garbage
collection needs): it implements versioning, delete markers, conditional puts, multipart
uploads, ranges and presigned URLs, and installs with pip like the rest of the test tools.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx

from tests.helpers import BIN

# moto accepts any credentials; the yard reads them from the usual AWS variables.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "wheelyard-test",
    "AWS_SECRET_ACCESS_KEY": "wheelyard-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_buckets = itertools.count()


@contextmanager
def s3_server(log: Path, port: int) -> Iterator[str]:
    """Run ``moto_server`` on 127.0.0.1:``port``; yields its endpoint URL."""
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {log.read_text()}")
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def new_bucket(endpoint: str, versioned: bool = True) -> str:
    """A fresh bucket (versioned, as the yard's garbage collection needs); returns its name."""
    name = f"yard-{next(_buckets)}-{time.monotonic_ns() % 10**9}"
    s3 = client(endpoint)
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def yard_env(endpoint: str, bucket: str, prefix: str = "yard") -> dict[str, str]:
    """The environment that points a wheelyard process at ``bucket`` on the server."""
    return {
        **CREDENTIALS,
        "WHEELYARD_STORAGE_URL": f"s3://{bucket}/{prefix}",
        "WHEELYARD_S3_ENDPOINT_URL": endpoint,
    }
