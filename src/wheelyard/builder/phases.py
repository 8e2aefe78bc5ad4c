"""Wall time per phase of a run (resolve, fetch, build, repair, verify, upload), for
``--report`` and the benchmark. Phases overlap (downloads run during builds, builds run in
parallel), so a phase's time is the length of the union of its intervals: how long at least
one of its tasks was running."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("resolve", "fetch", "build", "repair", "verify", "upload")


class Phases:
    def __init__(self) -> None:
        self._spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self._lock = threading.Lock()

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._spans[phase].append((started, time.monotonic()))

    def walls(self) -> dict[str, float]:
        """Phase → wall seconds during which it was running, rounded to 0.1 s; plus
        ``build+repair``, the time either was (the compile work; the rest is overhead)."""
        with self._lock:
            spans = {k: list(v) for k, v in self._spans.items()}
        result = {phase: _union(spans.get(phase, [])) for phase in PHASES}
        result["build+repair"] = _union(spans.get("build", []) + spans.get("repair", []))
        return result


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return round(total, 1)
