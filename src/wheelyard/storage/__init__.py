"""Blob storage: the protocol (``protocol``), staging (``staging``), the local folder store
(``local``), the S3-compatible bucket store (``s3``), storage faults (``faults``), and the
choice of backend by URL scheme (here).

Uploads are first written to a staged local file (hashed while streaming, so memory stays
constant), validated there, and only then published under their final key. Keys are derived
from content and shared, so nothing deletes a blob directly: unreferenced blobs are collected
after a grace period through claims (see ``wheelyard.yard.integrity.collect_garbage``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from wheelyard.storage.protocol import BlobStore, Claim, Collectable, LocalFiles, YardStore

__all__ = [
    "BlobStore",
    "Claim",
    "Collectable",
    "LocalFiles",
    "YardStore",
    "default_staging_dir",
    "open_store",
]


def _local(location: str) -> YardStore:
    from wheelyard.storage.local import LocalStore

    return LocalStore(Path(location))


def _s3(location: str) -> YardStore:
    from wheelyard.storage.s3 import S3Store

    return S3Store.from_url(location)


# Scheme → opener of the location after ``scheme://``; "" is a plain folder path.
BACKENDS: dict[str, Callable[[str], YardStore]] = {"": _local, "file": _local, "s3": _s3}


def _split(url: str) -> tuple[str, str]:
    # Only "scheme://" counts as a scheme: a folder name may contain a colon.
    scheme, sep, rest = url.partition("://")
    return (scheme.lower(), rest) if sep else ("", url)


def open_store(url: str) -> YardStore:
    """The store ``url`` names: a folder path, ``file://`` + path, or ``s3://BUCKET/PREFIX``."""
    scheme, location = _split(url)
    opener = BACKENDS.get(scheme)
    if opener is None:
        from wheelyard.errors import InvalidInput

        known = ", ".join(f"{s}://" for s in BACKENDS if s)
        raise InvalidInput(
            f"unknown storage scheme {scheme + '://'!r} in WHEELYARD_STORAGE_URL "
            f"(known: {known}, or a folder path)"
        )
    return opener(location)


def default_staging_dir(url: str, data_dir: Path) -> Path:
    """Where uploads are staged unless ``WHEELYARD_STAGING_DIR`` says otherwise: next to a
    local store's blobs (same filesystem, so publishing is a rename), else in the data dir."""
    from wheelyard.storage.local import STAGING

    scheme, location = _split(url)
    if BACKENDS.get(scheme) is _local:
        return Path(location).absolute() / STAGING
    return data_dir / "staging"
