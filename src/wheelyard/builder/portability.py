"""Where a wheel installs, read from its platform tags: the glibc (or musl) floor of each
platform wheel, and the check of a run's wheels against the ``target`` policy.

A ``manylinux_2_28`` wheel needs glibc 2.28 or newer where it is installed: RHEL 8, Ubuntu
20.04 and Amazon Linux 2 have older ones. A wheel whose floor is above the target is a warning
(an error with ``--strict``); a ``linux_*`` wheel (never repaired) installs only on machines
like the one that built it. Floors come from the tags alone (``packaging``), never from the
machine, so upstream and yard wheels are judged the same way as built ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from wheelyard.errors import InvalidInput

DEFAULT_TARGET = "manylinux_2_28"
# PEP 513 / 571 / 599 names → the glibc they stand for (PEP 600 names carry it).
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_PEP600 = re.compile(r"(manylinux|musllinux)_(\d+)_(\d+)(?:_.+)?")
_LEGACY_RE = re.compile(r"(manylinux1|manylinux2010|manylinux2014)(?:_.+)?")


@dataclass(frozen=True, order=True)
class Floor:
    """The oldest C library a wheel installs on."""

    libc: Literal["glibc", "musl"]
    version: tuple[int, int]

    def __str__(self) -> str:
        return f"{self.libc} {self.version[0]}.{self.version[1]}"


# A platform wheel with no manylinux/musllinux tag: it installs where it was built only.
HOST_ONLY = "this machine only"
PURE = "pure"


def platform_floor(platform: str) -> Floor | None:
    """The floor of one platform tag (``manylinux_2_28_x86_64``, ``manylinux2014_aarch64``,
    ``musllinux_1_2_x86_64``), None for any other (``linux_x86_64``, ``macosx_…``, ``any``)."""
    legacy = _LEGACY_RE.fullmatch(platform)
    if legacy:
        return Floor("glibc", _LEGACY[legacy.group(1)])
    pep600 = _PEP600.fullmatch(platform)
    if pep600:
        libc: Literal["glibc", "musl"] = "glibc" if pep600.group(1) == "manylinux" else "musl"
        return Floor(libc, (int(pep600.group(2)), int(pep600.group(3))))
    return None


def _platforms(name: str) -> frozenset[str]:
    """The platform tags of a wheel file name, or of a bare (possibly compressed) tag."""
    if name.endswith(".whl"):
        tags: frozenset[Tag] = parse_wheel_filename(name)[3]
        return frozenset(t.platform for t in tags)
    return frozenset(name.split("."))


def describe(name: str) -> str:
    """What the summary says about a wheel (file name or platform tag): its floor ("glibc
    2.28"), "pure", "this machine only", or "" when it is not a Linux wheel or not known."""
    if not name:
        return ""
    try:
        platforms = _platforms(name)
    except InvalidWheelFilename:
        return ""
    if platforms <= {"any", PURE}:
        return PURE
    floors = [f for f in map(platform_floor, platforms) if f is not None]
    if floors:
        return str(min(floors))  # it installs wherever any one of its tags does
    if any(p.startswith("linux_") for p in platforms):
        return HOST_ONLY
    return ""


def parse_target(value: str) -> Floor:
    """The ``target`` setting: a policy name (``manylinux_2_28``, ``manylinux2014``,
    ``musllinux_1_2``, with or without an architecture)."""
    floor = platform_floor(value)
    if floor is None:
        raise InvalidInput(
            f"{value!r} is not a policy (expected e.g. manylinux_2_28, manylinux2014 "
            "or musllinux_1_2)"
        )
    return floor


def _floor_of(description: str) -> Floor | None:
    libc, _, version = description.partition(" ")
    if libc not in ("glibc", "musl") or "." not in version:
        return None
    major, minor = version.split(".")
    return Floor("glibc" if libc == "glibc" else "musl", (int(major), int(minor)))


@dataclass(frozen=True)
class Portability:
    """The run's wheels against the target: which platform wheels it has, and which of them
    will not install where the target promises."""

    target: str
    floors: dict[str, str]  # platform wheel file name → its description
    above: tuple[str, ...]  # file names above the target (or for this machine only)

    @property
    def highest(self) -> str:
        """The highest floor for the target's C library (else for the other one)."""
        known = [f for f in map(_floor_of, self.floors.values()) if f is not None]
        libc = parse_target(self.target).libc
        return str(max(known, key=lambda f: (f.libc == libc, f))) if known else ""

    def summary(self) -> str:
        if not self.floors:
            return "no platform wheels: they install anywhere"
        counted = f"{len(self.floors)} platform wheel{'s' * (len(self.floors) != 1)}"
        floor = f"floor {self.highest}" if self.highest else "no manylinux tag"
        verdict = f"{len(self.above)} above it" if self.above else "all within it"
        return f"{counted}, {floor}; target {self.target}: {verdict}"

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "floor": self.highest,
            "wheels": dict(sorted(self.floors.items())),
            "above_target": list(self.above),
        }


def check(filenames: Iterable[str], target: str) -> Portability:
    """Each platform wheel's floor, and those above ``target`` (same C library, newer) or
    without any manylinux/musllinux tag. A wheel for the other C library is not compared: a
    musllinux build is a choice of image, not a portability slip."""
    wanted = parse_target(target)
    floors: dict[str, str] = {}
    above: list[str] = []
    for name in sorted(set(filenames)):
        description = describe(name)
        if description in ("", PURE):
            continue
        floors[name] = description
        floor = _floor_of(description)
        if floor is None or (floor.libc == wanted.libc and floor.version > wanted.version):
            above.append(name)
    return Portability(target, floors, tuple(above))


def host_glibc() -> str | None:
    """This machine's glibc version ("2.36"), None where it has none (musl, macOS)."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        return None
    return found.split()[-1] if found and found.startswith("glibc") else None


def host_note(target: str, why: str = "") -> str:
    """The one line a host build prints before it builds; ``why`` says why the host was
    chosen (e.g. "no docker or podman answers here")."""
    glibc = host_glibc()
    parts = [p for p in (f"glibc {glibc}" if glibc else "", why) if p]
    here = f" ({'; '.join(parts)})" if parts else ""
    return (
        f"note: building on the host{here}: its wheels may need a C library as new as this "
        f"machine's; --container builds {target} wheels in docker or podman"
    )


def hint(runner: str, target: str) -> str:
    """What to do about wheels above the target."""
    if runner == "host":
        return f"use --container (a {target} image) for wheels that install wherever it does"
    return f"use an image no newer than the target (--container {target}) or raise `target`"
