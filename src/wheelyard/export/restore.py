"""``wheelyard import --from``: load a backup made by ``backup`` into an empty yard, whatever
its database (SQLite or PostgreSQL) and storage (a folder or S3).

Refused, with one line and nothing changed: a backup without its manifest (incomplete), a
format or version this wheelyard does not read, a backup of another schema revision, and a
yard that already holds anything. Then every blob is copied through a staged file and its
sha256 and size checked against the backup's list (and each file row's recorded sha256)
before it is published; then every row is loaded, table by table, in the command's one unit
of work. Nothing is committed unless everything checked out; blobs already published by a
restore that failed are unreferenced, and ``wheelyard check --repair`` collects them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Integer, func, insert, select, text
from sqlalchemy.orm import Session

from wheelyard.errors import Conflict, DamagedBlob, InvalidInput
from wheelyard.export import dumpformat as fmt
from wheelyard.export.targets import Target
from wheelyard.storage import BlobStore
from wheelyard.storage.staging import StagedFile

_CHUNK = 1024 * 1024
_BATCH = 500


@dataclass
class RestoreDone:
    rows: dict[str, int]
    blobs: int
    bytes: int


def _lines(stream: BinaryIO, digest: Any) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines stream, read in chunks, hashed into ``digest``."""
    rest = b""
    with stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            rest += chunk
            *whole, rest = rest.split(b"\n")
            for line in whole:
                if line:
                    yield json.loads(line)
    if rest.strip():
        yield json.loads(rest)


def read_manifest(source: Target, where: str) -> dict[str, Any]:
    """The backup's manifest, checked: complete, our format, a version we read."""
    raw = source.read(fmt.MANIFEST)
    if raw is None:
        raise InvalidInput(
            f"{where} is not a complete wheelyard backup: it has no {fmt.MANIFEST} "
            "(a backup writes it last; an interrupted one has none)"
        )
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise InvalidInput(f"{where}: {fmt.MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT:
        raise InvalidInput(f"{where} is not a wheelyard backup (its manifest names no format)")
    if manifest.get("version") != fmt.VERSION:
        raise InvalidInput(
            f"{where}: backup format version {manifest.get('version')!r} is not one this "
            f"wheelyard reads (it reads version {fmt.VERSION})"
        )
    return manifest


def _check_empty(session: Session) -> None:
    for table in fmt.tables():
        count = session.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            raise Conflict(
                f"the yard is not empty ({count} row(s) in {table.name}): "
                "import --from restores a backup only into a new, empty yard"
            )


def _check_schema(session: Session, manifest: dict[str, Any], where: str) -> None:
    ours = str(session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    if manifest.get("schema") != ours:
        raise InvalidInput(
            f"{where} was made with database schema {manifest.get('schema')!r}, this yard "
            f"has {ours!r}: restore it with the wheelyard version that made it "
            f"({manifest.get('wheelyard', 'unknown')})"
        )


def _copy_blob(source: Target, store: BlobStore, staging: Path, entry: dict[str, Any]) -> int:
    """Stage one blob from the backup, check it, then publish it under its key."""
    key = entry["key"]
    with StagedFile(staging) as staged:
        try:
            with source.open(fmt.BLOBS + key) as src:
                while chunk := src.read(_CHUNK):
                    staged.write(chunk)
        except FileNotFoundError:
            raise DamagedBlob(f"the backup lacks the blob {key}") from None
        staged.finish()
        if staged.sha256 != entry["sha256"] or staged.size != entry["size"]:
            raise DamagedBlob(f"the backup's blob {key} is damaged: sha256 differs from its record")
        staged.publish(store, key)
        return staged.size


def _reset_sequences(session: Session) -> None:
    """PostgreSQL hands out ids from sequences the loaded rows bypassed: move them past."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite picks max(rowid) + 1 by itself
    for table in fmt.tables():
        pk = list(table.primary_key.columns)
        if (
            len(pk) == 1
            and isinstance(pk[0].type, Integer)
            and pk[0].autoincrement
            in (
                True,
                "auto",
            )
        ):
            name = pk[0].name
            # Names from the yard's own schema (models.py), never from the backup.
            query = (
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{name}'), "  # noqa: S608
                f"MAX({name})) FROM {table.name} HAVING MAX({name}) IS NOT NULL"
            )
            session.execute(text(query))


def restore_yard(
    session: Session, store: BlobStore, source: Target, where: str, staging: Path
) -> RestoreDone:
    """Load the backup at ``source`` into the empty yard of ``session`` and ``store``."""
    manifest = read_manifest(source, where)
    _check_schema(session, manifest, where)
    _check_empty(session)
    expected = [(t.name, fmt.table_file(i, t)) for i, t in enumerate(fmt.tables())]
    listed = [(t.get("name"), t.get("file")) for t in manifest.get("tables", [])]
    if listed != expected:
        raise InvalidInput(f"{where}: the manifest's tables are not this schema's tables")

    # Blobs first, each checked; their digests then vouch for the file rows.
    staging.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    total = 0
    listing = hashlib.sha256()
    for entry in _lines(source.open(fmt.BLOB_LIST), listing):
        total += _copy_blob(source, store, staging, entry)
        digests[entry["key"]] = entry["sha256"]
    if (
        listing.hexdigest() != manifest["blobs"]["sha256"]
        or len(digests) != manifest["blobs"]["count"]
    ):
        raise DamagedBlob(f"{where}: the list of blobs differs from the manifest's record")

    rows: dict[str, int] = {}
    for table, record in zip(fmt.tables(), manifest["tables"], strict=True):
        digest = hashlib.sha256()
        batch: list[dict[str, Any]] = []
        count = 0
        for row in _lines(source.open(record["file"]), digest):
            if table.name == "files" and digests.get(row["blob_key"]) != row["sha256"]:
                raise DamagedBlob(
                    f"{where}: the blob of {row['filename']} is missing or differs from "
                    "its recorded sha256"
                )
            batch.append(fmt.decode(table, row))
            count += 1
            if len(batch) >= _BATCH:
                session.execute(insert(table), batch)
                batch = []
        if batch:
            session.execute(insert(table), batch)
        if digest.hexdigest() != record["sha256"] or count != record["rows"]:
            raise InvalidInput(f"{where}: {record['file']} differs from the manifest's record")
        rows[table.name] = count
    _reset_sequences(session)
    session.flush()
    return RestoreDone(rows, len(digests), total)
