"""Build settings: file < WHEELYARD_* variables < CLI flags, per-package overrides, and clear
errors for anything malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelyard.builder.settings import load
from wheelyard.errors import InvalidInput

PYPROJECT = """
[project]
name = "deps"

[tool.wheelyard.build]
python = ["3.10", "3.12"]
jobs = 3
wheelhouse = "out"
no-binary = ["lxml"]
owner = "alice"

[tool.wheelyard.build.packages.Pillow_SIMD]
environment = { CFLAGS = "-O3" }
build-requires = ["cython<3"]
exclude = ["libcuda.so.1"]
test = "python -c 'import PIL'"

[tool.wheelyard.build.packages.numpy]
no-binary = true
"""


def test_file_settings_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    s = load(tmp_path, {}, environ={})
    assert s.python == ("3.10", "3.12") and s.jobs == 3 and s.owner == "alice"
    assert s.wheelhouse == tmp_path / "out"  # relative to the folder, not the cwd
    pillow = s.override("pillow-simd")
    assert pillow.environment == {"CFLAGS": "-O3"} and pillow.build_requires == ("cython<3",)
    assert pillow.exclude == ("libcuda.so.1",) and pillow.test == "python -c 'import PIL'"
    assert s.forced_from_source() == ("lxml", "numpy")
    assert s.override("unknown").test is None
    assert "pyproject.toml" in s.source


def test_environment_overrides_file_and_cli_overrides_both(tmp_path: Path) -> None:
    (tmp_path / "wheelyard.toml").write_text('[build]\njobs = 3\nowner = "alice"\nlabel = "x"\n')
    environ = {"WHEELYARD_JOBS": "5", "WHEELYARD_OWNER": "bob", "WHEELYARD_PYTHON": "3.11,3.12"}
    s = load(tmp_path, {"owner": "carol", "jobs": None, "python": ()}, environ=environ)
    assert (s.jobs, s.owner, s.label, s.python) == (5, "carol", "x", ("3.11", "3.12"))


def test_no_file_means_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    s = load(tmp_path, {}, environ={})
    assert s.python == () and s.jobs is None and s.packages == {} and s.source == "defaults"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[build]\njbos = 2\n", "unknown key 'jbos'"),
        ("[build]\njobs = 0\n", "jobs: expected a whole number ≥ 1"),
        ("[build]\npython = 3.12\n", "python: expected a list of strings"),
        ("[build.packages.x]\nenvironment = 1\n", "x.environment: expected a table of strings"),
        ("[build.packages.x]\ncflags = '-O2'\n", "unknown key 'cflags'"),
        ("[build.packages.x]\nno-binary = 'yes'\n", "x.no-binary: expected true or false"),
        ("[build\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "wheelyard.toml").write_text(text)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        load(tmp_path, {}, environ={})


def test_bad_environment_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="WHEELYARD_JOBS: expected a whole number"):
        load(tmp_path, {}, environ={"WHEELYARD_JOBS": "many"})


def test_settings_in_two_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "wheelyard.toml").write_text("[build]\njobs = 1\n")
    (tmp_path / "pyproject.toml").write_text("[tool.wheelyard.build]\njobs = 2\n")
    with pytest.raises(InvalidInput, match="keep one"):
        load(tmp_path, {}, environ={})


def test_naming_an_image_selects_the_container_runner(tmp_path: Path) -> None:
    assert load(tmp_path, {}, environ={}).runner == "auto"  # the default: builder.runners.decide
    chosen = load(tmp_path, {"container": "manylinux2014"}, environ={})
    assert (chosen.runner, chosen.container) == ("container", "manylinux2014")
    (tmp_path / "wheelyard.toml").write_text(
        '[build]\ncontainer-engine = "docker"\nverify-image = "python:3.12-slim"\n'
        '[build.packages.lxml]\ncontainer = "manylinux_2_34"\n'
    )
    from_file = load(tmp_path, {}, environ={"WHEELYARD_CONTAINER_ENGINE": "podman"})
    assert from_file.runner == "container" and from_file.container is None  # default image
    assert from_file.container_engine == "podman"  # the variable overrides the file
    assert from_file.verify_image == "python:3.12-slim"
    assert from_file.override("LXML").container == "manylinux_2_34"
    with pytest.raises(InvalidInput, match=r"packages\.lxml\.container names an image, but"):
        load(tmp_path, {"runner": "host"}, environ={})
