"""uv or pip: pip's configuration decides, and uv resolves for interpreters pip cannot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.builder import host
from wheelyard.builder import uv
from wheelyard.builder.interpreters import discover, probe
from wheelyard.errors import InvalidInput
from wheelyard.testing import make_wheel


def test_pip_configuration_that_changes_resolution_keeps_pip(tmp_path: Path) -> None:
    runner = host()
    quiet = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    assert uv.choose("auto", quiet, runner) == uv.find(runner) is not None
    assert uv.choose("auto", {**quiet, "PIP_INDEX_URL": "https://mirror/simple"}, runner) is None
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nfind-links = /opt/wheels\ncert = /etc/ca.pem\n")
    configured = {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    assert uv.pip_settings(configured)["find-links"] == "/opt/wheels"
    assert uv.choose("auto", configured, runner) is None
    assert uv.choose("pip", quiet, runner) is None
    assert uv.choose("uv", configured, runner) is not None  # asked for: pip's config ignored
    assert uv.uv_environment(configured) == {"SSL_CERT_FILE": "/etc/ca.pem"}


def test_no_uv_named_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = host()
    runner.base["PATH"] = "/nonexistent"
    monkeypatch.setitem(sys.modules, "uv", None)  # as if not installed: only PATH is asked
    with pytest.raises(InvalidInput, match="resolver = uv, but uv is not installed"):
        uv.choose("uv", {}, runner)


def test_uv_resolves_to_files_for_one_interpreter(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    links = tmp_path / "links"
    links.mkdir()
    wheel = make_wheel(links, "purepkg", "1.0")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("--no-index\n--find-links ./links\npurepkg==1.0\n")
    command = uv.find(host())
    assert command is not None
    (found,) = uv.resolve(command, me, reqs, host(), {})
    assert (found.name, found.version, found.filename) == ("purepkg", "1.0", wheel.name)
    assert found.url.startswith("file://") and found.is_wheel


def test_a_pinned_set_is_resolved_once_until_it_changes(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    command = uv.find(host())
    assert me is not None and command is not None
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "purepkg", "1.0")
    make_wheel(links, "purepkg", "1.1")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("--no-index\n--find-links ./links\npurepkg==1.0\n")
    cache = tmp_path / "cache"
    args = (command, [me], reqs, host(), {}, (), cache)
    first, kept = uv.resolve_kept(*args, False)
    assert not kept and [r.version for r in first[me]] == ["1.0"]
    again, kept = uv.resolve_kept(*args, False)
    assert kept and again == first
    assert not uv.resolve_kept(*args, True)[1]  # --refresh asks uv again
    reqs.write_text("--no-index\n--find-links ./links\npurepkg==1.1\n")
    moved, kept = uv.resolve_kept(*args, False)
    assert not kept and [r.version for r in moved[me]] == ["1.1"]


def test_one_universal_resolution_serves_every_interpreter(tmp_path: Path) -> None:
    interps = [i for i in discover(host()) if i.version[:2] >= (3, 9) and i.markers][-2:]
    command = uv.find(host())
    assert len(interps) == 2 and command is not None, "this test wants two interpreters"
    old, new = interps
    platform = next(p for p in old.platforms if p.startswith("manylinux_"))
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "purepkg", "1.0")
    for i in interps:  # a platform wheel per interpreter: each takes its own
        make_wheel(links, "binpkg", "1.0", tag=f"{i.tag}-{i.tag}-{platform}")
    make_wheel(links, "oldonly", "1.0")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(
        "--no-index\n--find-links ./links\npurepkg==1.0\nbinpkg==1.0\n"
        f"oldonly==1.0 ; python_version < '{new.minor}'\n"
    )
    found = uv.resolve_universal(command, interps, reqs, host(), {})
    assert [r.name for r in found[old]] == ["binpkg", "oldonly", "purepkg"]
    assert [r.name for r in found[new]] == ["binpkg", "purepkg"]  # its marker is false here
    for i in interps:
        (binpkg,) = [r for r in found[i] if r.name == "binpkg"]
        assert binpkg.filename == f"binpkg-1.0-{i.tag}-{i.tag}-{platform}.whl"
    # Kept for the next run like a single interpreter's resolution.
    cache = tmp_path / "cache"
    first, kept = uv.resolve_kept(command, interps, reqs, host(), {}, (), cache, False)
    assert not kept and first == found
    assert uv.resolve_kept(command, interps, reqs, host(), {}, (), cache, False) == (found, True)
