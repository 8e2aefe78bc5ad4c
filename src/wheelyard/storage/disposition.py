"""The ``Content-Disposition`` of a download, in one place: the yard's own responses and the
presigned URLs of an object store (``ResponseContentDisposition``) name the file alike.

RFC 6266: ``attachment; filename="NAME"`` when the name is plain printable ASCII without
quotes or backslashes; otherwise an ASCII fallback in ``filename`` plus the exact name in
``filename*`` (RFC 8187, formerly 5987: ``UTF-8''`` and percent-encoded bytes).
"""

from __future__ import annotations

from urllib.parse import quote

# RFC 8187 attr-char, less the letters and digits quote() always keeps.
_ATTR_SAFE = "!#$&+-.^_`|~"


def _plain(char: str) -> bool:
    return " " <= char <= "~" and char not in '"\\'


def attachment(filename: str) -> str:
    """``attachment`` naming ``filename``, safe to put in a header whatever the name holds."""
    fallback = "".join(c if _plain(c) else "_" for c in filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    exact = quote(filename, safe=_ATTR_SAFE, encoding="utf-8")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
