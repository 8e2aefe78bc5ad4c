"""Download counts per file and label: counted in memory on the hot path (a dict increment
under a lock), written to the database in batches by the server's housekeeping loop.

Counts a process has not flushed yet are lost if it is killed: a count is a statistic, and
writing on every download would put a database write on the hot path.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from wheelyard.db.models import DownloadCount, File

NO_LABEL = 0  # downloads not made through one label (the Anaconda API, the all-labels view)


class DownloadTally:
    """Downloads counted since the last flush, keyed by (file id, label id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, int]] = Counter()

    def count(self, file_id: int, label_id: int | None) -> None:
        with self._lock:
            self._counts[(file_id, label_id or NO_LABEL)] += 1

    def merge(self, counts: Counter[tuple[int, int]]) -> None:
        """Put back counts whose write failed."""
        with self._lock:
            self._counts.update(counts)

    def take(self) -> Counter[tuple[int, int]]:
        with self._lock:
            taken, self._counts = self._counts, Counter()
        return taken


def flush(session: Session, counts: Counter[tuple[int, int]]) -> None:
    """Add ``counts`` to the stored ones (one upsert per key; the caller commits)."""
    if not counts:
        return
    # Files removed since they were counted are left out (their rows would break the key).
    ids = {file_id for file_id, _label in counts}
    alive = set(session.scalars(select(File.id).where(File.id.in_(ids))))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for (file_id, label_id), n in sorted(counts.items()):  # sorted: writers never deadlock
        if file_id not in alive:
            continue
        stmt = insert(DownloadCount).values(file_id=file_id, label_id=label_id, count=n)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["file_id", "label_id"],
                set_={"count": DownloadCount.count + stmt.excluded.count},
            )
        )


def per_file(session: Session, file_ids: Iterable[int]) -> dict[int, int]:
    """Total downloads of each file, through any label or none."""
    return _totals(session, DownloadCount.file_id, file_ids)


def per_label(session: Session, label_ids: Iterable[int]) -> dict[int, int]:
    """Downloads made through each label."""
    return _totals(session, DownloadCount.label_id, label_ids)


def _totals(
    session: Session, column: InstrumentedAttribute[int], ids: Iterable[int]
) -> dict[int, int]:
    """The summed counts of the rows whose ``column`` is one of ``ids``, per value of it."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(column, func.sum(DownloadCount.count)).where(column.in_(wanted)).group_by(column)
    )
    return {key: int(n) for key, n in rows}
