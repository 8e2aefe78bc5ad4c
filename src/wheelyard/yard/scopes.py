"""Token scopes, named as on Anaconda.org, and the rule for whether a set of scopes grants one.

A scope grants itself and every scope below it: ``all`` grants everything, ``pypi`` grants
``pypi:upload`` and ``pypi:download``. Actions name the alternatives that allow them.
"""

from __future__ import annotations

from collections.abc import Iterable

from wheelyard.errors import InvalidInput

SCOPES: dict[str, str] = {
    "all": "Full access to everything the user can do",
    "api": "Full access to the REST API",
    "api:read": "Read access to the REST API and to private indexes",
    "api:write": "Write access to the REST API (upload, labels, removal)",
    "api:modify-group": "Manage organisation groups",
    "pypi": "All PyPI index operations",
    "pypi:upload": "Upload distributions through the PyPI upload API",
    "pypi:download": "Read private PyPI indexes and download files",
    "conda": "All conda operations (accepted for compatibility)",
    "conda:download": "Download conda packages (accepted for compatibility)",
    "repos": "Repository access (accepted for compatibility)",
    "org:read": "Read organisation membership",
    "org:write": "Change organisation membership",
}

# What each action accepts; the first entry is the one named in a refusal.
UPLOAD = ("pypi:upload", "api:write")
READ = ("pypi:download", "api:read", "api:write")
WRITE = ("api:write",)
# Token management: listing a user's tokens reads the API, minting or revoking others writes it.
# Any valid token may show or revoke itself (``anaconda auth --info``, ``anaconda logout``).
TOKENS_READ = ("api:read", "api:write")
TOKENS_WRITE = ("api:write",)
# The owner's audit trail (GET /api/events/OWNER): an API read by one of the owner's users.
AUDIT = ("api:read", "api:write")


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """Split and validate scope names; an unknown name is an error that lists the valid ones."""
    if isinstance(text, str):
        items = text.split()
    else:
        parts = list(text)
        if not all(isinstance(part, str) for part in parts):
            raise InvalidInput("scopes must be a list of scope names (strings)")
        items = [s for part in parts for s in part.split()]
    unknown = [s for s in items if s not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}; valid scopes: {', '.join(SCOPES)}"
        )
    return tuple(dict.fromkeys(items))


def grants(held: Iterable[str], wanted: str) -> bool:
    """Whether the held scopes grant ``wanted`` (exactly, through a parent, or through ``all``)."""
    parent = wanted.split(":", 1)[0]
    return any(s in ("all", wanted, parent) for s in held)


def grants_any(held: Iterable[str], alternatives: Iterable[str]) -> bool:
    held = tuple(held)
    return any(grants(held, w) for w in alternatives)


def not_covered(held: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The wanted scopes that ``held`` does not grant (``api:write`` also grants ``api:read``):
    a token may mint another token only with scopes it holds itself."""
    held = tuple(held)
    return [
        w
        for w in wanted
        if not grants(held, w) and not (w == "api:read" and grants(held, "api:write"))
    ]
