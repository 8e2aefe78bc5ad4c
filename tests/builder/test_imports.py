"""Import names from a wheel's files: stubs, non-identifiers and data-only folders left out."""

from __future__ import annotations

import zipfile
from pathlib import Path

from wheelyard.builder.imports import import_names
from wheelyard.testing import make_wheel


def _wheel(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "odd-1.0-cp312-cp312-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_names_come_from_the_files(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path,
        {
            "ujson.cpython-312-x86_64-linux-gnu.so": "",
            "ujson-stubs/__init__.pyi": "",  # PEP 561 stubs: nothing to import
            "share-data/readme.txt": "",  # data only
            "not-a-name/mod.py": "",  # not an identifier
            "_private.py": "",
            "pkg/__init__.py": "",
            "ns/sub/mod.py": "",  # a namespace package still imports
            "odd-1.0.dist-info/METADATA": "",
            "odd.libs/libfoo.so": "",
        },
    )
    assert import_names(wheel) == ["_private", "ns", "pkg", "ujson"]


def test_top_level_txt_narrows_but_never_adds(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path,
        {
            "yaml/__init__.py": "",
            "_yaml/__init__.py": "",
            "tests/test_x.py": "",
            "odd-1.0.dist-info/top_level.txt": "_yaml\nyaml\nghost\n",
        },
    )
    assert import_names(wheel) == ["_yaml", "yaml"]


def test_nothing_to_import(tmp_path: Path) -> None:
    stubs = _wheel(tmp_path, {"types_x-stubs/__init__.pyi": "", "odd-1.0.dist-info/RECORD": ""})
    assert import_names(stubs) == []
    assert import_names(make_wheel(tmp_path, "Some-Thing", "1.0")) == ["some_thing"]
