"""One label as a static index: what to write, in an order that keeps every reader whole.

Layout under the target (the yard's own URL layout below a label, so the pages' relative file
links work unchanged)::

    simple/index.html, simple/index.json                root page, PEP 503 HTML / PEP 691 JSON
    simple/<project>/index.html, .../index.json         project pages (sha256 in every link)
    files/<sha256>/<filename>[.metadata]                the files and their PEP 658 metadata
    .wheelyard-export.json                              manifest: page digests, for next time

Order of a run: new files first, then changed project pages, then the root pages, then the
manifest, and only then deletions of what left the label. Each object is replaced atomically
(folder: rename; S3: PutObject), so a reader always gets whole objects and every link of any
page it reads resolves — a page names only files written before it. On S3 there is no
multi-object transaction: a reader may see one project's new page beside another's old one
(each complete and self-consistent), and a reader holding a page from before a deletion may
find a file it names gone. File paths carry the content's sha256, so a file is never
rewritten in place: an incremental export writes only new files and changed pages.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner
from wheelyard.errors import DamagedBlob
from wheelyard.export.targets import Target
from wheelyard.storage import BlobStore
from wheelyard.web import render
from wheelyard.yard import catalog
from wheelyard.yard.access import missing_label, readable_label

MANIFEST = ".wheelyard-export.json"
HTML_TYPE = "text/html; charset=utf-8"
FILE_TYPE = "application/octet-stream"
METADATA_TYPE = "text/plain; charset=utf-8"


@dataclass
class Exported:
    projects: int = 0
    files: int = 0
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Blob:
    blob_key: str
    sha256: str | None  # None: not recorded (metadata of old uploads), copied unchecked


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.digest.update(data)
        return data


def _label(
    session: Session, owner_name: str, label_name: str, include_private: bool
) -> tuple[Owner, Label]:
    if not include_private:  # what an anonymous reader may read, and nothing else
        return readable_label(session, None, owner_name, label_name)
    owner, label = catalog.resolve(session, owner_name, label_name)
    if label is None:
        raise missing_label(owner, label_name)
    return owner, label


def plan(
    session: Session, owner_name: str, label_name: str, include_private: bool
) -> tuple[dict[str, bytes], dict[str, _Blob], int]:
    """The pages (key → bytes) and files (key → blob) of the snapshot, and its project count."""
    _owner, label = _label(session, owner_name, label_name, include_private)
    blob_keys = dict(
        session.execute(
            select(File.filename, File.blob_key)
            .join(FileLabel, FileLabel.file_id == File.id)
            .where(FileLabel.label_id == label.id)
        ).all()
    )
    pages: dict[str, bytes] = {}
    blobs: dict[str, _Blob] = {}
    listed: list[tuple[str, str]] = []
    for name, (display, files) in catalog.label_projects(
        session, label.id, include_private
    ).items():
        listed.append((name, display))
        pages[f"simple/{name}/index.html"] = render.project_html(display, files)
        pages[f"simple/{name}/index.json"] = render.project_json(display, files)
        for f in files:
            key = f"files/{f.sha256}/{f.filename}"
            blobs[key] = _Blob(blob_keys[f.filename], f.sha256)
            if f.metadata_sha256:
                blobs[key + ".metadata"] = _Blob(
                    blob_keys[f.filename] + ".metadata", f.metadata_sha256
                )
    # The root pages last in the dict: they are written after every project page.
    pages["simple/index.html"] = render.root_html(listed)
    pages["simple/index.json"] = render.root_json(listed)
    return pages, blobs, len(listed)


def _media_type(key: str) -> str:
    if key.endswith(".html"):
        return HTML_TYPE
    if key.endswith(".json"):
        return render.JSON_V1
    return METADATA_TYPE if key.endswith(".metadata") else FILE_TYPE


def _copy(store: BlobStore, target: Target, key: str, blob: _Blob) -> None:
    try:
        source = store.open(blob.blob_key)
    except FileNotFoundError:
        raise DamagedBlob(f"stored file is missing: {key} (run `wheelyard check`)") from None
    with source:
        reader = _Hashing(source)
        target.put_stream(key, reader, _media_type(key))  # type: ignore[arg-type]
    if blob.sha256 is not None and reader.digest.hexdigest() != blob.sha256:
        target.delete([key])  # no page names it yet
        raise DamagedBlob(f"stored file is damaged: {key} (sha256 differs; run `wheelyard check`)")


def export_label(
    session: Session,
    store: BlobStore,
    target: Target,
    owner_name: str,
    label_name: str,
    include_private: bool = False,
) -> Exported:
    """Bring ``target`` to the label's current snapshot, writing and deleting only changes."""
    pages, blobs, projects = plan(session, owner_name, label_name, include_private)
    done = Exported(projects=projects, files=len(blobs))
    existing = target.keys()
    try:
        before = json.loads(target.read(MANIFEST) or b"{}").get("pages", {})
    except (ValueError, AttributeError):
        before = {}  # a damaged manifest: every page is rewritten
    for key, blob in blobs.items():
        if key not in existing:  # the path names the content: present means identical
            _copy(store, target, key, blob)
            done.written.append(key)
    digests = {key: hashlib.sha256(body).hexdigest() for key, body in pages.items()}
    for key, body in pages.items():
        if key not in existing or before.get(key) != digests[key]:
            target.put_bytes(key, body, _media_type(key))
            done.written.append(key)
    manifest = {"owner": owner_name, "label": label_name, "pages": digests}
    target.put_bytes(MANIFEST, json.dumps(manifest, indent=1).encode(), "application/json")
    done.deleted = sorted(set(existing) - set(pages) - set(blobs) - {MANIFEST})
    target.delete(done.deleted)
    return done


__all__ = ["MANIFEST", "Exported", "export_label", "plan"]
