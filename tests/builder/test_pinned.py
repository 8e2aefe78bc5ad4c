"""Reusing resolutions of a pinned set: whole when nothing changed, line by line when a pin
changed, never when something is loose; resolved for real by pip against local fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.builder import host
from tests.conftest import client_env
from wheelyard.builder.interpreters import Interpreter, discover, probe
from wheelyard.builder.pinned import (
    How,
    Resolution,
    context_key,
    forced_names,
    read_pinned,
    resolve_all,
)
from wheelyard.testing import make_sdist, make_wheel

HEADER = "# pip-compile output\n--no-index\n--find-links ./dists\n-r base.txt\n"


@pytest.fixture
def me() -> Interpreter:
    found = probe(Path(sys.executable), host())
    assert found is not None
    return found


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    dists = tmp_path / "dists"
    dists.mkdir()
    make_wheel(dists, "app", "1.0", requires=["lib"])
    make_wheel(dists, "app", "2.0", requires=["lib", "newdep; python_version >= '3'"])
    make_wheel(dists, "newdep", "1.0")
    make_wheel(dists, "lib", "1.0")
    make_wheel(dists, "lib", "2.0")
    make_sdist(dists, "srcpkg", "1.0")
    make_sdist(dists, "srcpkg", "1.1")
    (tmp_path / "base.txt").write_text("lib==1.0  # via app\n")
    (tmp_path / "requirements.txt").write_text(
        HEADER + "app==1.0\n    # via -r requirements.in\nsrcpkg==1.0 ; python_version >= '3'\n"
    )
    return tmp_path


def _resolve(
    me: Interpreter, folder: Path, refresh: bool = False
) -> tuple[dict[str, str], Resolution]:
    found = resolve_all(
        [me], folder / "requirements.txt", folder / "wh" / ".cache", host(), client_env(), refresh
    )
    return {r.name: r.version for r in found[me].closure}, found[me]


def _how(me: Interpreter, folder: Path, refresh: bool = False) -> tuple[dict[str, str], How]:
    closure, resolution = _resolve(me, folder, refresh)
    return closure, resolution.how


def test_unchanged_set_is_reused_and_a_changed_pin_asked_alone(
    folder: Path, me: Interpreter
) -> None:
    first = {"app": "1.0", "lib": "1.0", "srcpkg": "1.0"}
    assert _how(me, folder) == (first, How.LINE_BY_LINE)
    assert _how(me, folder) == (first, How.REUSED)
    assert _how(me, folder, refresh=True) == (first, How.LINE_BY_LINE)
    # One pin moves (in the included file): only that line goes to pip.
    (folder / "base.txt").write_text("lib==2.0\n")
    closure, resolution = _resolve(me, folder)
    assert closure == {**first, "lib": "2.0"}
    assert (resolution.how, resolution.changed) == (How.CHANGED, 1)
    srcpkg = (folder / "requirements.txt").read_text().replace("srcpkg==1.0", "srcpkg==1.1")
    (folder / "requirements.txt").write_text(srcpkg)
    closure, resolution = _resolve(me, folder)
    assert closure == {**first, "lib": "2.0", "srcpkg": "1.1"}
    assert (resolution.how, resolution.changed) == (How.CHANGED, 1)


def test_a_new_unpinned_dependency_means_a_full_resolution(folder: Path, me: Interpreter) -> None:
    _resolve(me, folder)
    text = (folder / "requirements.txt").read_text().replace("app==1.0", "app==2.0")
    (folder / "requirements.txt").write_text(text)
    # app 2.0 needs newdep, which no line pins: pip resolves all, and nothing is kept but
    # that note, so the next run goes to pip straight away.
    closure, how = _how(me, folder)
    assert how is How.RESOLVED and closure["newdep"] == "1.0"
    assert "loose" in (folder / "wh" / ".cache" / f"resolve-{me.tag}.json").read_text()
    assert _how(me, folder)[1] is How.RESOLVED
    # Pinned (as pip-compile would), the new lines are asked alone again.
    (folder / "base.txt").write_text("lib==1.0\nnewdep==1.0\n")
    closure, how = _how(me, folder)
    assert how is How.LINE_BY_LINE and closure == {
        "app": "2.0",
        "lib": "1.0",
        "newdep": "1.0",
        "srcpkg": "1.0",
    }
    assert _how(me, folder)[1] is How.REUSED


def test_an_option_change_means_a_new_resolution(folder: Path, me: Interpreter) -> None:
    _resolve(me, folder)
    text = (folder / "requirements.txt").read_text().replace("--no-index", "--no-index\n--pre")
    (folder / "requirements.txt").write_text(text)
    assert _how(me, folder)[1] is How.LINE_BY_LINE


def test_sdists_built_from_source_are_asked_for_once(folder: Path) -> None:
    pair = [i for i in discover(host()) if i.version[:2] >= (3, 9) and i.markers][-2:]
    if len(pair) < 2:
        pytest.skip("needs two CPython >= 3.9 interpreters")
    reqs, cache = folder / "requirements.txt", folder / "wh" / ".cache"
    found = resolve_all(
        pair, reqs, cache, host(), client_env(), pip_args=["--no-binary", "srcpkg"], jobs=2
    )
    first, second = (found[i] for i in pair)
    assert (first.how, first.borrowed) == (How.LINE_BY_LINE, 0)
    assert (second.how, second.borrowed, second.donor) == (How.LINE_BY_LINE, 1, pair[0].minor)
    assert {r.name: r.filename for r in second.closure}["srcpkg"] == "srcpkg-1.0.tar.gz"
    assert [r.name for r in first.closure] == [r.name for r in second.closure]


@pytest.mark.parametrize(
    ("resolution", "note"),
    [
        (Resolution((), How.RESOLVED), "resolved"),
        (Resolution((), How.REUSED), "reused"),
        (Resolution((), How.CHANGED, changed=1), "1 changed line"),
        (Resolution((), How.CHANGED, changed=3), "3 changed lines"),
        (Resolution((), How.LINE_BY_LINE), "resolved line by line"),
        (
            Resolution((), How.LINE_BY_LINE, borrowed=2, donor="3.12"),
            "resolved line by line, 2 from Python 3.12",
        ),
    ],
)
def test_the_note_shown_for_a_resolution(resolution: Resolution, note: str) -> None:
    # What `wheelyard build` prints to stderr per interpreter, unchanged from the prose era.
    assert resolution.describe() == note


def test_forced_names_follow_pip_options(folder: Path) -> None:
    pinned = read_pinned(folder / "requirements.txt")
    assert pinned is not None
    assert forced_names(pinned, ["--no-binary", "App,lib"]) == {"app", "lib"}
    assert forced_names(pinned, ["--no-binary=:all:"]) == {"app", "lib", "srcpkg"}
    assert forced_names(pinned, ["--no-binary", ":all:", "--no-binary", ":none:"]) == set()


@pytest.mark.parametrize(
    "line",
    ["lib>=1.0", "lib", "lib==1.*", "-e ./src", "-r https://example.org/r.txt", "lib==1\nlib==2"],
)
def test_loose_requirements_are_never_reused(folder: Path, line: str) -> None:
    (folder / "base.txt").write_text(line + "\n")
    assert read_pinned(folder / "requirements.txt") is None


def test_key_follows_pip_configuration(folder: Path, me: Interpreter) -> None:
    pinned = read_pinned(folder / "requirements.txt")
    assert pinned is not None and pinned.names == {"app", "lib", "srcpkg"}
    env = client_env()
    other = {**env, "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    assert context_key(me, pinned, env) != context_key(me, pinned, other)
