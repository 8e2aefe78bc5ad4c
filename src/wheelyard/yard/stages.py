"""Staged transfers, as the Anaconda client uploads: stage → POST the bytes → commit.

The POST carries no credentials, so staging hands out a single-use, short-lived secret bound
to the owner, project, version, file name and sha256 (and, when the bytes arrive, to the size
the client announced). The bytes are made durable under their final key but stay invisible
until the commit runs the ordinary upload path, which validates them and attaches the labels
in one transaction. Stages that are never committed expire and leave nothing behind.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wheelyard.db.models import File, Owner, Stage, as_utc, utcnow
from wheelyard.storage import BlobStore
from wheelyard.storage.staging import StagedFile
from wheelyard.yard.distfile import inspect_file, parse_filename
from wheelyard.yard.errors import Conflict, Forbidden, InvalidInput, NotFound
from wheelyard.yard.labels import delete_blobs, find_label, require_unlocked
from wheelyard.yard.names import check_label_name
from wheelyard.yard.tokens import Principal, hash_secret
from wheelyard.yard.uploads import DurableBlob, Stored, blob_key, store_upload

LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class StageTicket:
    dist_id: str
    secret: str


def create_stage(
    session: Session,
    store: BlobStore,
    principal: Principal,
    owner: Owner,
    package: str,
    version: str,
    basename: str,
    sha256: str,
    labels: list[str],
) -> StageTicket:
    """Check everything that can be checked before the bytes arrive, then hand out a ticket."""
    expire_stages(session, store)
    parsed = parse_filename(basename)
    if parsed.name != canonicalize_name(package):
        raise InvalidInput(f"{basename} does not belong to package {package!r}")
    try:
        if parsed.version != Version(version):
            raise InvalidInput(f"{basename} does not belong to version {version!r}")
    except InvalidVersion:
        raise InvalidInput(f"invalid version {version!r}") from None
    sha256 = sha256.strip().lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput("stage needs the file's sha256 as 64 hex digits")
    for name in labels:
        label = find_label(session, owner, check_label_name(name))
        if label is not None:
            require_unlocked(label, owner)
    found = session.scalar(select(File).where(File.owner_id == owner.id, File.filename == basename))
    if found is not None and found.sha256 != sha256:
        raise Conflict(f"{basename} already exists with different contents")
    secret = secrets.token_urlsafe(32)
    stage = Stage(
        id=secrets.token_hex(16),
        secret_hash=hash_secret(secret),
        owner_id=owner.id,
        user_id=principal.user_id,
        package=parsed.name,
        version=str(parsed.version),
        basename=basename,
        sha256=sha256,
        labels=" ".join(labels),
        expires_at=utcnow() + LIFETIME,
    )
    session.add(stage)
    session.commit()
    return StageTicket(stage.id, secret)


def _live(session: Session, dist_id: str) -> Stage:
    stage = session.get(Stage, dist_id)
    if stage is None or as_utc(stage.expires_at) <= utcnow():
        raise NotFound("unknown or expired upload stage")
    return stage


def receive(
    session: Session,
    store: BlobStore,
    dist_id: str,
    secret: str,
    staged: StagedFile,
    announced_size: str | None,
    announced_md5: str | None,
) -> None:
    """Accept the bytes for a stage once: they must match what was announced."""
    stage = _live(session, dist_id)
    if not hmac.compare_digest(stage.secret_hash, hash_secret(secret)):
        raise Forbidden("bad upload signature")
    if stage.state != "staged":
        raise Conflict("this upload stage was already used")
    if announced_size is not None and announced_size.strip() != str(staged.size):
        raise InvalidInput(f"received {staged.size} bytes, announced {announced_size}")
    if announced_md5:
        md5_b64 = base64.b64encode(bytes.fromhex(staged.md5)).decode()
        if not hmac.compare_digest(announced_md5.strip(), md5_b64):
            raise InvalidInput("InvalidDigest: Content-MD5 does not match the received bytes")
    if staged.sha256 != stage.sha256:
        raise InvalidInput("InvalidDigest: sha256 does not match the one given at stage time")
    key = blob_key(stage.package, stage.sha256)
    store.commit(staged, key)
    used = session.execute(
        update(Stage)
        .where(Stage.id == dist_id, Stage.state == "staged")
        .values(state="received", blob_key=key, size=staged.size)
    )
    session.commit()
    if getattr(used, "rowcount", 1) != 1:
        raise Conflict("this upload stage was already used")


def commit_stage(
    session: Session,
    store: BlobStore,
    principal: Principal,
    owner: Owner,
    dist_id: str,
    basename: str,
) -> Stored:
    """Validate the received bytes like any upload and attach the stage's labels."""
    stage = _live(session, dist_id)
    if (
        stage.owner_id != owner.id
        or stage.user_id != principal.user_id
        or stage.basename != basename
    ):
        raise NotFound("unknown or expired upload stage")
    if stage.state != "received" or stage.blob_key is None or stage.size is None:
        raise InvalidInput(f"the bytes of {basename} were not received; upload them first")
    path = store.local_path(stage.blob_key)
    if path is None:  # pragma: no cover - only local storage exists so far
        raise InvalidInput("staged transfers need local storage")
    try:
        dist = inspect_file(path, basename)
        stored = store_upload(
            session,
            store,
            owner,
            stage.labels.split(),
            DurableBlob(stage.sha256, stage.size),
            dist,
            principal.user_id,
        )
    except Exception:
        session.rollback()
        _drop(session, store, stage)
        raise
    _drop(session, store, stage)
    return stored


def _drop(session: Session, store: BlobStore, stage: Stage) -> None:
    key = stage.blob_key
    session.delete(stage)
    session.commit()
    if key:
        delete_blobs(session, store, [key])


def expire_stages(session: Session, store: BlobStore) -> int:
    """Delete stages past their lifetime, and their bytes unless a file now uses them."""
    expired = session.scalars(select(Stage).where(Stage.expires_at <= utcnow())).all()
    keys = [s.blob_key for s in expired if s.blob_key]
    for stage in expired:
        session.delete(stage)
    session.commit()
    if keys:
        delete_blobs(session, store, keys)
    return len(expired)
