"""Validation of uploaded distributions: file name, archive layout and core metadata.

Everything is read with ``packaging`` and the standard library; nothing is extracted to disk.
"""

from __future__ import annotations

import lzma
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.metadata import InvalidMetadata, Metadata, parse_email
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelyard.errors import InvalidInput
from wheelyard.yard.names import MAX_PROJECT, MAX_VERSION
from wheelyard.yard.wheelfacts import WheelFacts, facts_of

MAX_METADATA_BYTES = 16 * 1024 * 1024  # a METADATA larger than this is not a real one
MAX_FILENAME = 400  # width of files.filename and stages.basename
MAX_REQUIRES_PYTHON = 200  # width of files.requires_python
# What zipfile and tarfile raise on a malformed archive besides their own classes: corrupt
# deflate or LZMA streams, and NotImplementedError (a RuntimeError) or RuntimeError for
# unknown versions, compression methods and encrypted entries.
_ARCHIVE_ERRORS = (OSError, EOFError, RuntimeError, ValueError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class DistFile:
    """What the yard needs to know about a validated distribution file."""

    filename: str
    kind: Literal["wheel", "sdist"]
    name: NormalizedName
    display_name: str
    version: Version
    metadata: bytes
    requires_python: str | None
    summary: str | None
    tags: frozenset[Tag]
    facts: WheelFacts  # manylinux policy and grafted libraries ("" each for an sdist)


@dataclass(frozen=True)
class ParsedName:
    kind: Literal["wheel", "sdist"]
    name: NormalizedName
    version: Version
    tags: frozenset[Tag]


def parse_filename(filename: str) -> ParsedName:
    """Parse a distribution file name the way PyPI does, refusing what PyPI refuses."""
    # ASCII only, no spaces: packaging's name and version patterns are case-insensitive, so
    # letters that case-fold to ASCII ("\u212a" for "k") would otherwise pass as homoglyphs.
    if (
        not filename
        or not filename.isascii()
        or not filename.isprintable()
        or " " in filename
        or "/" in filename
        or "\\" in filename
    ):
        raise InvalidInput(f"invalid file name {filename[:200]!r}")
    if len(filename) > MAX_FILENAME:
        raise InvalidInput(f"file name is longer than {MAX_FILENAME} characters")
    parsed = _parse_filename(filename)
    if len(parsed.name) > MAX_PROJECT or len(str(parsed.version)) > MAX_VERSION:
        raise InvalidInput(
            f"{filename}: project names have at most {MAX_PROJECT} characters, "
            f"versions at most {MAX_VERSION}"
        )
    return parsed


def _parse_filename(filename: str) -> ParsedName:
    # ValueError too: int() refuses a run of more than 4300 digits in a version or build tag.
    if filename.endswith(".whl"):
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, ValueError) as exc:
            raise InvalidInput(f"invalid wheel file name {filename!r}: {exc}") from None
        linux = sorted({t.platform for t in tags if t.platform.startswith("linux_")})
        if linux:
            raise InvalidInput(
                f"{filename}: platform tag {linux[0]!r} is not allowed; repair the wheel with "
                "auditwheel to get a manylinux or musllinux tag"
            )
        return ParsedName("wheel", name, version, frozenset(tags))
    if filename.endswith(".tar.gz"):
        try:
            name, version = parse_sdist_filename(filename)
        except (InvalidSdistFilename, ValueError) as exc:
            raise InvalidInput(f"invalid sdist file name {filename!r}: {exc}") from None
        return ParsedName("sdist", name, version, frozenset())
    raise InvalidInput(
        f"unsupported file type {filename!r}: upload wheels (.whl) or sdists (.tar.gz)"
    )


def _problems(exc: Exception) -> list[Exception]:
    return list(getattr(exc, "exceptions", None) or [exc])


