"""Which interpreters have every wheel of their set while other builds still run, so each is
verified as soon as its last build settles instead of after the whole build phase (pure
logic: no process)."""

from __future__ import annotations

from collections.abc import Iterable

from wheelyard.builder.plan import Step


class Readiness:
    """Per interpreter (minor version), the (project, version) builds not settled yet."""

    def __init__(self, builds: Iterable[Step], minors: Iterable[str]) -> None:
        self._left: dict[str, set[tuple[str, str]]] = {minor: set() for minor in minors}
        for step in builds:
            self._left.setdefault(step.python, set()).add((step.project, step.version))
        self._told: set[str] = set()

    def settle(self, step: Step) -> list[str]:
        """``step`` built, failed, or was served by another interpreter's pure wheel: the
        interpreters that became ready by it (each is named once, ever)."""
        self._left.get(step.python, set()).discard((step.project, step.version))
        return self.ready()

    def ready(self) -> list[str]:
        """Interpreters with nothing left to build, not named before."""
        done = [minor for minor, left in self._left.items() if not left and minor not in self._told]
        self._told.update(done)
        return done
