"""Resolving only the pins that changed since the run the yard recorded (real uv, offline:
wheels in a find-links folder)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tests.builder import host
from wheelyard.builder import uv
from wheelyard.builder.interpreters import Interpreter, probe
from wheelyard.builder.partial import resolve_changed, with_requires
from wheelyard.builder.pinned import read_pinned
from wheelyard.builder.yardrecord import Record
from wheelyard.testing import make_wheel


def _me() -> Interpreter:
    me = probe(Path(sys.executable), host())
    assert me is not None
    return me


def _set(folder: Path, pins: dict[str, str]) -> Path:
    reqs = folder / "requirements.txt"
    lines = ["--no-index", "--find-links ./links", *(f"{n}=={v}" for n, v in pins.items())]
    reqs.write_text("\n".join(lines) + "\n")
    return reqs


def _recorded(folder: Path, me: Interpreter, pins: dict[str, str]) -> Record:
    """What a run of ``pins`` leaves in the yard: closures with requirements, and its lines."""
    reqs = _set(folder, pins)
    command = uv.find(host())
    assert command is not None
    found = uv.resolve(command, me, reqs, host(), {})
    wheels = sorted((folder / "links").glob("*.whl"))
    closures = with_requires({me.record_key: found}, wheels)
    assert closures is not None
    pinned = read_pinned(reqs)
    assert pinned is not None
    return Record(closures, {}, tuple(sorted(pinned.lines)))


def test_only_the_changed_pin_is_asked_the_others_keep_their_entries(tmp_path: Path) -> None:
    me, command = _me(), uv.find(host())
    assert command is not None
    links = tmp_path / "links"
    links.mkdir()
    for version in ("1.0", "1.1"):
        make_wheel(links, "base", version)
    make_wheel(links, "user", "1.0", requires=["base>=1.0"])
    make_wheel(links, "other", "2.0")
    earlier = _recorded(tmp_path, me, {"base": "1.0", "user": "1.0", "other": "2.0"})
    assert {r.name: r.requires for r in earlier.resolutions[me.record_key]}["user"] == (
        "base>=1.0",
    )
    # The kept entries are the record's own: uv is not asked about them (here it could not
    # find other 2.0 any more: it moved, and the record says where to).
    moved = tmp_path / "kept" / "other-2.0-py3-none-any.whl"
    moved.parent.mkdir()
    (links / moved.name).rename(moved)
    mine = me.record_key
    entries = tuple(
        dataclasses.replace(r, url=moved.as_uri()) if r.name == "other" else r
        for r in earlier.resolutions[mine]
    )
    earlier = dataclasses.replace(earlier, resolutions={mine: entries})
    reqs = _set(tmp_path, {"base": "1.1", "user": "1.0", "other": "2.0"})
    pinned = read_pinned(reqs)
    assert pinned is not None
    found = resolve_changed(command, [me], reqs, pinned, earlier, host(), {}, [])
    assert found is not None
    closures, asked = found
    assert asked == 1
    assert {(r.name, r.version) for r in closures[me]} == {
        ("base", "1.1"),
        ("user", "1.0"),
        ("other", "2.0"),
    }
    (other,) = [r for r in closures[me] if r.name == "other"]
    assert other.url == moved.as_uri()
    # A record naming files this machine does not have is no basis: the set is resolved whole.
    moved.unlink()
    assert resolve_changed(command, [me], reqs, pinned, earlier, host(), {}, []) is None


def test_a_change_a_kept_project_cannot_take_means_resolving_all(tmp_path: Path) -> None:
    me, command = _me(), uv.find(host())
    assert command is not None
    links = tmp_path / "links"
    links.mkdir()
    for version in ("1.0", "2.0"):
        make_wheel(links, "base", version)
    make_wheel(links, "user", "1.0", requires=["base<2"])
    make_wheel(links, "extra", "1.0", requires=["unpinned"])
    make_wheel(links, "unpinned", "1.0")
    earlier = _recorded(tmp_path, me, {"base": "1.0", "user": "1.0"})
    # user needs base<2: the kept entry's requirement fails, so the set is resolved whole.
    moved = _set(tmp_path, {"base": "2.0", "user": "1.0"})
    pinned = read_pinned(moved)
    assert pinned is not None
    assert resolve_changed(command, [me], moved, pinned, earlier, host(), {}, []) is None
    # A new line that needs something unpinned: whole too.
    added = _set(tmp_path, {"base": "1.0", "user": "1.0", "extra": "1.0"})
    pinned = read_pinned(added)
    assert pinned is not None
    assert resolve_changed(command, [me], added, pinned, earlier, host(), {}, []) is None
    # A record without lines (its requirements unknown) is no basis either.
    bare = Record(earlier.resolutions, {})
    same = _set(tmp_path, {"base": "1.0", "user": "1.0"})
    pinned = read_pinned(same)
    assert pinned is not None
    assert resolve_changed(command, [me], same, pinned, bare, host(), {}, []) is None
