"""Rules for owner and label names (the first URL segments), including reserved words."""

from __future__ import annotations

import re

from wheelyard.yard.errors import InvalidInput

_OWNER_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")

# First path segments the server itself uses; an owner can never take them.
RESERVED_OWNERS = frozenset(
    {
        "api",
        "t",
        "static",
        "simple",
        "files",
        "label",
        "labels",
        "ui",
        "login",
        "logout",
        "health",
        "healthz",
        "admin",
        "user",
        "users",
        "org",
        "orgs",
        "token",
        "tokens",
        "upload",
        "download",
        "stage",
        "commit",
        "search",
        "about",
        "docs",
        "favicon.ico",
    }
)

DEFAULT_LABEL = "main"


def check_owner_name(name: str) -> str:
    """Return the owner name lower-cased, or raise naming what is wrong with it."""
    lowered = name.lower()
    if not _OWNER_RE.match(lowered):
        raise InvalidInput(
            f"invalid owner name {name!r}: use 1-64 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    if lowered in RESERVED_OWNERS:
        raise InvalidInput(f"owner name {name!r} is reserved")
    return lowered


def check_label_name(name: str) -> str:
    """Return the label name unchanged (labels are case-sensitive) or raise."""
    if not _LABEL_RE.match(name):
        raise InvalidInput(
            f"invalid label name {name!r}: use 1-100 letters, digits, '.', '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return name
