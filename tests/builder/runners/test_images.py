"""Short image names stand for PyPA's images of the host's architecture; others are as given."""

from __future__ import annotations

import pytest

from wheelyard.builder.runners.images import DEFAULT, PYPA, host_arch, image_for
from wheelyard.errors import InvalidInput


def test_short_names_map_per_architecture() -> None:
    assert image_for("manylinux_2_28", "x86_64") == "quay.io/pypa/manylinux_2_28_x86_64"
    assert image_for("manylinux2014", "aarch64") == "quay.io/pypa/manylinux2014_aarch64"
    assert image_for("musllinux_1_2", "armv7l") == "quay.io/pypa/musllinux_1_2_armv7l"
    assert image_for(DEFAULT).endswith(f"manylinux_2_28_{host_arch()}")
    assert DEFAULT in PYPA


def test_other_references_are_used_as_given_and_missing_arches_named() -> None:
    assert image_for("localhost/mine:1") == "localhost/mine:1"
    assert image_for("python:3.12-slim") == "python:3.12-slim"
    with pytest.raises(InvalidInput, match="no manylinux_2_28 image for i686"):
        image_for("manylinux_2_28", "i686")
