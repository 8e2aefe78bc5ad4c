"""Each rejection rule of upload validation, on real archives made for the test."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from wheelyard.errors import InvalidInput
from wheelyard.testing import make_sdist, make_wheel
from wheelyard.yard.distfile import inspect_file, parse_filename


def test_valid_wheel_and_sdist(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Tiny_Pkg", "0.1.0", requires_python=">=3.8", summary="S")
    info = inspect_file(wheel, wheel.name)
    assert (info.kind, info.name, str(info.version)) == ("wheel", "tiny-pkg", "0.1.0")
    assert info.display_name == "Tiny_Pkg" and info.requires_python == ">=3.8"
    assert info.summary == "S" and b"Name: Tiny_Pkg" in info.metadata
    sdist = make_sdist(tmp_path, "tiny-pkg", "0.1.0")
    assert inspect_file(sdist, sdist.name).kind == "sdist"


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("pkg-1.0.zip", "unsupported file type"),
        ("pkg.whl", "invalid wheel file name"),
        ("pkg-1.0-py3-none-linux_x86_64.whl", "linux_x86_64"),
        ("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.linux_x86_64.whl", "linux_x86_64"),
        ("pkg-notaversion!-py3-none-any.whl", "invalid wheel file name"),
        ("pkg.tar.gz", "invalid sdist file name"),
        ("../evil-1.0-py3-none-any.whl", "invalid file name"),
        ("a\nb-1.0.tar.gz", "invalid file name"),
    ],
)
def test_bad_file_names(filename: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_filename(filename)


def test_manylinux_and_pure_tags_allowed() -> None:
    assert parse_filename("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl").kind == "wheel"
    assert parse_filename("pkg-1.0-cp311-cp311-musllinux_1_2_x86_64.whl").kind == "wheel"


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


META = "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n\n"


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "pkg-1.0-py3-none-any.whl"
    bad.write_bytes(b"hello")
    with pytest.raises(InvalidInput, match="not a zip"):
        inspect_file(bad, bad.name)


def test_needs_exactly_one_dist_info(tmp_path: Path) -> None:
    two = _zip(
        tmp_path / "pkg-1.0-py3-none-any.whl",
        {"pkg-1.0.dist-info/METADATA": META, "other-1.0.dist-info/METADATA": META},
    )
    with pytest.raises(InvalidInput, match="exactly one"):
        inspect_file(two, two.name)
    none = _zip(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/__init__.py": ""})
    with pytest.raises(InvalidInput, match="found: none"):
        inspect_file(none, none.name)


def test_dist_info_needs_metadata_wheel_record(tmp_path: Path) -> None:
    w = _zip(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg-1.0.dist-info/METADATA": META})
    with pytest.raises(InvalidInput, match="lacks WHEEL, RECORD"):
        inspect_file(w, w.name)


def _wheel_with_metadata(
    tmp_path: Path, metadata: str, filename: str = "pkg-1.0-py3-none-any.whl"
) -> Path:
    return _zip(
        tmp_path / filename,
        {
            "pkg-1.0.dist-info/METADATA": metadata,
            "pkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\n",
            "pkg-1.0.dist-info/RECORD": "",
        },
    )


def test_name_and_version_must_match(tmp_path: Path) -> None:
    w = _wheel_with_metadata(tmp_path, META.replace("Name: pkg", "Name: other"))
    with pytest.raises(InvalidInput, match="metadata says 'other'"):
        inspect_file(w, w.name)
    w = _wheel_with_metadata(tmp_path, META.replace("Version: 1.0", "Version: 2.0"))
    with pytest.raises(InvalidInput, match=r"metadata says 2\.0"):
        inspect_file(w, w.name)
    # Names compare normalised: Pkg / pkg and 1.0 / 1.0.0 are the same.
    w = _wheel_with_metadata(
        tmp_path, META.replace("Name: pkg", "Name: PKG").replace("1.0\n", "1.0.0\n")
    )
    assert inspect_file(w, w.name).display_name == "PKG"


def test_invalid_metadata(tmp_path: Path) -> None:
    w = _wheel_with_metadata(
        tmp_path, "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Python: >>>3\n\n"
    )
    with pytest.raises(InvalidInput, match="invalid core metadata"):
        inspect_file(w, w.name)
    w = _wheel_with_metadata(tmp_path, "Name: pkg\nVersion: 1.0\n\n")
    with pytest.raises(InvalidInput, match="invalid core metadata"):
        inspect_file(w, w.name)


def test_fields_newer_than_the_declared_version_are_tolerated(tmp_path: Path) -> None:
    """As PyPI does: setuptools wrote License-File under 2.1 for years."""
    text = (
        "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nLicense-File: LICENSE\n"
        "License-Expression: MIT\n\n"
    )
    w = _wheel_with_metadata(tmp_path, text)
    found = inspect_file(w, w.name)
    assert found.metadata == text.encode()  # served as uploaded
    # … but a field that is wrong in itself is still refused, whatever else is tolerated.
    w = _wheel_with_metadata(tmp_path, text.replace("Version: 1.0", "Version: one"))
    with pytest.raises(InvalidInput, match="invalid core metadata"):
        inspect_file(w, w.name)


def test_sdist_rules(tmp_path: Path) -> None:
    bad = tmp_path / "pkg-1.0.tar.gz"
    bad.write_bytes(b"plain")
    with pytest.raises(InvalidInput, match="not a valid sdist"):
        inspect_file(bad, bad.name)
    with tarfile.open(bad, "w:gz") as tf:
        data = b"print()"
        ti = tarfile.TarInfo("pkg-1.0/setup.py")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    with pytest.raises(InvalidInput, match="no PKG-INFO"):
        inspect_file(bad, bad.name)
    other = make_sdist(tmp_path, "other", "1.0")
    renamed = tmp_path / "pkg-1.0.tar.gz"
    other.replace(renamed)
    with pytest.raises(InvalidInput, match="metadata says 'other'"):
        inspect_file(renamed, renamed.name)
