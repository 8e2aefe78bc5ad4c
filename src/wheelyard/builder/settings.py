"""The builder's settings: ``[tool.wheelyard.build]`` in ``pyproject.toml`` or ``[build]`` in
``wheelyard.toml``, overridden by ``WHEELYARD_*`` variables, overridden by CLI flags; plus
per-package overrides, as data, keyed by normalised project name."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from wheelyard.builder.portability import DEFAULT_TARGET, parse_target
from wheelyard.errors import InvalidInput


@dataclass(frozen=True)
class PackageOverride:
    """What one project needs beyond the defaults."""

    environment: Mapping[str, str] = field(default_factory=dict)
    build_requires: tuple[str, ...] = ()
    no_binary: bool = False
    exclude: tuple[str, ...] = ()  # libraries auditwheel must not graft
    test: str | None = None  # a shell command run in the verify venv instead of imports
    container: str | None = None  # its own build image (a second container of the run)


@dataclass(frozen=True)
class BuildSettings:
    python: tuple[str, ...] = ()
    jobs: int | None = None
    wheelhouse: Path = Path("wheelhouse")
    plat: str | None = None
    from_source: bool = False
    no_binary: tuple[str, ...] = ()
    url: str | None = None
    owner: str | None = None
    label: str | None = None
    # where builds run: a key of builder.runners.RUNNERS, or "auto" (a container where an
    # engine answers, else the host: builder.runners.decide)
    runner: str = "auto"
    target: str = DEFAULT_TARGET  # the policy every platform wheel should install on
    strict: bool = False  # a wheel above the target fails the run (else: a warning)
    resolver: str = "auto"  # "pip", "uv", or "auto": uv when pip's configuration allows it
    strip: bool = True  # strip debug information from extensions and grafted libraries
    container: str | None = None  # the build image (a PyPA short name or any reference)
    container_engine: str | None = None  # docker or podman (default: whichever answers)
    verify_image: str | None = None  # where to verify (default: a clean container of the image)
    # how files reach containers: bind mounts, copies (docker-in-docker), or auto (copies for
    # a remote engine: builder.runners.transfer)
    container_transfer: str = "auto"
    # the containers' network (--network), e.g. "host" where the daemon has no bridge
    container_network: str | None = None
    packages: Mapping[str, PackageOverride] = field(default_factory=dict)
    source: str = "defaults"  # where the file settings came from, for messages

    def override(self, project: str) -> PackageOverride:
        return self.packages.get(canonicalize_name(project), PackageOverride())

    def forced_from_source(self) -> tuple[str, ...]:
        """Projects never taken as upstream wheels: --no-binary plus per-package no-binary."""
        names: set[str] = {canonicalize_name(n) for n in self.no_binary}
        names |= {n for n, o in self.packages.items() if o.no_binary}
        return tuple(sorted(names))


# key in the file → (attribute, type check, converter)
_SCALARS = {
    "python": "python",
    "jobs": "jobs",
    "wheelhouse": "wheelhouse",
    "plat": "plat",
    "from-source": "from_source",
    "no-binary": "no_binary",
    "url": "url",
    "owner": "owner",
    "label": "label",
    "runner": "runner",
    "target": "target",
    "strict": "strict",
    "resolver": "resolver",
    "strip": "strip",
    "container": "container",
    "container-engine": "container_engine",
    "verify-image": "verify_image",
    "container-transfer": "container_transfer",
    "container-network": "container_network",
}
RESOLVERS = ("auto", "pip", "uv")
TRANSFERS = ("auto", "bind", "copy")  # how files reach containers: builder.runners.transfer
_PACKAGE_KEYS = {"environment", "build-requires", "no-binary", "exclude", "test", "container"}
_ENV = {
    "WHEELYARD_PYTHON": "python",
    "WHEELYARD_JOBS": "jobs",
    "WHEELYARD_WHEELHOUSE": "wheelhouse",
    "WHEELYARD_PLAT": "plat",
    "WHEELYARD_FROM_SOURCE": "from_source",
    "WHEELYARD_NO_BINARY": "no_binary",
    "WHEELYARD_URL": "url",
    "WHEELYARD_OWNER": "owner",
    "WHEELYARD_LABEL": "label",
    "WHEELYARD_RUNNER": "runner",
    "WHEELYARD_TARGET": "target",
    "WHEELYARD_STRICT": "strict",
    "WHEELYARD_RESOLVER": "resolver",
    "WHEELYARD_STRIP": "strip",
    "WHEELYARD_CONTAINER": "container",
    "WHEELYARD_CONTAINER_ENGINE": "container_engine",
    "WHEELYARD_VERIFY_IMAGE": "verify_image",
    "WHEELYARD_CONTAINER_TRANSFER": "container_transfer",
    "WHEELYARD_CONTAINER_NETWORK": "container_network",
}


def _fail(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    raise _fail(where, "expected a list of strings")


def _convert(attr: str, value: Any, where: str) -> Any:
    if attr in ("python", "no_binary"):
        return _strings(value, where)
    if attr == "jobs":
        try:
            jobs = int(value)
        except (TypeError, ValueError):
            raise _fail(where, f"expected a whole number, got {value!r}") from None
        if jobs < 1 or isinstance(value, bool):
            raise _fail(where, f"expected a whole number ≥ 1, got {value!r}")
        return jobs
    if attr == "resolver" and value not in RESOLVERS:
        raise _fail(where, f"expected one of {', '.join(RESOLVERS)}, got {value!r}")
    if attr == "container_transfer" and value not in TRANSFERS:
        raise _fail(where, f"expected one of {', '.join(TRANSFERS)}, got {value!r}")
    if attr in ("from_source", "strict", "strip"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no", ""):
            return value.lower() in ("1", "true", "yes")
        raise _fail(where, f"expected true or false, got {value!r}")
    if attr == "wheelhouse":
        if not isinstance(value, str) or not value:
            raise _fail(where, "expected a path")
        return Path(value)
    if not isinstance(value, str) or not value:
        raise _fail(where, "expected a non-empty string")
    if attr == "target":
        try:
            parse_target(value)
        except InvalidInput as exc:
            raise _fail(where, exc.message) from None
    return value


def _package(name: str, table: Any, where: str) -> PackageOverride:
    if not isinstance(table, dict):
        raise _fail(where, "expected a table")
    unknown = sorted(set(table) - _PACKAGE_KEYS)
    if unknown:
        raise _fail(
            where, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_PACKAGE_KEYS))})"
        )
    environment = table.get("environment", {})
    if not isinstance(environment, dict) or not all(
        isinstance(v, str) for v in environment.values()
    ):
        raise _fail(f"{where}.environment", "expected a table of strings")
    no_binary = table.get("no-binary", False)
    if not isinstance(no_binary, bool):
        raise _fail(f"{where}.no-binary", "expected true or false")
    test = table.get("test")
    if test is not None and (not isinstance(test, str) or not test.strip()):
        raise _fail(f"{where}.test", "expected a shell command")
    return PackageOverride(
        environment=dict(environment),
        build_requires=_strings(table.get("build-requires", []), f"{where}.build-requires"),
        no_binary=no_binary,
        exclude=_strings(table.get("exclude", []), f"{where}.exclude"),
        test=test,
        container=_convert("container", table["container"], f"{where}.container")
        if "container" in table
        else None,
    )


def _read(path: Path, keys: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        data: Any = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: [{'.'.join(keys)}] must be a table")
    return data


def file_settings(folder: Path) -> tuple[dict[str, Any], str]:
    """The raw settings table of ``folder`` and a name for it (``{}`` when there is none)."""
    found = []
    for name, keys in (
        ("pyproject.toml", ("tool", "wheelyard", "build")),
        ("wheelyard.toml", ("build",)),
    ):
        path = folder / name
        if path.is_file():
            table = _read(path, keys)
            if table is not None:
                found.append((table, f"{name} [{'.'.join(keys)}]"))
    if len(found) > 1:
        raise InvalidInput(
            f"build settings in both {found[0][1]} and {found[1][1]} of {folder}: keep one"
        )
    return found[0] if found else ({}, "defaults")


def load(
    folder: Path, cli: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> BuildSettings:
    """Settings for the build of ``folder``: file, then environment, then ``cli`` (attribute →
    value; None means "not given")."""
    environ = os.environ if environ is None else environ
    table, source = file_settings(folder)
    values: dict[str, Any] = {}
    packages: dict[str, PackageOverride] = {}
    for key, raw in table.items():
        where = f"{source}: {key}"
        if key == "packages":
            if not isinstance(raw, dict):
                raise _fail(where, "expected a table of projects")
            for name, sub in raw.items():
                packages[canonicalize_name(name)] = _package(name, sub, f"{where}.{name}")
        elif key in _SCALARS:
            values[_SCALARS[key]] = _convert(_SCALARS[key], raw, where)
        else:
            known = ", ".join(sorted([*_SCALARS, "packages"]))
            raise _fail(source, f"unknown key {key!r} (known: {known})")
    if "wheelhouse" in values and not values["wheelhouse"].is_absolute():
        values["wheelhouse"] = folder / values["wheelhouse"]
    for variable, attr in _ENV.items():
        if environ.get(variable):
            values[attr] = _convert(attr, environ[variable], variable)
    for attr, value in cli.items():
        if value is not None and value != () and value is not False:
            values[attr] = _convert(attr, value, f"--{attr.replace('_', '-')}")
    # Naming an image anywhere means building in containers (per package: the others in
    # the default image).
    imaged = sorted(n for n, o in packages.items() if o.container)
    # (--container on the command line beats a runner named in the file or the environment)
    named_on_command_line = cli.get("container") and not cli.get("runner")
    if (values.get("container") or imaged) and ("runner" not in values or named_on_command_line):
        values["runner"] = "container"
    if imaged and values.get("runner") != "container":
        raise InvalidInput(
            f"{source}: packages.{imaged[0]}.container names an image, but the runner is "
            f"{values.get('runner', 'auto')!r}: build with --container"
        )
    return BuildSettings(**values, packages=packages, source=source)
