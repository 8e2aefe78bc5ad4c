"""What a run shows while it works: one row per project × interpreter moving through its
states — a live ``rich`` table on a terminal, one plain line per event under CI or in a pipe.
The same rows make the final table and ``--report``."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wheelyard.builder.portability import describe
from wheelyard.cli.terminal import shown, styled

State = Literal["queued", "fetching", "building", "repairing", "done", "failed"]
Source = Literal["yard", "upstream", "built"]
_STYLE = {"failed": "red", "done": "green", "building": "yellow", "repairing": "yellow"}


@dataclass(frozen=True)
class Row:
    """One wheel of the run: where it came from, what became of it."""

    project: str
    version: str
    python: str  # "3.12", or "any" for a wheel that serves every interpreter
    source: Source
    state: State = "queued"
    filename: str = ""
    tag: str = ""  # the platform tag / manylinux policy, "pure" for pure wheels
    grafted: tuple[str, ...] = ()
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of its build's processes (a built row; --report only)
    log: str = ""
    detail: str = ""
    size: int = 0  # bytes of the wheel, once there is one
    upstream_size: int = 0  # bytes of upstream's wheel of a built project (0: none known)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.project, self.version, self.python)


class Reporter(Protocol):
    def __enter__(self) -> Reporter: ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def update(self, row: Row) -> None: ...

    def message(self, text: str) -> None: ...


class _Rows:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Row] = {}
        self.lock = threading.Lock()

    def _store(self, row: Row) -> None:
        with self.lock:
            self.rows[row.key] = row


class PlainReporter(_Rows):
    """A line per state change, flushed at once, for CI logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stdout
        self.started = time.monotonic()

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _line(self, text: str) -> None:
        with self.lock:
            self.stream.write(f"[{time.monotonic() - self.started:7.1f}s] {shown(text)}\n")
            self.stream.flush()

    def update(self, row: Row) -> None:
        previous = self.rows.get(row.key)
        self._store(row)
        if previous is not None and previous.state == row.state:
            return  # only state changes make a line
        extra = f" {row.filename}" if row.state in ("done", "fetching") and row.filename else ""
        detail = f" ({row.detail})" if row.detail else ""
        self._line(f"{row.project} {row.version} python {row.python}: {row.state}{extra}{detail}")

    def message(self, text: str) -> None:
        self._line(text)


class LiveReporter(_Rows):
    """A live table, redrawn a few times a second, removed once the run ends."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.live = Live(console=console, get_renderable=self._render, transient=True)

    def _render(self) -> Table:
        table = Table("project", "version", "python", "source", "state", box=None)
        with self.lock:
            rows = sorted(self.rows.values(), key=lambda r: r.key)
        for row in rows:
            state = styled(row.state, _STYLE.get(row.state, ""))
            table.add_row(*_cells(row.project, row.version, row.python, row.source), state)
        return table

    def __enter__(self) -> LiveReporter:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def update(self, row: Row) -> None:
        self._store(row)

    def message(self, text: str) -> None:
        self.console.print(Text(shown(text)))


def choose(console: Console, environ: Mapping[str, str] | None = None) -> Reporter:
    env = os.environ if environ is None else environ
    ci = env.get("CI", "").lower() in ("1", "true", "yes")
    if console.is_terminal and not ci:
        return LiveReporter(console)
    return PlainReporter()


def _cells(*values: str) -> list[Text]:
    """Table cells as literal text: project names, tags and file names come from packages."""
    return [Text(shown(v)) for v in values]


def floor(row: Row) -> str:
    """The row's glibc floor as the summary states it (builder/portability.py)."""
    return describe(row.filename or row.tag)


def final_table(rows: list[Row]) -> Table:
    table = Table(
        "project", "version", "python", "source", "tag", "glibc", "grafted", "seconds", "size"
    )
    for row in sorted(rows, key=lambda r: r.key):
        failed = row.state == "failed"
        source = styled(f"{row.source}: failed", "red") if failed else Text(row.source)
        seconds = f"{row.seconds:.1f}" if row.seconds else ""
        cells = _cells(row.tag, floor(row), ", ".join(row.grafted), seconds, _size(row))
        table.add_row(*_cells(row.project, row.version, row.python), source, *cells)
    return table


def _size(row: Row) -> str:
    """ "4.9 MB", with upstream's beside it when known: "4.9 MB (upstream 4.8 MB)"."""
    if not row.size:
        return ""
    ours = f"{row.size / 1e6:.1f} MB"
    return f"{ours} (upstream {row.upstream_size / 1e6:.1f} MB)" if row.upstream_size else ours


def write_report(path: Path, rows: list[Row], extra: dict[str, object]) -> None:
    """``--report``: the final table's rows plus the run's verdicts, as JSON."""
    wheels = [{**asdict(r), "glibc": floor(r)} for r in sorted(rows, key=lambda r: r.key)]
    data = {**extra, "wheels": wheels}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
