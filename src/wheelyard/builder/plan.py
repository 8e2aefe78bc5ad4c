"""The build plan: plain data saying, per project × version × interpreter, where each wheel
comes from — already in the yard, an upstream wheel, or a build from source."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

from packaging import tags
from packaging.utils import parse_wheel_filename

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.resolve import Resolved
from wheelyard.errors import InvalidInput

Source = Literal["yard", "upstream", "build"]
ANY = "any"


@dataclass(frozen=True, order=True)
class Step:
    project: str
    version: str
    python: str  # "3.12", or "any" for a pure wheel that serves every interpreter
    source: Source
    filename: str  # the wheel in the yard or upstream, or the sdist to build
    url: str = ""  # where pip found it (upstream and build steps)


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    # per interpreter ("3.12"): the pinned closure, "name==version", that verify installs
    sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def by_source(self, source: Source) -> list[Step]:
        return [s for s in self.steps if s.source == source]

    def to_json(self) -> str:
        steps = [asdict(s) for s in self.steps]
        return json.dumps({"steps": steps, "sets": dict(self.sets)}, indent=2)


def ordered_tags(interp: Interpreter) -> list[tags.Tag]:
    """Tags a wheel may carry to install on ``interp`` (the platforms its pip accepts), the
    one an installer prefers first."""
    version = interp.version[:2]
    platforms = list(interp.platforms) or list(tags.platform_tags())
    return [
        *tags.cpython_tags(version, platforms=platforms),
        *tags.compatible_tags(version, interpreter=interp.tag, platforms=platforms),
    ]


def supported_tags(interp: Interpreter) -> set[tags.Tag]:
    """Tags a wheel may carry to install on ``interp``."""
    return set(ordered_tags(interp))


def _is_pure(filename: str) -> bool:
    return all(t.abi == "none" and t.platform == "any" for t in parse_wheel_filename(filename)[3])


def platform_projects(in_yard: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """Projects of which the yard holds a platform wheel, of any version: their builds are
    expected to make platform wheels again (every interpreter may start at once)."""
    return frozenset(
        project
        for project, files in in_yard.items()
        if any(f.endswith(".whl") and not _is_pure(f) for f in files)
    )


def make_plan(
    closures: Mapping[Interpreter, Iterable[Resolved]],
    in_yard: Mapping[str, Iterable[str]] | None = None,
    from_source: bool = False,
    no_binary: Iterable[str] = (),
) -> Plan:
    """Decide each (project, version, interpreter); ``in_yard`` maps project → file names."""
    yard = {p: list(files) for p, files in (in_yard or {}).items()}
    forced = {n.lower() for n in no_binary}
    steps: set[Step] = set()
    sets = {
        interp.minor: tuple(sorted(f"{r.name}=={r.version}" for r in closure))
        for interp, closure in closures.items()
    }
    for interp, closure in closures.items():
        wanted = supported_tags(interp)
        for r in closure:
            held = [
                f
                for f in yard.get(r.name, [])
                if f.endswith(".whl")
                and str(parse_wheel_filename(f)[1]) == r.version
                and parse_wheel_filename(f)[3] & wanted
            ]
            if held:
                f = held[0]
                steps.add(Step(r.name, r.version, ANY if _is_pure(f) else interp.minor, "yard", f))
            elif r.is_wheel and not from_source and r.name not in forced:
                python = ANY if _is_pure(r.filename) else interp.minor
                steps.add(Step(r.name, r.version, python, "upstream", r.filename, r.url))
            elif r.is_wheel:
                raise InvalidInput(
                    f"{r.name} {r.version} is to be built from source, but pip found only a "
                    f"wheel ({r.filename}) for Python {interp.minor}: no sdist to build"
                )
            else:
                steps.add(Step(r.name, r.version, interp.minor, "build", r.filename, r.url))
    return Plan(tuple(sorted(steps)), sets)
