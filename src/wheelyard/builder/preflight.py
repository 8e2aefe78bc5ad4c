"""Checks made before any work: everything a later step of the run will need, so a run fails
in its first second with one line naming the cause and the fix, not after the builds.

* the yard (``--url``): a URL with a scheme, reachable, and, with a token, accepting it
  (one authenticated request: ``GET /api/user``);
* uploading (``--upload``): ``--url``, ``--owner``, a token, and a label that can be named
  (``--label`` or the git branch);
* every interpreter: a supported version, and a pip (or uv) that can resolve for it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wheelyard.builder import uv
from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.publish import default_label
from wheelyard.builder.runners import Runner
from wheelyard.builder.settings import BuildSettings
from wheelyard.client import YardClient
from wheelyard.errors import InvalidInput, Unauthenticated
from wheelyard.yard.names import check_label_name

# The oldest CPython the builder supports: pip ≥ 21 (the newest pip 3.6 can run) still builds
# and installs manylinux wheels there; 3.5 and 2.7 have no pip that knows PEP 600 tags.
OLDEST = (3, 6)


_VERSION = re.compile(r"^(?:cp)?(\d)\.?(\d+)$")


def _refuse(minor: str, what: str) -> InvalidInput:
    return InvalidInput(
        f"Python {minor}{what} is not supported: the oldest supported version is "
        f"{OLDEST[0]}.{OLDEST[1]} (see the README)"
    )


def selectors(wanted: Sequence[str]) -> None:
    """``--python`` versions older than :data:`OLDEST` (``2.7``, ``cp35``) are refused as
    such, not as "no Python matches"."""
    for value in wanted:
        match = _VERSION.match(value)
        if match and (int(match[1]), int(match[2])) < OLDEST:
            raise _refuse(f"{match[1]}.{match[2]}", "")


def old_paths(wanted: Sequence[str], runner: Runner) -> None:
    """Asked when a ``--python`` path did not probe as a working Python: refuse one older
    than :data:`OLDEST` as such (the probe needs Python 3)."""
    for value in wanted:
        if Path(value).is_file():
            code = "import sys; print('%d.%d' % sys.version_info[:2])"
            try:
                answer = runner.capture([value, "-c", code], timeout=20).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            parts = answer.split(".")
            numeric = len(parts) == 2 and all(p.isdigit() for p in parts)
            if numeric and (int(parts[0]), int(parts[1])) < OLDEST:
                raise _refuse(answer, f" ({value})")


def supported(interps: Sequence[Interpreter]) -> None:
    """Refuse interpreters older than :data:`OLDEST`, naming them."""
    for interp in interps:
        if interp.version[:2] < OLDEST:
            raise _refuse(interp.minor, f" ({interp.executable})")


def interpreters(
    interps: Sequence[Interpreter], resolver: str, env: Mapping[str, str], runner: Runner
) -> None:
    """Every interpreter has what resolving, building and verifying for it need: a pip (it
    builds), and a resolver — its pip when new enough, else uv."""
    supported(interps)
    chosen = uv.choose(resolver, env, runner)  # raises when resolver = uv and there is none
    for interp in interps:
        if interp.pip is None:
            raise InvalidInput(
                f"Python {interp.minor} ({interp.executable}) has no pip: install it "
                f"({interp.executable} -m ensurepip) or leave it out with --python"
            )
        if chosen is None and uv.needs_uv(interp) and uv.find(runner) is None:
            pip = ".".join(map(str, interp.pip))
            raise InvalidInput(
                f"Python {interp.minor}'s pip {pip} cannot resolve for it (pip ≥ 22.2 can): "
                f"install uv (pip install uv) or upgrade it ({interp.executable} -m pip "
                "install -U pip)"
            )


def label(settings: BuildSettings, folder: Path) -> str:
    """The label a run publishes to: ``--label``, else the git branch (raises when neither)."""
    return check_label_name(settings.label) if settings.label else default_label(folder)


def yard(settings: BuildSettings, token: Callable[[], str | None], upload: bool) -> None:
    """The yard is reachable and, when a token is given, accepts it; uploading has all it
    needs. Raises one :class:`~wheelyard.errors.YardError` naming the cause and the fix."""
    if upload and not (settings.url and settings.owner):
        raise InvalidInput("--upload needs --url and --owner")
    if not settings.url:
        return
    if not settings.owner:
        raise InvalidInput("--url needs --owner")
    secret = token()
    if upload and not secret:
        raise InvalidInput("--upload needs a token: WHEELYARD_TOKEN or --token-file")
    with YardClient(settings.url, secret, retries=1) as client:
        if not secret:
            client.check(client.get("/-/health"))
            return
        answer = client.get("/api/user")
        if answer.status_code in (401, 403):
            raise Unauthenticated(
                f"the yard at {client.url} refused the token ({answer.status_code}): check "
                "WHEELYARD_TOKEN or --token-file (wheelyard token create makes a new one)"
            )
        client.check(answer)
