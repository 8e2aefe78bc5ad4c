"""The size of the wheel upstream publishes for what the run builds, for the summary ("ours
4.9 MB, upstream 4.8 MB"): asked of PyPI's JSON API, only for sdists that came from PyPI, one
request per project version, several at once. Nothing is said when upstream has no such
wheel or cannot be asked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import httpx
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.plan import Step, supported_tags

PYPI_FILES = "files.pythonhosted.org"
PYPI_JSON = "https://pypi.org/pypi/{project}/{version}/json"


def _best(files: Sequence[dict[str, object]], wanted: set[Tag]) -> int | None:
    for entry in files:
        name = str(entry.get("filename", ""))
        if not name.endswith(".whl"):
            continue
        try:
            tags = parse_wheel_filename(name)[3]
        except ValueError:
            continue
        size = entry.get("size")
        if tags & wanted and isinstance(size, int):
            return size
    return None


def sizes(
    steps: Iterable[Step], interpreters: Sequence[Interpreter]
) -> dict[tuple[str, str, str], int]:
    """(project, version, python) → the size of upstream's wheel for that interpreter."""
    by_minor = {i.minor: i for i in interpreters}
    asked = sorted(
        {
            (s.project, s.version)
            for s in steps
            if s.source == "build" and urlparse(s.url).hostname == PYPI_FILES
        }
    )

    def files(key: tuple[str, str]) -> list[dict[str, object]]:
        try:
            answer = httpx.get(PYPI_JSON.format(project=key[0], version=key[1]), timeout=10)
            answer.raise_for_status()
            urls = answer.json().get("urls", [])
        except (httpx.HTTPError, ValueError, AttributeError):
            return []
        return urls if isinstance(urls, list) else []

    with ThreadPoolExecutor(8) as pool:
        found = dict(zip(asked, pool.map(files, asked), strict=True))
    result: dict[tuple[str, str, str], int] = {}
    for step in steps:
        interp = by_minor.get(step.python)
        listed = found.get((step.project, step.version))
        if interp is None or not listed:
            continue
        size = _best(listed, supported_tags(interp))
        if size is not None:
            result[(step.project, step.version, step.python)] = size
    return result
