"""The whole-yard backup format, shared by ``backup`` (writer) and ``restore`` (reader).

A backup is a folder or an S3 prefix holding::

    tables/NN-<table>.jsonl   one JSON object per row, tables in foreign-key order
    blobs.jsonl               every blob: {"key", "sha256", "size"}
    blobs/<key>               the blob's bytes, under the store's own content-derived key
    manifest.json             written last: format, version, schema revision, tables, digests

A backup without ``manifest.json`` is incomplete (the writer stopped half-way) and is refused.
Rows are stored column by column as JSON; datetimes as ISO 8601 in UTC, so a dump made on
SQLite loads into PostgreSQL and back unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Table

from wheelyard.db.models import Base, as_utc

FORMAT = "wheelyard-backup"
VERSION = 1
MANIFEST = "manifest.json"
BLOB_LIST = "blobs.jsonl"
BLOBS = "blobs/"


def tables() -> list[Table]:
    """Every table of the yard, parents before children (the order rows are loaded in)."""
    return list(Base.metadata.sorted_tables)


def table_file(index: int, table: Table) -> str:
    return f"tables/{index:02d}-{table.name}.jsonl"


def encode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON values (datetimes as ISO 8601 in UTC)."""
    return {
        name: as_utc(value).isoformat() if isinstance(value, datetime) else value
        for name, value in row.items()
    }


def decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row read back: ISO strings in DateTime columns become aware datetimes again."""
    decoded = dict(row)
    for column in table.columns:
        value = decoded.get(column.name)
        if isinstance(column.type, DateTime) and isinstance(value, str):
            decoded[column.name] = datetime.fromisoformat(value)
    return decoded
