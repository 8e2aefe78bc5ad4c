"""One label as a static index: what to write, in an order that keeps every reader whole.

Layout under the target (the yard's own URL layout below a label, so the pages' relative file
links work unchanged)::

    simple/index.html, simple/index.json                root page, PEP 503 HTML / PEP 691 JSON
    simple/<project>/index.html, .../index.json         project pages (sha256 in every link)
    files/<sha256>/<filename>[.metadata]                the files and their PEP 658 metadata
    .wheelyard-export.json                              manifest: every object, page digests
    .wheelyard-export.pending.json                      journal of an export under way

Order of a run: the journal (every key the run may write or delete), new files, changed
project pages, the root pages, deletions of what left the label, the new manifest, and last
the journal's removal (``manifest.py``). Each object is replaced atomically (folder: rename;
S3: PutObject), so a reader always gets whole objects and every link of any page it reads
resolves — a page names only files written before it. On S3 there is no multi-object
transaction: a reader may see one project's new page beside another's old one (each complete
and self-consistent), and a reader holding a page from before a deletion may find a file it
names gone. File paths carry the content's sha256, so a file is never rewritten in place: an
incremental export writes only new files and changed pages.

What exists is read from the manifest, not by listing the target (44,002 objects for 20,000
files: a 17 s listing on S3), so the export assumes it owns its prefix: an object put there by
hand is neither seen nor deleted, and one deleted by hand is not restored, unless the manifest
is missing or unusable — then the target is listed, and anything under the prefix that is not
part of the snapshot is deleted. An export that was killed leaves its journal; the next run
rewrites the journal's keys it needs and deletes the rest, so it ends with exactly the
snapshot's objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner
from wheelyard.errors import DamagedBlob
from wheelyard.export import manifest
from wheelyard.export.manifest import MANIFEST
from wheelyard.export.targets import Target
from wheelyard.storage import BlobStore
from wheelyard.web import render
from wheelyard.yard import catalog
from wheelyard.yard.access import missing_label, readable_label

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


@dataclass
class Plan:
    owner: str  # the names as stored (the manifest records them)
    label: str
    pages: dict[str, bytes]  # key → body, root pages last
    blobs: dict[str, _Blob]  # key → where the stored file is
    projects: int


def plan(session: Session, owner_name: str, label_name: str, include_private: bool) -> Plan:
    """The pages and files of the snapshot, and its project count."""
    owner, label = _label(session, owner_name, label_name, include_private)
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
    return Plan(owner.name, label.name, pages, blobs, len(listed))


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
    snap = plan(session, owner_name, label_name, include_private)
    done = Exported(projects=snap.projects, files=len(snap.blobs))
    holding = manifest.load(target, snap.owner, snap.label)
    digests = {key: hashlib.sha256(body).hexdigest() for key, body in snap.pages.items()}
    new_files = [key for key in snap.blobs if holding.needs(key, None)]
    new_pages = [key for key in snap.pages if holding.needs(key, digests[key])]
    gone = sorted(holding.keys() - snap.pages.keys() - snap.blobs.keys() - manifest.CONTROL)
    if not (new_files or new_pages or gone or holding.uncertain or holding.listed):
        return done  # the manifest already describes this snapshot
    manifest.begin(target, snap.owner, snap.label, {*new_files, *new_pages, *gone})
    for key in new_files:  # the path names the content: present means identical
        _copy(store, target, key, snap.blobs[key])
        done.written.append(key)
    for key in new_pages:
        target.put_bytes(key, snap.pages[key], _media_type(key))
        done.written.append(key)
    if gone:
        target.delete(gone)  # after every page that stopped naming them
    done.deleted = gone
    manifest.finish(target, snap.owner, snap.label, digests, set(snap.blobs))
    return done


__all__ = ["MANIFEST", "Exported", "Plan", "export_label", "plan"]
