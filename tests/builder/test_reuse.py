"""Wheels reused by the inputs of their build; superseded wheels set aside."""

from __future__ import annotations

from pathlib import Path

from wheelyard.builder import reuse
from wheelyard.builder.interpreters import Interpreter
from wheelyard.testing import make_wheel


def test_the_key_is_every_input(tmp_path: Path) -> None:
    sdist = tmp_path / "x-1.0.tar.gz"
    sdist.write_bytes(b"one")
    interp = Interpreter((3, 12, 1), Path("/py/3.12"))
    files = [tmp_path / "requirements-build.txt"]
    files[0].write_text("setuptools\n")
    base = reuse.inputs(sdist, interp, {"CFLAGS": "-g0"}, files, ("cython",), ("",)).key()
    same = reuse.inputs(sdist, interp, {"CFLAGS": "-g0"}, files, ("cython",), ("",)).key()
    assert base == same
    keys = {base}
    keys.add(reuse.inputs(sdist, interp, {}, files, ("cython",), ("",)).key())
    keys.add(reuse.inputs(sdist, interp, {"CFLAGS": "-g0"}, files, (), ("",)).key())
    keys.add(reuse.inputs(sdist, interp, {"CFLAGS": "-g0"}, files, ("cython",), ("--strip",)).key())
    other = Interpreter((3, 12, 2), Path("/py/3.12"))
    keys.add(reuse.inputs(sdist, other, {"CFLAGS": "-g0"}, files, ("cython",), ("",)).key())
    files[0].write_text("setuptools\nwheel\n")
    keys.add(reuse.inputs(sdist, interp, {"CFLAGS": "-g0"}, files, ("cython",), ("",)).key())
    sdist.write_bytes(b"two")
    keys.add(reuse.inputs(sdist, interp, {"CFLAGS": "-g0"}, files, ("cython",), ("",)).key())
    assert len(keys) == 7


def test_lookup_finds_the_recorded_bytes_even_set_aside(tmp_path: Path) -> None:
    house = tmp_path / "wheelhouse"
    house.mkdir()
    wheel = make_wheel(house, "ext", "1.0")
    old = make_wheel(house, "ext", "0.9")
    assert reuse.lookup(house, "k") is None
    reuse.remember(house, "k", wheel, "manylinux_2_17_x86_64", ["libfoo.so"])
    found = reuse.lookup(house, "k")
    assert found is not None and found.wheel == wheel and found.grafted == ("libfoo.so",)

    assert reuse.set_aside(house, [old]) == [wheel.name]
    assert sorted(p.name for p in house.glob("*.whl")) == [old.name]
    found = reuse.lookup(house, "k")  # back from superseded/
    assert found is not None and found.wheel.is_file() and found.wheel.parent == house

    wheel.write_bytes(b"changed")
    assert reuse.lookup(house, "k") is None  # other bytes than recorded: built again
