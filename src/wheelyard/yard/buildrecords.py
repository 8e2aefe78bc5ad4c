"""Build records: what ``wheelyard build`` needs to skip work on an unchanged rerun (each
interpreter's resolution, the verification record), stored beside the label it published
under a hash of every input of that run. Readers need read access to the label (a private
label's records are as private as the label, and answer like missing ones); writers need
the upload scope on the owner. A label keeps its newest ``KEEP`` records."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wheelyard.db.models import BuildRecord, utcnow
from wheelyard.errors import InvalidInput, NotFound, TooLarge
from wheelyard.yard.access import readable_label, writable_owner
from wheelyard.yard.labels import get_label
from wheelyard.yard.tokens import Principal

KEEP = 20  # records per label: a few branches' worth of input sets
MAX_BYTES = 1024 * 1024  # one record's JSON
_KEY = re.compile(r"[0-9a-f]{64}")


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidInput("a build record's key is a sha256 in lower-case hex (64 characters)")
    return key


def missing_record(owner: str, label: str) -> NotFound:
    return NotFound(f"no build record with that key for {owner}/{label}")


def read_record(
    session: Session, principal: Principal | None, owner_name: str, label_name: str, key: str
) -> dict[str, Any]:
    """The record stored under ``key`` beside the label, if the principal may read the label."""
    owner, label = readable_label(session, principal, owner_name, label_name)
    row = session.scalar(
        select(BuildRecord).where(BuildRecord.label_id == label.id, BuildRecord.key == key)
    )
    if row is None:
        raise missing_record(owner.name, label.name)
    data: dict[str, Any] = json.loads(row.data)
    return data


def write_record(
    session: Session,
    principal: Principal | None,
    owner_name: str,
    label_name: str,
    key: str,
    data: object,
) -> None:
    """Store ``data`` under ``key`` beside an existing label of an owner the principal may
    upload to (replacing a record of the same key); the oldest beyond ``KEEP`` go."""
    owner, _principal = writable_owner(session, principal, owner_name)
    _check_key(key)
    if not isinstance(data, dict):
        raise InvalidInput("a build record is a JSON object")
    text = json.dumps(data, sort_keys=True)
    if len(text) > MAX_BYTES:
        raise TooLarge(f"a build record may hold at most {MAX_BYTES} bytes of JSON")
    label = get_label(session, owner, label_name)
    row = session.scalar(
        select(BuildRecord).where(BuildRecord.label_id == label.id, BuildRecord.key == key)
    )
    if row is None:
        session.add(BuildRecord(label_id=label.id, key=key, data=text, updated_at=utcnow()))
    else:
        row.data, row.updated_at = text, utcnow()
    session.flush()
    kept = select(BuildRecord.id).where(BuildRecord.label_id == label.id)
    kept = kept.order_by(BuildRecord.updated_at.desc(), BuildRecord.id.desc()).limit(KEEP)
    session.execute(
        delete(BuildRecord).where(
            BuildRecord.label_id == label.id, BuildRecord.id.not_in(kept.scalar_subquery())
        )
    )
