"""A package's long description and dependencies, read from the newest wheel's stored metadata
(the PEP 658 file kept beside it) and rendered as PyPI does with ``readme_renderer``, whose
output is sanitised: scripts, event handlers and ``javascript:`` links do not survive.

Metadata files never change (they are named by the wheel's digest), so renderings are kept
in a small in-process cache keyed by that digest.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import compat32

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt

from wheelyard.db.models import File
from wheelyard.storage import BlobStore

log = logging.getLogger("wheelyard.web")
MAX_METADATA = 4 * 1024 * 1024  # a larger metadata file is not rendered
CACHED = 256


@dataclass(frozen=True)
class Described:
    html: str = ""
    requires: list[str] = field(default_factory=list)
    requires_python: str | None = None


_cache: OrderedDict[str, Described] = OrderedDict()
_lock = threading.Lock()


def render_description(text: str, content_type: str | None) -> str:
    """Sanitised HTML of a description; plain text when the markup cannot be rendered."""
    kind = (content_type or "").split(";")[0].strip().lower()
    rendered: str | None = None
    if kind == "text/markdown":
        rendered = readme_renderer.markdown.render(text)
    elif kind in ("text/x-rst", ""):
        rendered = readme_renderer.rst.render(text)
    if rendered is None:
        rendered = readme_renderer.txt.render(text)
    return rendered or ""


def _parse(raw: bytes) -> Described:
    message = BytesParser(policy=compat32).parsebytes(raw)
    body = message.get_payload()
    text = body if isinstance(body, str) and body.strip() else message.get("Description", "")
    html = render_description(str(text), message.get("Description-Content-Type"))
    requires = [str(r) for r in message.get_all("Requires-Dist") or []]
    return Described(html, requires, message.get("Requires-Python"))


def describe(store: BlobStore, file: File | None) -> Described:
    """The rendered description of ``file`` (a wheel with stored metadata), or an empty one."""
    if file is None or not file.metadata_sha256:
        return Described()
    digest = file.metadata_sha256
    with _lock:
        if digest in _cache:
            _cache.move_to_end(digest)
            return _cache[digest]
    try:
        with store.open(file.blob_key + ".metadata") as fh:
            raw = fh.read(MAX_METADATA + 1)
    except FileNotFoundError:
        log.error("metadata of %s is missing from storage (run `wheelyard check`)", file.filename)
        return Described()
    described = Described() if len(raw) > MAX_METADATA else _parse(raw)
    with _lock:
        _cache[digest] = described
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return described
