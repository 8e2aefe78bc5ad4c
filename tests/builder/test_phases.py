"""Wall time per phase: overlapping tasks count once."""

from __future__ import annotations

from wheelyard.builder.phases import Phases


def test_overlapping_spans_count_once() -> None:
    phases = Phases()
    phases._spans["build"] += [(0.0, 10.0), (2.0, 12.0), (20.0, 21.0)]
    phases._spans["fetch"] += [(0.0, 0.5)]
    with phases.timing("verify"):
        pass
    walls = phases.walls()
    assert walls["build"] == 13.0 and walls["fetch"] == 0.5
    assert walls["verify"] == 0.0 and walls["upload"] == 0.0
    phases._spans["repair"] += [(11.0, 13.0), (30.0, 31.0)]
    assert phases.walls()["build+repair"] == 15.0  # 0-13, 20-21, 30-31
