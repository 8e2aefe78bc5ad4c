"""The record of passed verifications: the exact wheel set, pins and tests, nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.builder import host
from wheelyard.builder.interpreters import probe
from wheelyard.builder.verified import is_verified, record, set_hash
from wheelyard.testing import make_wheel


def test_hash_follows_bytes_pins_and_tests(tmp_path: Path) -> None:
    me = probe(Path(sys.executable), host())
    assert me is not None
    one = make_wheel(tmp_path, "one", "1.0")
    pins = ["one==1.0"]
    digest = set_hash(me, pins, [one], {})
    assert digest == set_hash(me, list(pins), [one, one], {})  # order and repeats do not count
    assert digest != set_hash(me, pins, [one], {"one": "python -c 'import one'"})
    assert digest != set_hash(me, ["one==1.0", "two==1.0"], [one], {})
    make_wheel(tmp_path, "one", "1.0", module_body="changed = True\n")  # same name, new bytes
    assert digest != set_hash(me, pins, [one], {})

    house = tmp_path / "house"
    house.mkdir()
    assert not is_verified(house, me, digest)
    record(house, me, digest)
    assert is_verified(house, me, digest) and not is_verified(house, me, "other")
    (house / ".verified.json").write_text("{not json")
    assert not is_verified(house, me, digest)  # a damaged record means: verify again
