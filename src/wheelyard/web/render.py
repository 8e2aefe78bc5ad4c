"""Rendering of Simple API pages: PEP 503 HTML and PEP 691 JSON (with PEP 592/658/700/714)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelyard.yard.catalog import IndexFile

HTML = "text/html"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
JSON_V1 = "application/vnd.pypi.simple.v1+json"
API_VERSION = "1.1"

_HEAD = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="'
    + API_VERSION
    + '">\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n'
)
_TAIL = "</body>\n</html>\n"


def file_url(f: IndexFile) -> str:
    """Relative to the project page, so path tokens and label prefixes carry over."""
    return f"../../files/{f.sha256}/{f.filename}"


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version_key(v: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(v))
    except InvalidVersion:
        return (0, v)


def root_html(projects: Sequence[tuple[str, str]]) -> bytes:
    lines = [_HEAD.format(title="Simple index")]
    lines += [f'<a href="{escape(n)}/">{escape(d)}</a><br/>\n' for n, d in projects]
    lines.append(_TAIL)
    return "".join(lines).encode()


def root_json(projects: Sequence[tuple[str, str]]) -> bytes:
    body = {"meta": {"api-version": API_VERSION}, "projects": [{"name": d} for _n, d in projects]}
    return json.dumps(body, separators=(",", ":")).encode()


def project_html(name: str, files: Sequence[IndexFile]) -> bytes:
    lines = [_HEAD.format(title=f"Links for {escape(name)}")]
    for f in files:
        attrs = [f'href="{escape(file_url(f))}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
        if f.metadata_sha256:
            # PEP 714: HTML keeps the legacy attribute beside the new one; pip 22.3 to 23.1
            # know only data-dist-info-metadata, and a "sha256=..." string is what they expect.
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        if f.yanked:
            attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
        lines.append(f"<a {' '.join(attrs)}>{escape(f.filename)}</a><br/>\n")
    lines.append(_TAIL)
    return "".join(lines).encode()


def project_json(name: str, files: Sequence[IndexFile]) -> bytes:
    entries = []
    for f in files:
        entry: dict[str, object] = {
            "filename": f.filename,
            "url": file_url(f),
            "hashes": {"sha256": f.sha256},
            "requires-python": f.requires_python,
            "size": f.size,
            "upload-time": _iso(f.upload_time),
            "yanked": (f.yanked_reason or True) if f.yanked else False,
        }
        if f.metadata_sha256:
            # PEP 714: JSON carries only "core-metadata". The legacy "dist-info-metadata" key
            # must not appear: pip 22.3 to 23.1 read it, expect a string or bool, and crash on
            # the dict (TypeError: unhashable type: 'dict' / AttributeError: ... 'partition').
            # Those pips then just download the wheel; pip >= 23.2 and uv read core-metadata.
            # The HTML page keeps both attributes (project_html).
            entry["core-metadata"] = {"sha256": f.metadata_sha256}
        entries.append(entry)
    versions = sorted({f.version for f in files}, key=_version_key)
    body = {
        "meta": {"api-version": API_VERSION},
        "name": canonicalize_name(name),  # PEP 691: the normalized name of the project
        "versions": versions,
        "files": entries,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def negotiate(accept: str | None, query_format: str | None) -> str | None:
    """The media type to answer with (PEP 691), or None when nothing acceptable is offered."""
    if query_format:
        accept = query_format
    if not accept:
        return HTML
    best: tuple[float, int, str] | None = None
    offers = {
        JSON_V1: JSON_V1,
        "application/vnd.pypi.simple.latest+json": JSON_V1,
        HTML_V1: HTML_V1,
        "application/vnd.pypi.simple.latest+html": HTML_V1,
        HTML: HTML,
        "text/*": HTML,
        "*/*": HTML,
    }
    for position, item in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        chosen = offers.get(media.lower())
        if chosen is None or q <= 0:
            continue
        # Highest q wins; among equals, the client's order decides.
        if best is None or q > best[0]:
            best = (q, position, chosen)
    return best[2] if best else None