def _parse_metadata(filename: str, raw: bytes) -> Metadata:
    fields, _unparsed = parse_email(raw)
    try:
        return Metadata.from_raw(fields, validate=True)
    except Exception as exc:  # packaging raises an ExceptionGroup of InvalidMetadata
        problems = _problems(exc)
    # A field newer than the declared Metadata-Version is tolerated, as PyPI and twine do:
    # setuptools wrote License-File under 2.1 for years, hatchling License-Expression under
    # 2.3, and real wheels carry them. It is left out of validation, not out of the file.
    newer = [p for p in problems if isinstance(p, InvalidMetadata) and "introduced in" in str(p)]
    if len(newer) == len(problems):
        for problem in newer:
            key = problem.field.replace("-", "_")  # an email header; multiple-use keys are plural
            for raw_key in (key, key + "s"):
                fields.pop(raw_key, None)  # type: ignore[misc]
        try:
            return Metadata.from_raw(fields, validate=True)
        except Exception as exc:
            problems = _problems(exc)
    detail = "; ".join(str(p) for p in problems)
    raise InvalidInput(f"{filename}: invalid core metadata: {detail}")


def _read_wheel_metadata(path: Path, filename: str) -> tuple[bytes, list[str]]:
    """The wheel's METADATA and the names of its members."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, *_ARCHIVE_ERRORS):
        raise InvalidInput(f"{filename}: not a valid wheel (not a zip archive)") from None
    with archive:
        names = archive.namelist()
        dist_infos = sorted(
            {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
        )
        if len(dist_infos) != 1:
            found = ", ".join(dist_infos) or "none"
            raise InvalidInput(
                f"{filename}: a wheel needs exactly one top-level .dist-info directory "
                f"(found: {found})"
            )
        info = dist_infos[0]
        missing = [f for f in ("METADATA", "WHEEL", "RECORD") if f"{info}/{f}" not in names]
        if missing:
            raise InvalidInput(f"{filename}: {info} lacks {', '.join(missing)}")
        entry = archive.getinfo(f"{info}/METADATA")
        if entry.file_size > MAX_METADATA_BYTES:
            raise InvalidInput(f"{filename}: METADATA is implausibly large")
        try:
            return archive.read(entry), names
        except (zipfile.BadZipFile, *_ARCHIVE_ERRORS) as exc:
            raise InvalidInput(f"{filename}: cannot read {info}/METADATA: {exc}") from None


def _read_sdist_metadata(path: Path, filename: str) -> bytes:
    try:
        archive = tarfile.open(path, "r:gz")  # noqa: SIM115 - closed below
    except (tarfile.TarError, *_ARCHIVE_ERRORS):
        raise InvalidInput(f"{filename}: not a valid sdist (not a gzip-compressed tar)") from None
    with archive:
        tops: set[str] = set()
        try:
            for member in archive:
                parts = member.name.split("/")
                tops.add(parts[0])
                if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                    if member.size > MAX_METADATA_BYTES:
                        raise InvalidInput(f"{filename}: PKG-INFO is implausibly large")
                    fh = archive.extractfile(member)
                    if fh is not None:
                        return fh.read()
        except (tarfile.TarError, *_ARCHIVE_ERRORS) as exc:
            raise InvalidInput(f"{filename}: corrupt sdist archive: {exc}") from None
        raise InvalidInput(f"{filename}: no PKG-INFO in the sdist's top-level directory")


def inspect_file(path: Path, filename: str) -> DistFile:
    """Validate the staged file at ``path`` uploaded as ``filename``; raise InvalidInput if bad."""
    parsed = parse_filename(filename)
    names: list[str] = []
    if parsed.kind == "wheel":
        raw, names = _read_wheel_metadata(path, filename)
    else:
        raw = _read_sdist_metadata(path, filename)
    meta = _parse_metadata(filename, raw)
    requires_python = str(meta.requires_python) if meta.requires_python else None
    # Column widths: packages.display_name and files.requires_python hold 200 characters.
    if len(meta.name) > MAX_PROJECT or len(requires_python or "") > MAX_REQUIRES_PYTHON:
        raise InvalidInput(
            f"{filename}: Name and Requires-Python may have at most {MAX_PROJECT} characters"
        )
    if canonicalize_name(meta.name) != parsed.name:
        raise InvalidInput(
            f"{filename}: the file name says project {parsed.name!r} but its metadata says "
            f"{meta.name!r}"
        )
    if meta.version != parsed.version:
        raise InvalidInput(
            f"{filename}: the file name says version {parsed.version} but its metadata says "
            f"{meta.version}"
        )
    return DistFile(
        filename=filename,
        kind=parsed.kind,
        name=parsed.name,
        display_name=meta.name,
        version=parsed.version,
        metadata=raw,
        requires_python=requires_python,
        summary=meta.summary,
        tags=parsed.tags,
        facts=facts_of(filename, names),
    )
