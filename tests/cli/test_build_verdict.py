"""The portability lines of ``wheelyard build``'s summary, from a finished run's rows (no
process: tests/cli/test_build_portability.py runs the whole command)."""

from __future__ import annotations

import pytest

from tests.builder import host
from wheelyard.builder.progress import Row
from wheelyard.builder.run import Outcome
from wheelyard.builder.settings import BuildSettings
from wheelyard.cli.build import _portable


@pytest.mark.parametrize("strict", [False, True])
def test_the_verdict_lines(strict: bool, capsys: pytest.CaptureFixture[str]) -> None:
    above = "psycopg2-2.9.10-cp311-cp311-manylinux_2_34_x86_64.whl"
    rows = [
        Row("psycopg2", "2.9.10", "3.11", "built", "done", above, "manylinux_2_34_x86_64"),
        Row("lxml", "5.3.0", "3.11", "built", "failed", "", ""),  # failed rows have no wheel
    ]
    result = _portable(Outcome(rows=rows), BuildSettings(strict=strict), host())
    assert result.above == (above,)
    lines = capsys.readouterr().out.splitlines()
    kind = "error" if strict else "warning"
    assert lines == [
        "portability: 1 platform wheel, floor glibc 2.34; target manylinux_2_28: 1 above it",
        f"  {kind}: {above}: glibc 2.34",
        "  hint: use --container (a manylinux_2_28 image) for wheels that install wherever it does",
    ]
