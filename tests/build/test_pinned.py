"""Reusing a resolution: only for a closure pinned throughout, with unchanged files and pip
configuration; resolved for real by pip against local fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import client_env
from wheelyard.build.interpreters import Interpreter, probe
from wheelyard.build.pinned import cache_key, resolve_pinned
from wheelyard.build.resolve import Resolved, resolve
from wheelyard.testing import make_sdist, make_wheel


@pytest.fixture
def me() -> Interpreter:
    found = probe(Path(sys.executable))
    assert found is not None
    return found


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in client_env().items():
        monkeypatch.setenv(name, value)
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "app", "1.0", requires=["lib"])
    make_wheel(dists, "lib", "1.0")
    make_wheel(dists, "lib", "2.0")
    make_sdist(dists, "srcpkg", "1.0")
    (tmp_path / "base.txt").write_text("lib==1.0 \\\n    --hash=sha256:0000  # via app\n")
    (tmp_path / "requirements.txt").write_text(
        "# pip-compile output\n--no-index\n--find-links ./dists\n-r base.txt\n"
        "app==1.0\n    # via -r requirements.in\nsrcpkg==1.0 ; python_version >= '3'\n"
    )
    return tmp_path


def _resolver(interp: Interpreter, requirements: Path) -> list[Resolved]:
    return resolve(interp, requirements, env=client_env())


def test_a_pinned_closure_is_resolved_once(folder: Path, me: Interpreter) -> None:
    reqs, cache = folder / "requirements.txt", folder / "wh" / ".cache"
    # --hash lines make pip insist on hashes; drop them for the real resolution.
    (folder / "base.txt").write_text("lib==1.0  # via app\n")
    first, cached = resolve_pinned(me, reqs, cache, _resolver)
    assert not cached and [r.name for r in first] == ["app", "lib", "srcpkg"]
    again, cached = resolve_pinned(me, reqs, cache, _resolver)
    assert cached and again == first
    _, cached = resolve_pinned(me, reqs, cache, _resolver, refresh=True)
    assert not cached
    # Changing an included file changes the key.
    (folder / "base.txt").write_text("lib==2.0\n")
    changed, cached = resolve_pinned(me, reqs, cache, _resolver)
    assert not cached and {r.name: r.version for r in changed}["lib"] == "2.0"


def test_an_unpinned_dependency_is_resolved_every_time(folder: Path, me: Interpreter) -> None:
    (folder / "base.txt").write_text("# lib left to the resolver\n")
    reqs, cache = folder / "requirements.txt", folder / "wh" / ".cache"
    assert cache_key(me, reqs) is not None  # every line is pinned …
    for _ in range(2):  # … but the closure is not: lib may move upstream
        closure, cached = resolve_pinned(me, reqs, cache, _resolver)
        assert not cached and "lib" in [r.name for r in closure]


@pytest.mark.parametrize(
    "line", ["lib>=1.0", "lib", "lib==1.*", "-e ./src", "-r https://example.org/r.txt"]
)
def test_loose_requirements_have_no_key(folder: Path, me: Interpreter, line: str) -> None:
    (folder / "base.txt").write_text(line + "\n")
    assert cache_key(me, folder / "requirements.txt") is None


def test_key_follows_pip_configuration(
    folder: Path, me: Interpreter, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = cache_key(me, folder / "requirements.txt")
    assert found is not None and found[1] == {"app", "lib", "srcpkg"}
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    other = cache_key(me, folder / "requirements.txt")
    assert other is not None and other[0] != found[0]
