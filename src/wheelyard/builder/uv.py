"""uv as the resolver and installer where it is available, pip where it is not or where the
user's pip configuration must apply.

uv reads its own configuration (``uv.toml``, ``UV_*``), never pip's. So with ``resolver =
"auto"`` (the default) uv resolves only when pip's configuration says nothing about where
packages come from (no index URL, find-links, constraint … in ``PIP_*`` variables or pip.conf
files); pip's ``cert`` is handed to uv as ``SSL_CERT_FILE``. ``resolver = "pip"`` always uses
pip, ``"uv"`` always uses uv (pip's configuration then does not apply). An interpreter whose
pip cannot resolve for it (``--dry-run --report`` needs pip ≥ 22.2: Python 3.6 and 3.7 ship
older ones) is resolved with uv whatever the setting.

Verification installs with ``--no-index`` from the wheelhouse only, where no configuration
matters, so it uses uv whenever there is one. uv is found through the runner: wheelyard's own
(a dependency) on the host, ``uv`` on the runner's PATH elsewhere.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.markers import Marker
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.pinned import context_key, read_pinned
from wheelyard.builder.plan import ordered_tags
from wheelyard.builder.resolve import Resolved, check
from wheelyard.builder.runners import Runner
from wheelyard.errors import InvalidInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPORT_PIP = (22, 2)  # the first pip with ``install --dry-run --report``
# pip settings that change nothing about which files a resolution picks.
HARMLESS = {
    "cache-dir", "no-cache-dir", "disable-pip-version-check", "default-timeout", "timeout",
    "retries", "progress-bar", "quiet", "verbose", "no-color", "no-input", "root-user-action",
    "break-system-packages", "config-file", "cert", "require-virtualenv", "user",
}  # fmt: skip
_found: weakref.WeakKeyDictionary[Runner, list[str] | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def find(runner: Runner) -> list[str] | None:
    """The uv command line the runner can run, or None (asked once per runner)."""
    with _lock:
        if runner in _found:
            return _found[runner]
        candidates: list[str] = []
        try:
            from uv import find_uv_bin

            candidates.append(find_uv_bin())
        except (ImportError, FileNotFoundError):
            pass
        candidates.append("uv")
        command = None
        for candidate in candidates:
            try:
                result = runner.capture([candidate, "--version"], timeout=20)
            except OSError:
                continue
            if result.returncode == 0:
                command = [candidate]
                break
        _found[runner] = command
        return command


def pip_settings(env: Mapping[str, str]) -> dict[str, str]:
    """pip's configuration as ``key → value`` (files, then ``PIP_*`` variables), keys in the
    long-option form (``index-url``)."""
    values: dict[str, str] = {}
    config_file = env.get("PIP_CONFIG_FILE", "")
    if config_file != os.devnull:
        home = Path(env.get("HOME") or Path.home())
        xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        files = ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", str(xdg / "pip" / "pip.conf")]
        files += [str(home / ".pip" / "pip.conf"), config_file]
        if env.get("VIRTUAL_ENV"):
            files.append(os.path.join(env["VIRTUAL_ENV"], "pip.conf"))
        for name in files:
            if not name or not os.path.isfile(name):
                continue
            parser = configparser.RawConfigParser()
            try:
                parser.read(name)
            except configparser.Error:
                values["unreadable-config"] = name
                continue
            for section in parser.sections():
                if section in ("global", "install", "download", "wheel"):
                    values.update(dict(parser.items(section)))
    for key, value in env.items():
        if key.startswith("PIP_") and key != "PIP_CONFIG_FILE":
            values[key[4:].lower().replace("_", "-")] = value
    return values


def choose(setting: str, env: Mapping[str, str], runner: Runner) -> list[str] | None:
    """The uv command line when uv is to resolve, None for pip (see the module's note)."""
    if setting == "pip":
        return None
    uv = find(runner)
    if setting == "uv":
        if uv is None:
            raise InvalidInput("resolver = uv, but uv is not installed: pip install uv")
        return uv
    changing = set(pip_settings(env)) - HARMLESS
    return uv if not changing else None


def needs_uv(interp: Interpreter) -> bool:
    """Whether this interpreter's own pip cannot resolve for it."""
    return interp.pip is None or interp.pip < REPORT_PIP


def uv_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Variables for uv: pip's CA bundle as uv's, never uv's own cache of another user."""
    cert = pip_settings(env).get("cert")
    return {"SSL_CERT_FILE": cert} if cert and "SSL_CERT_FILE" not in env else {}


def _compile(
    uv: Sequence[str],
    args: Sequence[str],
    requirements: Path,
    runner: Runner,
    env: Mapping[str, str],
    pythons: str,
) -> dict[str, Any]:
    """``uv pip compile`` of ``requirements`` to a pylock.toml (one entry per project: its
    files, and with ``--universal`` the marker it applies under), read back with the host's
    paths."""
    with runner.scratch("wheelyard-uv-") as tmp:
        lock = tmp / "pylock.toml"
        cmd = [
            *uv, "pip", "compile", "--quiet", "--format", "pylock.toml", "--output-file",
            str(lock), str(requirements), *args,
        ]  # fmt: skip
        # The runner's own environment plus uv's CA setting, never ``env`` whole: in a
        # container the host's PATH, HOME and cache folders mean nothing (or the wrong thing).
        result = runner.capture(cmd, env=uv_environment(env), cwd=requirements.parent)
        check(result, "uv", requirements, pythons)
        return _host_paths(tomllib.loads(lock.read_text()), runner)


def _host_paths(data: dict[str, Any], runner: Runner) -> dict[str, Any]:
    """``data`` with its files' URLs and paths as the host sees them (a file of a
    ``--find-links`` folder is named as the runner sees it: in a container, its mount)."""
    for package in data.get("packages", []):
        for entry in [package.get("sdist"), *(package.get("wheels") or [])]:
            for key in ("url", "path"):
                if isinstance(entry, dict) and isinstance(entry.get(key), str):
                    entry[key] = runner.outside(entry[key])
    return data


def _closure(
    data: Mapping[str, Any], interp: Interpreter, no_binary: set[str], universal: bool
) -> list[Resolved]:
    """``interp``'s share of a pylock: the entries whose marker it meets (``universal``),
    each with the wheel it installs best, or the sdist (no such wheel, or ``no_binary``)."""
    environment = interp.marker_environment
    preference = {tag: i for i, tag in enumerate(ordered_tags(interp))}
    resolved = []
    for package in data.get("packages", []):
        marker = package.get("marker")
        if universal and marker and not Marker(marker).evaluate(environment):
            continue
        name = canonicalize_name(package["name"])
        sdist = package.get("sdist")
        chosen = sdist
        if name not in no_binary and ":all:" not in no_binary:
            chosen = _best_wheel(package.get("wheels") or [], preference) or sdist
        if not chosen or "url" not in chosen:
            raise InvalidInput(
                f"uv found no file of {name} {package.get('version')} for Python {interp.minor}"
            )
        url = chosen["url"]
        filename = unquote(Path(urlparse(url).path).name)
        resolved.append(Resolved(name, str(package["version"]), filename, url))
    return sorted(resolved, key=lambda r: r.name)


def _best_wheel(
    wheels: Sequence[Mapping[str, Any]], preference: Mapping[Tag, int]
) -> Mapping[str, Any] | None:
    """The wheel an installer picks: the one with the most preferred tag it accepts."""
    ranked = []
    for wheel in wheels:
        url = str(wheel.get("url", ""))
        try:
            wheel_tags = parse_wheel_filename(unquote(Path(urlparse(url).path).name))[3]
        except (InvalidWheelFilename, ValueError):
            continue
        ranks = [preference[t] for t in wheel_tags if t in preference]
        if ranks:
            ranked.append((min(ranks), url, wheel))
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def resolve(
    uv: Sequence[str],
    interp: Interpreter,
    requirements: Path,
    runner: Runner,
    env: Mapping[str, str],
    pip_args: Sequence[str] = (),
) -> list[Resolved]:
    """The closure uv picks from ``requirements`` for ``interp``."""
    args = ["--python", str(interp.executable), *pip_args]
    data = _compile(uv, args, requirements, runner, env, interp.minor)
    return _closure(data, interp, _no_binary(pip_args), universal=False)


def resolve_universal(
    uv: Sequence[str],
    interps: Sequence[Interpreter],
    requirements: Path,
    runner: Runner,
    env: Mapping[str, str],
    pip_args: Sequence[str] = (),
) -> dict[Interpreter, list[Resolved]]:
    """Every interpreter's closure from one ``uv pip compile --universal`` (from the oldest
    one's version up): each sdist's metadata is fetched and built once, not once per
    interpreter, and each interpreter takes the entries whose markers it meets. Only for a
    set pinned throughout (:func:`pinned.read_pinned`), where that is exactly what resolving
    for each alone gives: a range could resolve to a newer release for newer interpreters."""
    oldest = min(interps)
    args = ["--universal", "--python", str(oldest.executable), "--python-version", oldest.minor]
    pythons = f"{oldest.minor}-{max(interps).minor}"
    data = _compile(uv, [*args, *pip_args], requirements, runner, env, pythons)
    no_binary = _no_binary(pip_args)
    return {i: _closure(data, i, no_binary, universal=True) for i in interps}


def resolve_kept(
    uv: Sequence[str],
    interps: Sequence[Interpreter],
    requirements: Path,
    runner: Runner,
    env: Mapping[str, str],
    pip_args: Sequence[str],
    cache: Path,
    refresh: bool,
) -> tuple[dict[Interpreter, list[Resolved]], bool]:
    """Each interpreter's closure — one universal resolution for several interpreters, else
    :func:`resolve` — kept in ``cache`` for a set pinned throughout (``pinned.py``: its
    closure cannot change while the files, the options, the configuration and the
    interpreters do not); and whether it was kept from an earlier run. A set that is not
    pinned throughout is resolved for its one interpreter, as usual."""
    pinned = read_pinned(requirements)
    if pinned is None:
        (interp,) = interps
        return {interp: resolve(uv, interp, requirements, runner, env, pip_args)}, False
    parts = [context_key(i, pinned, env, pip_args) for i in interps]
    key = hashlib.sha256("\0".join([*parts, *sorted(pinned.lines), *uv]).encode()).hexdigest()
    name = interps[0].tag if len(interps) == 1 else "universal"
    entry = cache / f"uv-resolve-{name}.json"
    try:
        data = json.loads(entry.read_text()) if not refresh else {}
    except (OSError, ValueError):
        data = {}
    if isinstance(data, dict) and data.get("key") == key:
        try:
            kept = {
                i: [Resolved(**{**r, "requires": tuple(r["requires"])}) for r in closure]
                for i, closure in zip(interps, data["closures"], strict=True)
            }
            return kept, True
        except (TypeError, KeyError, ValueError):
            pass
    if len(interps) == 1:
        found = {interps[0]: resolve(uv, interps[0], requirements, runner, env, pip_args)}
    else:
        found = resolve_universal(uv, interps, requirements, runner, env, pip_args)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(entry.name + ".tmp")
    closures = [[asdict(r) for r in found[i]] for i in interps]
    tmp.write_text(json.dumps({"key": key, "closures": closures}))
    tmp.replace(entry)
    return found, False


def _no_binary(pip_args: Sequence[str]) -> set[str]:
    names: set[str] = set()
    for i, word in enumerate(pip_args):
        if word == "--no-binary" and i + 1 < len(pip_args):
            names |= {
                canonicalize_name(n) if n != ":all:" else n for n in pip_args[i + 1].split(",")
            }
    return names


def venv_commands(
    uv: Sequence[str] | None, interp: Interpreter, venv: Path
) -> tuple[list[str], list[str]] | None:
    """How uv creates ``venv`` for ``interp`` and the ``uv pip`` prefix that installs into it
    (``install``, ``check`` follow; ``VIRTUAL_ENV`` names the target); None without uv."""
    if uv is None:
        return None
    create = [*uv, "venv", "--quiet", "--python", str(interp.executable), str(venv)]
    return create, ["env", f"VIRTUAL_ENV={venv}", *uv, "pip"]
