"""What verification imports from a wheel: the names of its top-level modules and packages
that can be imported by name.

Read from the wheel's files (``top_level.txt`` only narrows them: setuptools writes names
there that the wheel does not ship). Left out: ``*-stubs`` folders (PEP 561 stub-only
packages: ``ujson-stubs/``), names that are not identifiers, ``.dist-info``/``.data``/
``.libs`` folders, and folders without code (data only). A wheel left with nothing to import
is checked by installing it and ``pip check``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

_CODE = (".py", ".pyc", ".so", ".pyd", ".pth")
_NOT_CODE = (".dist-info", ".data", ".libs", "-stubs")


def _module(name: str) -> str | None:
    """The importable name of a top-level file (``foo.py``, ``_foo.cpython-312-….so``)."""
    if name.endswith(".py"):
        return name[:-3]
    if name.endswith((".so", ".pyd")):
        return name.split(".", 1)[0]
    return None


def import_names(wheel: Path) -> list[str]:
    """The names ``import NAME`` must succeed for once ``wheel`` is installed, sorted."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        listed_files = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        listed = (
            {m.strip().split("/")[0] for m in zf.read(listed_files[0]).decode().splitlines()}
            if listed_files
            else None
        )
    found: set[str] = set()
    for name in names:
        first, sep, rest = name.partition("/")
        if not sep:
            module = _module(first)
            if module:
                found.add(module)
        elif not first.endswith(_NOT_CODE) and rest.endswith(_CODE):
            found.add(first)  # a package (or namespace package) with code in it
    if listed is not None and found & listed:
        found &= listed  # what the files show, as far as the project names it
    return sorted(m for m in found if m.isidentifier() and m != "__init__")
