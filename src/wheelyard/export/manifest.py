"""What a static snapshot's target holds, recorded beside it so that an incremental export
knows without listing the target (a ListObjects per 1,000 keys on S3).

Two small control objects at the top of the target, both JSON:

- the manifest (``.wheelyard-export.json``): every object of the last finished export — each
  page with the sha256 of its body, each file and metadata key (``files/<sha256>/<name>``,
  stored once per file with a flag for its ``.metadata``), and the owner and label it is of;
- the journal (``.wheelyard-export.pending.json``): written before an export writes or deletes
  anything, removed after its new manifest is in place. It names every key that export was
  about to write or delete: while it exists, those keys may or may not be there, or hold old
  or new bytes (an export that was killed). The next export rewrites those it needs and
  deletes the others; files are named by their content, and deleting a missing key is a no-op.

A missing or unreadable manifest or journal, or a manifest of an older format, falls back to
listing the target (and then no page's content is known, so every page is rewritten) — except
a format-1 manifest's page digests, trusted as they always were. Whatever a listing finds and
the snapshot does not hold gets deleted, so a listing must show nothing but a snapshot: a
destination holding another label's snapshot (its manifest or journal says so), or, with no
manifest of this label, any object a snapshot never has (a folder of other files, a yard's
own data), is refused before anything is written or deleted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from wheelyard.errors import Conflict
from wheelyard.export.targets import Target

MANIFEST = ".wheelyard-export.json"
JOURNAL = ".wheelyard-export.pending.json"
CONTROL = frozenset({MANIFEST, JOURNAL})
FORMAT = 2
_JSON = "application/json"
_FILES = "files/"
_META = ".metadata"
# Every key a snapshot holds: the root and project pages, files (and .metadata) by sha256.
_SNAPSHOT_KEY = re.compile(
    r"simple/index\.(html|json)|simple/[a-z0-9._-]+/index\.(html|json)|files/[0-9a-f]{64}/[^/]+"
)


@dataclass
class Holding:
    """What the target holds, as far as an export can tell."""

    # key → sha256 of the body for a page; None for a file (its key names its content) and
    # for a page whose content is not known (it gets rewritten).
    present: dict[str, str | None] = field(default_factory=dict)
    uncertain: set[str] = field(default_factory=set)  # a killed export's keys
    listed: bool = False  # read by listing the target: no usable manifest

    def needs(self, key: str, digest: str | None) -> bool:
        """Whether ``key`` must be written to hold the body whose sha256 is ``digest``."""
        return key in self.uncertain or key not in self.present or self.present[key] != digest

    def keys(self) -> set[str]:
        """Every key that may exist."""
        return set(self.present) | self.uncertain


def _pack(keys: set[str]) -> dict[str, int]:
    """File keys as ``{"<sha256>/<name>": flags}``: 1 the file, 2 its metadata (about half the
    bytes of listing both keys: a 20,000-file label's manifest is ~2.5 MB)."""
    packed: dict[str, int] = {}
    for key in keys:
        name = key.removeprefix(_FILES)
        if name.endswith(_META):
            base = name.removesuffix(_META)
            packed[base] = packed.get(base, 0) | 2
        else:
            packed[name] = packed.get(name, 0) | 1
    return packed


def _unpack(packed: dict[str, int]) -> set[str]:
    keys: set[str] = set()
    for name, flags in packed.items():
        if flags & 1:
            keys.add(_FILES + name)
        if flags & 2:
            keys.add(_FILES + name + _META)
    return keys


def _read(target: Target, key: str) -> Any:
    """The parsed object, None when there is none, ``...`` when it is unreadable."""
    raw = target.read(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return ...


def _ours(doc: Any, owner: str, label: str, version: int) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("format", 1) == version
        and doc.get("owner") == owner
        and doc.get("label") == label
    )


def _named(doc: Any) -> str | None:
    """The ``owner/label`` a manifest or journal says it is of, or None when it says none."""
    if isinstance(doc, dict) and isinstance(doc.get("owner"), str):
        return f"{doc['owner']}/{doc.get('label')}"
    return None


def _refuse_foreign(manifest: Any, journal: Any, owner: str, label: str, listed: set[str]) -> None:
    """Refuse a destination a listing would wrongly clean: another label's snapshot, or
    objects no snapshot holds with no manifest of this label saying the place is its own."""
    ours = f"{owner}/{label}"
    for doc in (manifest, journal):
        named = _named(doc)
        if named is not None and named != ours:
            raise Conflict(
                f"the destination holds the snapshot of {named}, not of {ours}: export each "
                "label to a folder or prefix of its own (nothing was written or deleted)"
            )
    if _named(manifest) == ours:
        return  # our own place: what a listing finds there is the export's to clean
    foreign = sorted(key for key in listed if not _SNAPSHOT_KEY.fullmatch(key))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if foreign[3:] else "")
        raise Conflict(
            f"the destination is not empty and holds no snapshot of {ours} ({shown}): "
            "export into an empty folder or prefix, or one an export of this label made "
            "(nothing was written or deleted)"
        )


def _from_manifest(doc: dict[str, Any]) -> dict[str, str | None]:
    present: dict[str, str | None] = dict.fromkeys(_unpack(doc["files"]))
    present.update({str(k): str(v) for k, v in doc["pages"].items()})
    return present


def load(target: Target, owner: str, label: str) -> Holding:
    """What ``target`` holds: from its manifest and journal, or by listing it."""
    manifest, journal = _read(target, MANIFEST), _read(target, JOURNAL)
    journal_ok = journal is None or _ours(journal, owner, label, FORMAT)
    if journal_ok and _ours(manifest, owner, label, FORMAT):
        try:
            keys = journal["keys"] if journal else []
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise TypeError("journal keys")
            return Holding(_from_manifest(manifest), set(keys))
        except (KeyError, TypeError, AttributeError):
            pass  # a damaged manifest or journal: list
    # Page digests of a format-1 manifest (no journal then) are trusted as they always were.
    old_pages: dict[str, Any] = {}
    if journal is None and _ours(manifest, owner, label, 1):
        pages = manifest.get("pages")
        old_pages = pages if isinstance(pages, dict) else {}
    listed = target.keys() - CONTROL
    _refuse_foreign(manifest, journal, owner, label, listed)
    return Holding({key: old_pages.get(key) for key in listed}, listed=True)


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def begin(target: Target, owner: str, label: str, keys: set[str]) -> None:
    """Record, before any of it happens, every key this export may write or delete."""
    doc = {"format": FORMAT, "owner": owner, "label": label, "keys": sorted(keys)}
    target.put_bytes(JOURNAL, _dump(doc), _JSON)


def finish(target: Target, owner: str, label: str, pages: dict[str, str], files: set[str]) -> None:
    """Record the snapshot now in place (pages with their sha256, the files), then drop the
    journal: a kill between the two only makes the next export redo the journal's keys."""
    doc = {"format": FORMAT, "owner": owner, "label": label, "pages": pages, "files": _pack(files)}
    target.put_bytes(MANIFEST, _dump(doc), _JSON)
    target.delete([JOURNAL])


__all__ = ["CONTROL", "JOURNAL", "MANIFEST", "Holding", "begin", "finish", "load"]
