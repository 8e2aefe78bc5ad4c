"""What an sdist's file list says about its build, before building it."""

from __future__ import annotations

import zipfile
from pathlib import Path

from wheelyard.builder.estimate import compiled_bytes
from wheelyard.testing import write_tar_gz


def test_compiled_sources_count_cython_weighs_more(tmp_path: Path) -> None:
    sdist = write_tar_gz(
        tmp_path / "ext-1.0.tar.gz",
        {
            "ext-1.0/setup.py": b"x" * 500,
            "ext-1.0/src/_ext.c": b"c" * 1000,
            "ext-1.0/src/_ext.h": b"h" * 800,  # headers are compiled through the .c files
            "ext-1.0/src/_fast.pyx": b"p" * 100,
        },
    )
    assert compiled_bytes(sdist) == 1000 + 10 * 100
    pure = write_tar_gz(tmp_path / "pure-1.0.tar.gz", {"pure-1.0/pure/__init__.py": b"x" * 5000})
    assert compiled_bytes(pure) == 0


def test_zip_sdists_and_unreadable_ones(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z-1.0.zip", "w") as zf:
        zf.writestr("z-1.0/z.cpp", b"c" * 300)
    assert compiled_bytes(tmp_path / "z-1.0.zip") == 300
    (tmp_path / "broken-1.0.tar.gz").write_bytes(b"not a tar")
    assert compiled_bytes(tmp_path / "broken-1.0.tar.gz") == 0
    assert compiled_bytes(tmp_path / "missing-1.0.tar.gz") == 0
