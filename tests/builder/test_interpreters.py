"""Interpreter discovery and ``--python`` selectors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.builder import host
from wheelyard.builder.interpreters import Interpreter, discover, probe, select
from wheelyard.errors import InvalidInput

HERE = (sys.version_info.major, sys.version_info.minor)


def test_discover_finds_the_running_python() -> None:
    found = discover(host())
    assert any(i.version[:2] == HERE for i in found)
    assert len({i.minor for i in found}) == len(found)  # one per minor version
    me = probe(Path(sys.executable), host())
    assert me is not None and me.tag == f"cp{HERE[0]}{HERE[1]}"


def _fake(minor: int) -> Interpreter:
    # Selection is pure logic over discovered data; these stand for discovery results.
    return Interpreter((3, minor, 0), Path(f"/nonexistent/python3.{minor}"))


FOUND = [_fake(m) for m in (8, 9, 10, 11, 12, 13)]


@pytest.mark.parametrize(
    ("selectors", "minors"),
    [
        ([], ["3.9", "3.10", "3.11", "3.12", "3.13"]),
        (["3.12"], ["3.12"]),
        (["3.10-3.12"], ["3.10", "3.11", "3.12"]),
        (["cp311", "cp313"], ["3.11", "3.13"]),
        (["3.8", "3.8"], ["3.8"]),
    ],
)
def test_selectors(selectors: list[str], minors: list[str]) -> None:
    assert [i.minor for i in select(selectors, host(), FOUND)] == minors


def test_missing_and_malformed_selectors_are_named() -> None:
    with pytest.raises(InvalidInput, match=r"no Python matches '3\.5'.*found: 3\.8, 3\.9"):
        select(["3.5"], host(), FOUND)
    with pytest.raises(InvalidInput, match="cannot read --python 'three'"):
        select(["three"], host(), FOUND)


def test_paths_and_globs_are_probed() -> None:
    real = select([sys.executable], host(), [])
    assert real[0].version[:2] == HERE
    prefix = str(Path(sys.executable).parent / "python3*")
    assert HERE in {i.version[:2] for i in select([prefix], host(), [])}
