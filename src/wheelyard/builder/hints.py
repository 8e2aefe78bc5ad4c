"""Recognising why a build failed, to tell the user what to add where."""

from __future__ import annotations

import re

_RULES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"fatal error: ([\w./+-]+\.h): No such file or directory"),
        "missing C header {0}: install the -dev package that provides it in build-setup.sh",
    ),
    (
        re.compile(r"cannot find -l([\w+-]+)"),
        "missing library lib{0}: install lib{0}-dev (or similar) in build-setup.sh",
    ),
    (
        re.compile(r"ModuleNotFoundError: No module named '(\w+)"),
        "missing build dependency {0}: add it to requirements-build.txt",
    ),
    (
        re.compile(r"Package '?([\w.+-]+?)'?,? .*not found in the pkg-config search path"),
        "pkg-config cannot find {0}: install its -dev package or set PKG_CONFIG_PATH in "
        "build-setup.sh",
    ),
]


def hint(log_text: str) -> str | None:
    """A one-line suggestion for a recognised failure, or None."""
    for pattern, message in _RULES:
        found = pattern.search(log_text)
        if found:
            return message.format(found.group(1))
    return None


def tail(log_text: str, lines: int = 15) -> list[str]:
    return log_text.rstrip().splitlines()[-lines:]
