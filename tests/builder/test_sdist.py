"""Reading an sdist's declared build requirements, and fetching it once."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from wheelyard.builder.sdist import LEGACY_REQUIRES, declared_build_requires, fetch_sdist
from wheelyard.testing import make_sdist


def _tar(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_declared_requires(tmp_path: Path) -> None:
    pyproject = '[build-system]\nrequires = ["setuptools>=64", "cython<3.1"]\n'
    sdist = _tar(tmp_path / "a-1.0.tar.gz", {"a-1.0/pyproject.toml": pyproject})
    assert declared_build_requires(sdist) == ("setuptools>=64", "cython<3.1")
    # A vendored project's pyproject.toml deeper down is not the sdist's own.
    legacy = _tar(tmp_path / "b-1.0.tar.gz", {"b-1.0/vendor/x/pyproject.toml": pyproject})
    assert declared_build_requires(legacy) == LEGACY_REQUIRES
    no_system = _tar(tmp_path / "c-1.0.tar.gz", {"c-1.0/pyproject.toml": "[project]\n"})
    assert declared_build_requires(no_system) == LEGACY_REQUIRES
    zipped = tmp_path / "d-1.0.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("d-1.0/pyproject.toml", pyproject)
    assert declared_build_requires(zipped) == ("setuptools>=64", "cython<3.1")
    assert declared_build_requires(make_sdist(tmp_path, "fixture", "1.0")) == ()


def test_local_sources_are_used_in_place(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "here", "1.0")
    assert fetch_sdist(str(sdist), tmp_path / "cache") == sdist
    assert fetch_sdist(sdist.as_uri(), tmp_path / "cache") == sdist
    assert not (tmp_path / "cache").exists()
