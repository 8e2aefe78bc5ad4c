"""Staged transfers, as the Anaconda client uploads: stage → POST the bytes → commit.

The POST carries no credentials, so staging hands out a single-use, short-lived secret bound
to the owner, project, version, file name and sha256 (and, when the bytes arrive, to the size
the client announced). The bytes are made durable under their final key but stay invisible
until the commit runs the ordinary upload path, which validates them and attaches the labels
in one transaction. Stages that are never committed expire; their bytes, once no stage or
file references them, are collected with the other unreferenced blobs after the grace period.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wheelyard.db.models import File, Owner, Stage, as_utc, utcnow
from wheelyard.db.session import lock_for_write
from wheelyard.db.unit import if_failed
from wheelyard.errors import Conflict, Forbidden, InvalidInput, NotFound, StorageError
from wheelyard.storage import BlobStore
from wheelyard.storage.staging import StagedFile, local_copy
from wheelyard.yard import pending
from wheelyard.yard.distfile import inspect_file, parse_filename
from wheelyard.yard.integrity import publish_deadline
from wheelyard.yard.labels import find_label, require_unlocked
from wheelyard.yard.names import check_label_name
from wheelyard.yard.tokens import Principal, hash_secret
from wheelyard.yard.uploads import DurableBlob, Stored, blob_key, configured_grace, store_upload

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
        # Refused here unless a pending delete lets it replace the file (yard.pending).
        user = principal.user_name
        if pending.before_reupload(session, owner, basename, sha256, labels, user) is None:
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
    session.flush()
    return StageTicket(stage.id, secret)


def _live(session: Session, dist_id: str) -> Stage:
    stage = session.get(Stage, dist_id)
    if stage is None or as_utc(stage.expires_at) <= utcnow():
        raise NotFound("unknown or expired upload stage")
    return stage


def check_receivable(session: Session, dist_id: str) -> str:
    """Before any byte of a transfer is read: the stage must be live and still waiting for its
    bytes. Returns the hash its signature must match (see ``signature_matches``)."""
    stage = _live(session, dist_id)
    if stage.state != "staged":
        raise Conflict("this upload stage was already used")
    return stage.secret_hash


def signature_matches(secret_hash: str, signature: str) -> bool:
    return hmac.compare_digest(secret_hash, hash_secret(signature))


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
        # As bytes: compare_digest raises TypeError on str with non-ASCII characters.
        if not hmac.compare_digest(announced_md5.strip().encode(), md5_b64.encode()):
            raise InvalidInput("InvalidDigest: Content-MD5 does not match the received bytes")
    if staged.sha256 != stage.sha256:
        raise InvalidInput("InvalidDigest: sha256 does not match the one given at stage time")
    key = blob_key(stage.package, stage.sha256)
    published = time.monotonic()
    staged.publish(store, key)
    used = session.execute(
        update(Stage)
        .where(Stage.id == dist_id, Stage.state == "staged")
        .values(state="received", blob_key=key, size=staged.size)
    )
    if getattr(used, "rowcount", 1) != 1:
        raise Conflict("this upload stage was already used")
    # The caller's unit must end right here: the stage row that references the published
    # bytes commits within the publish deadline (see yard.integrity), as uploads do.
    if time.monotonic() - published > publish_deadline(configured_grace()):
        raise StorageError("storing the upload took too long; please upload it again")


def commit_stage(
    session: Session,
    store: BlobStore,
    principal: Principal,
    owner: Owner,
    dist_id: str,
    basename: str,
) -> Stored:
    """Validate the received bytes like any upload and attach the stage's labels.

    A stage is used once: whether the commit succeeds or fails past the ownership checks, the
    stage is forgotten (on failure in a unit of its own, after this one rolled back).
    """
    # The stage row keeps its blob referenced (safe from the collector) until the file row
    # commits; locking it keeps expiry from deleting it meanwhile.
    lock_for_write(session)
    session.get(Stage, dist_id, with_for_update=True, populate_existing=True)
    stage = _live(session, dist_id)
    if (
        stage.owner_id != owner.id
        or stage.user_id != principal.user_id
        or stage.basename != basename
    ):
        raise NotFound("unknown or expired upload stage")
    if stage.state != "received" or stage.blob_key is None or stage.size is None:
        raise InvalidInput(f"the bytes of {basename} were not received; upload them first")
    if_failed(session, lambda other: forget_stage(other, dist_id))
    with local_copy(store, stage.blob_key) as path:
        dist = inspect_file(path, basename)
    labels = stage.labels.split()
    old = pending.before_reupload(
        session, owner, basename, stage.sha256, labels, principal.user_name
    )
    if old is not None:
        pending.replace(session, store, owner, old, principal.user_name)
    stored = store_upload(
        session,
        store,
        owner,
        labels,
        DurableBlob(stage.sha256, stage.size),
        dist,
        principal.user_id,
    )
    forget_stage(session, dist_id)
    return stored


def forget_stage(session: Session, dist_id: str) -> None:
    """Forget the stage; its blob, if now unreferenced, is left to the garbage collector."""
    session.execute(delete(Stage).where(Stage.id == dist_id))


def expire_stages(session: Session, store: BlobStore) -> int:
    """Delete stages past their lifetime; their bytes are left to the garbage collector."""
    gone = session.execute(delete(Stage).where(Stage.expires_at <= utcnow()))
    return int(getattr(gone, "rowcount", 0) or 0)
