"""The glibc floor of platform wheels, read from their tags, and the run's check against the
``target`` setting; the summary table's glibc column and the report's."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
from packaging import tags
from rich.console import Console

from wheelyard.builder.portability import (
    DEFAULT_TARGET,
    HOST_ONLY,
    PURE,
    Floor,
    check,
    describe,
    hint,
    host_glibc,
    host_note,
    parse_target,
    platform_floor,
)
from wheelyard.builder.progress import Row, final_table, write_report
from wheelyard.builder.settings import load
from wheelyard.errors import InvalidInput

NUMPY = "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
PSYCOPG2 = "psycopg2-2.9.10-cp311-cp311-manylinux_2_34_x86_64.whl"
OLD = "simplejson-3.19.3-cp39-cp39-manylinux1_x86_64.manylinux2010_x86_64.whl"
MUSL = "lxml-5.3.0-cp312-cp312-musllinux_1_2_aarch64.whl"
UNREPAIRED = "yamlext-1.0-cp312-cp312-linux_x86_64.whl"
MAC = "lxml-5.3.0-cp312-cp312-macosx_11_0_arm64.whl"
PURE_WHEEL = "six-1.16.0-py2.py3-none-any.whl"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (NUMPY, "glibc 2.17"),  # installs wherever any one of its tags does: the lowest
        (PSYCOPG2, "glibc 2.34"),
        (OLD, "glibc 2.5"),
        (MUSL, "musl 1.2"),
        (UNREPAIRED, HOST_ONLY),
        (MAC, ""),
        (PURE_WHEEL, PURE),
        ("manylinux_2_28_x86_64", "glibc 2.28"),  # a bare tag, as rows of built wheels hold
        ("manylinux2014_x86_64.manylinux_2_17_x86_64", "glibc 2.17"),
        ("pure", PURE),
        ("", ""),
        ("not-a-wheel.whl", ""),
    ],
)
def test_describe(name: str, expected: str) -> None:
    assert describe(name) == expected


def test_every_tag_this_machines_pip_accepts_is_within_its_glibc() -> None:
    glibc = host_glibc()
    if glibc is None:
        pytest.skip("this machine has no glibc")
    libc, version = platform.libc_ver()
    assert libc == "glibc" and version == glibc  # a second, independent reading
    mine = tuple(int(p) for p in glibc.split("."))
    floors = {platform_floor(t.platform) for t in tags.sys_tags()} - {None}
    assert floors and all(f is not None and f.version <= mine for f in floors)
    assert max(f.version for f in floors if f is not None) == mine
    assert f"(glibc {glibc})" in host_note(DEFAULT_TARGET)
    assert f"(glibc {glibc}; no engine runs)" in host_note(DEFAULT_TARGET, "no engine runs")


@pytest.mark.parametrize(
    ("value", "floor"),
    [
        ("manylinux_2_28", Floor("glibc", (2, 28))),
        ("manylinux_2_28_x86_64", Floor("glibc", (2, 28))),
        ("manylinux2014", Floor("glibc", (2, 17))),
        ("manylinux2010_i686", Floor("glibc", (2, 12))),
        ("musllinux_1_2", Floor("musl", (1, 2))),
    ],
)
def test_targets(value: str, floor: Floor) -> None:
    assert parse_target(value) == floor


@pytest.mark.parametrize("value", ["linux_x86_64", "glibc2.28", "manylinux_2", "", "any"])
def test_bad_target(value: str) -> None:
    with pytest.raises(InvalidInput, match="is not a policy"):
        parse_target(value)


def test_check_against_the_default_target() -> None:
    result = check([NUMPY, PSYCOPG2, PURE_WHEEL, MAC, MUSL, UNREPAIRED, NUMPY], DEFAULT_TARGET)
    assert result.floors == {
        NUMPY: "glibc 2.17",
        PSYCOPG2: "glibc 2.34",
        MUSL: "musl 1.2",
        UNREPAIRED: HOST_ONLY,
    }
    # Newer glibc, or no manylinux tag at all; musl is another C library, not a slip.
    assert result.above == (PSYCOPG2, UNREPAIRED)
    assert result.highest == "glibc 2.34"
    assert result.summary() == (
        "4 platform wheels, floor glibc 2.34; target manylinux_2_28: 2 above it"
    )
    assert result.to_json()["above_target"] == [PSYCOPG2, UNREPAIRED]
    assert check([NUMPY, PSYCOPG2], "manylinux_2_34").above == ()
    assert check([NUMPY, OLD], "manylinux2014").above == ()
    assert check([NUMPY, OLD], "manylinux2010").above == (NUMPY,)
    assert check([PURE_WHEEL], DEFAULT_TARGET).summary() == (
        "no platform wheels: they install anywhere"
    )


def test_hint_names_the_way_out() -> None:
    assert "--container" in hint("host", "manylinux2014")
    assert "manylinux2014" in hint("container", "manylinux2014")


def test_target_and_strict_settings(tmp_path: Path) -> None:
    assert load(tmp_path, {}, {}).target == DEFAULT_TARGET
    assert load(tmp_path, {}, {}).strict is False
    (tmp_path / "wheelyard.toml").write_text('[build]\ntarget = "manylinux2014"\nstrict = true\n')
    from_file = load(tmp_path, {}, {})
    assert (from_file.target, from_file.strict) == ("manylinux2014", True)
    env = {"WHEELYARD_TARGET": "manylinux_2_34", "WHEELYARD_STRICT": "no"}
    from_env = load(tmp_path, {}, env)
    assert (from_env.target, from_env.strict) == ("manylinux_2_34", False)
    assert load(tmp_path, {"target": "musllinux_1_2"}, env).target == "musllinux_1_2"
    with pytest.raises(InvalidInput, match=r"^--target: 'linux' is not a policy"):
        load(tmp_path, {"target": "linux"}, {})
    (tmp_path / "wheelyard.toml").write_text('[build]\ntarget = "2.28"\n')
    with pytest.raises(InvalidInput, match=r"wheelyard.toml \[build\]: target: '2.28' is not"):
        load(tmp_path, {}, {})


def _rows() -> list[Row]:
    return [
        Row("numpy", "2.1.0", "3.12", "upstream", "done", NUMPY, NUMPY[:-4].rsplit("-", 1)[-1]),
        Row("psycopg2", "2.9.10", "3.11", "built", "done", PSYCOPG2, "manylinux_2_34_x86_64"),
        Row("six", "1.16.0", "any", "upstream", "done", PURE_WHEEL, "pure"),
    ]


def test_the_summary_and_the_report_state_each_floor(tmp_path: Path) -> None:
    console = Console(width=200, record=True)
    console.print(final_table(_rows()))
    text = console.export_text()
    assert "glibc" in text.splitlines()[1]  # the header
    line = next(x for x in text.splitlines() if "psycopg2" in x)
    assert "glibc 2.34" in line
    assert "glibc 2.17" in next(x for x in text.splitlines() if "numpy" in x)
    report = tmp_path / "report.json"
    write_report(report, _rows(), {"ok": True})
    wheels = json.loads(report.read_text())["wheels"]
    assert [(w["project"], w["glibc"]) for w in wheels] == [
        ("numpy", "glibc 2.17"),
        ("psycopg2", "glibc 2.34"),
        ("six", PURE),
    ]
