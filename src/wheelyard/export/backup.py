"""``wheelyard export --all``: a backup of the whole yard (every table, every blob) into a
folder or an S3 prefix, in the format of ``dumpformat``.

The rows are read in one consistent snapshot of the database (PostgreSQL: REPEATABLE READ;
SQLite: one read transaction), then exactly the blobs those rows name are copied, each checked
against the digest its row records on the way (what no row names is left out: the collector
deletes it anyway). A blob the rows name that is missing or damaged — the store was damaged,
or a file removed after the snapshot had its old blob collected meanwhile — fails the backup
with a line naming the file, before the manifest: a backup that says it is complete restores.
Files first, the manifest last: a backup that stopped half-way has no manifest and
``restore`` refuses it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, cast

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from wheelyard import __version__
from wheelyard.db.models import File, Stage, utcnow
from wheelyard.errors import Conflict, DamagedBlob
from wheelyard.export import dumpformat as fmt
from wheelyard.export.targets import Target
from wheelyard.storage import BlobStore

_CHUNK = 1024 * 1024
_JSONL = "application/x-ndjson"


@dataclass
class BackupDone:
    rows: dict[str, int]
    blobs: int
    bytes: int


class _Hashing:
    """A reader that hashes and counts what passes through it (constant memory)."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.inner.read(n)
        self.sha256.update(chunk)
        self.size += len(chunk)
        return chunk


def _put_hashed(target: Target, key: str, stream: BinaryIO, media_type: str) -> _Hashing:
    """Stream ``stream`` to ``target`` under ``key``; the sha256 and size of what was sent."""
    hashing = _Hashing(stream)
    target.put_stream(key, cast(BinaryIO, hashing), media_type)  # it has the read() needed
    return hashing


def _snapshot(session: Session) -> None:
    """Make every read that follows see one moment of the database."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Before the first statement of the transaction; the connection is reset on return.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            raw.execute("BEGIN")  # deferred: the first read takes the WAL snapshot


def _named_blobs(session: Session) -> dict[str, tuple[str, str]]:
    """Every blob the snapshot's rows name: key → (its recorded sha256, what names it)."""
    named: dict[str, tuple[str, str]] = {}
    for key, sha, meta_sha, filename in session.execute(
        select(File.blob_key, File.sha256, File.metadata_sha256, File.filename)
    ):
        named[key] = (sha, filename)
        if meta_sha:
            named[key + ".metadata"] = (meta_sha, f"{filename}.metadata")
    for stage_key, sha, basename in session.execute(
        select(Stage.blob_key, Stage.sha256, Stage.basename).where(Stage.blob_key.is_not(None))
    ):
        if stage_key is not None:
            named.setdefault(stage_key, (sha, f"the staged upload of {basename}"))
    return named


def _schema(session: Session) -> str:
    return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def backup_yard(session: Session, store: BlobStore, target: Target) -> BackupDone:
    """Write every row and blob of the yard to ``target`` (which must be empty)."""
    if target.keys():
        raise Conflict(
            "the backup destination is not empty: give a new folder or S3 prefix "
            "(a backup never overwrites another)"
        )
    _snapshot(session)
    schema = _schema(session)
    tables: list[dict[str, object]] = []
    rows: dict[str, int] = {}
    for index, table in enumerate(fmt.tables()):
        key = fmt.table_file(index, table)
        order = list(table.primary_key.columns)
        count = 0
        with tempfile.TemporaryFile() as spool:
            # Streamed through a temporary file, not a list: a yard's events can be many.
            for row in session.execute(select(table).order_by(*order)).mappings():
                line = json.dumps(fmt.encode(table, dict(row)), sort_keys=True)
                spool.write(line.encode() + b"\n")
                count += 1
            spool.seek(0)
            hashing = _put_hashed(target, key, spool, _JSONL)
        tables.append(
            {"name": table.name, "file": key, "rows": count, "sha256": hashing.sha256.hexdigest()}
        )
        rows[table.name] = count
    blobs = total = 0
    with tempfile.TemporaryFile() as listing:
        for blob, (expected, named_by) in sorted(_named_blobs(session).items()):
            try:
                src = store.open(blob)
            except FileNotFoundError:
                raise DamagedBlob(
                    f"the stored file of {named_by} is missing (run `wheelyard check`); "
                    "the backup is incomplete"
                ) from None
            with src:
                hashing = _put_hashed(target, fmt.BLOBS + blob, src, "application/octet-stream")
            if hashing.sha256.hexdigest() != expected:
                raise DamagedBlob(
                    f"the stored file of {named_by} differs from its recorded sha256 (run "
                    "`wheelyard check`); the backup is incomplete"
                )
            entry = {"key": blob, "sha256": hashing.sha256.hexdigest(), "size": hashing.size}
            listing.write(json.dumps(entry, sort_keys=True).encode() + b"\n")
            blobs += 1
            total += hashing.size
        listing.seek(0)
        hashed = _put_hashed(target, fmt.BLOB_LIST, listing, _JSONL)
    manifest = {
        "format": fmt.FORMAT,
        "version": fmt.VERSION,
        "schema": schema,
        "wheelyard": __version__,
        "created_at": utcnow().isoformat(),
        "tables": tables,
        "blobs": {
            "file": fmt.BLOB_LIST,
            "count": blobs,
            "bytes": total,
            "sha256": hashed.sha256.hexdigest(),
        },
    }
    target.put_bytes(fmt.MANIFEST, json.dumps(manifest, indent=1).encode(), "application/json")
    return BackupDone(rows, blobs, total)
