"""Rules for names: owners and labels (the first URL segments, with reserved words), and the
project names and versions the API accepts outside an upload (the same rules uploads apply)."""

from __future__ import annotations

import re

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelyard.errors import InvalidInput

# Matched with fullmatch: "$" also matches before a final newline ("alice\n" passed re.match).
_OWNER_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")

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

# Column widths of packages.name and releases.version.
MAX_PROJECT = 200
MAX_VERSION = 100
# PEP 508 names, ASCII only: what a distribution file name can carry (no homoglyphs).
_PROJECT_RE = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")
# PEP 440 allows surrounding whitespace and its regex is case-insensitive, so non-ASCII letters
# that case-fold to ASCII ("\u017f" for "s") parse too: versions are checked against this first.
_VERSION_CHARS = re.compile(r"[A-Za-z0-9.!+_-]+")


def check_owner_name(name: str) -> str:
    """Return the owner name lower-cased, or raise naming what is wrong with it."""
    lowered = name.lower()  # only after the ASCII check: "\u212a" (Kelvin) lower-cases to "k"
    if not name.isascii() or not _OWNER_RE.fullmatch(lowered):
        raise InvalidInput(
            f"invalid owner name {name[:80]!r}: use 1-64 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    if lowered in RESERVED_OWNERS:
        raise InvalidInput(f"owner name {name[:80]!r} is reserved")
    return lowered


def check_label_name(name: str) -> str:
    """Return the label name unchanged (labels are case-sensitive) or raise."""
    if not _LABEL_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid label name {name[:80]!r}: use 1-100 letters, digits, '.', '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return name


def check_project_name(name: str) -> NormalizedName:
    """The PEP 503 form of a valid project name, or raise naming what is wrong."""
    if len(name) > MAX_PROJECT or not _PROJECT_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid project name {name[:80]!r}: use at most {MAX_PROJECT} ASCII letters, "
            "digits, '.', '-' or '_', starting and ending with a letter or digit (PEP 508)"
        )
    return canonicalize_name(name)


def check_version(version: str) -> str:
    """The normalised form of a valid PEP 440 version, or raise."""
    if len(version) > MAX_VERSION:
        raise InvalidInput(f"version is longer than {MAX_VERSION} characters")
    try:
        if not _VERSION_CHARS.fullmatch(version):
            raise InvalidVersion(version)
        return str(Version(version))
    except InvalidVersion:
        raise InvalidInput(f"invalid version {version!r} (PEP 440)") from None
