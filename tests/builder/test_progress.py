"""Progress output: plain lines per state change under CI, a live table on a terminal, and
the same rows in the final table and the report."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from wheelyard.builder.progress import (
    LiveReporter,
    PlainReporter,
    Row,
    choose,
    final_table,
    write_report,
)


def test_plain_lines_only_on_state_changes() -> None:
    stream = io.StringIO()
    with PlainReporter(stream) as reporter:
        row = Row("numpy", "2.1.0", "3.12", "built")
        reporter.update(row)
        reporter.update(row.__class__(**{**row.__dict__, "state": "building"}))
        reporter.update(row.__class__(**{**row.__dict__, "state": "building", "seconds": 3.0}))
        reporter.message("verify Python 3.12: installing and importing")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("numpy 2.1.0 python 3.12: queued")
    assert lines[1].endswith("numpy 2.1.0 python 3.12: building")


def test_live_table_shows_each_row_state() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    reporter = LiveReporter(console)
    reporter.update(Row("lxml", "5.3.0", "3.11", "built", "building"))
    reporter.update(Row("six", "1.16.0", "any", "upstream", "done"))
    rendered = Console(file=io.StringIO(), width=120)
    rendered.print(reporter._render())
    text = rendered.file.getvalue()  # type: ignore[attr-defined]
    assert "lxml" in text and "building" in text and "six" in text and "done" in text


def test_choose_plain_under_ci_or_in_a_pipe() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(choose(terminal, {"CI": "true"}), PlainReporter)
    assert isinstance(choose(pipe, {}), PlainReporter)
    assert isinstance(choose(terminal, {}), LiveReporter)


def test_final_table_and_report_carry_the_same_rows(tmp_path: Path) -> None:
    rows = [
        Row("yamlext", "1.0", "3.12", "built", "done", "y.whl", "manylinux_2_17_x86_64",
            ("libyaml-0.so.2",), 1.5),
        Row("broken", "1.0", "3.12", "built", "failed", detail="missing header"),
    ]  # fmt: skip
    out = Console(file=io.StringIO(), width=200)
    out.print(final_table(rows))
    table = out.file.getvalue()  # type: ignore[attr-defined]
    assert "libyaml-0.so.2" in table and "built: failed" in table
    report = tmp_path / "report.json"
    write_report(report, rows, {"ok": False})
    data = json.loads(report.read_text())
    assert data["ok"] is False and [r["project"] for r in data["wheels"]] == ["broken", "yamlext"]
    assert data["wheels"][1]["grafted"] == ["libyaml-0.so.2"]
    assert not list(tmp_path.glob("*.tmp"))


def test_the_summary_shows_sizes_beside_upstreams() -> None:
    from rich.console import Console

    from wheelyard.builder.progress import Row, final_table

    rows = [
        Row("lxml", "5.3.0", "3.12", "built", "done", "lxml.whl", size=4_900_000,
            upstream_size=4_800_000),
        Row("ujson", "5.11.0", "3.12", "upstream", "done", "ujson.whl", size=60_000),
    ]  # fmt: skip
    console = Console(width=200, record=True)
    console.print(final_table(rows))
    text = console.export_text()
    assert "4.9 MB (upstream 4.8 MB)" in text and "0.1 MB" in text
