"""Terminal output in which user-controlled text stays text: no rich markup, no emoji codes,
no control characters or bidi overrides reaching the terminal."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, TypeAlias

from rich.console import Console
from rich.text import Text

# C0 and C1 controls (ESC starts cursor moves, title changes, OSC 8 links; CR overwrites a
# line) and the bidi controls that reorder what is shown. Tab and newline stay.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(value: object) -> str:
    """``value`` as literal terminal text, its control characters as visible escapes."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode(), str(value))


def styled(value: object, style: str) -> Text:
    """Our own emphasis (a word in red) around text that may be user-controlled."""
    return Text(shown(value), style=style)


class SafeConsole(Console):
    """A console on which every string is literal: markup and emoji codes are never parsed
    (whatever a caller passes), control characters are escaped. Styling is done with
    :class:`rich.text.Text` objects, never by formatting markup into a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"highlight": False, **kwargs, "markup": False, "emoji": False})

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(shown(text), **kwargs)


Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# Piped output (scripts, CI) gets a wide table rather than rich's 80-column default. Names,
# messages and file names are user-controlled: both consoles print every string literally.
out = SafeConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = SafeConsole(stderr=True, soft_wrap=True)
