"""Backup and restore in process (SQLite + folders): the round trip keeps every row and blob,
and what is not a complete, known backup, or a yard that is not empty, is refused."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from wheelyard.db.models import File
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.errors import Conflict, DamagedBlob, InvalidInput
from wheelyard.export import dumpformat as fmt
from wheelyard.export.backup import backup_yard
from wheelyard.export.restore import restore_yard
from wheelyard.export.targets import FolderTarget
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts, tokens
from wheelyard.yard import labels as label_ops
from wheelyard.yard.importer import import_file
from wheelyard.yard.integrity import collect_garbage, collection_paused


def _yard(root: Path) -> tuple[Session, LocalStore, Iterator[None]]:
    engine = make_engine(f"sqlite:///{root / 'db.sqlite'}")
    migrate(engine)
    return make_sessionmaker(engine)(), LocalStore(root / "files"), iter(())


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Session, LocalStore]]:
    session, store, _ = _yard(tmp_path / "src")
    with transaction(session):
        alice = accounts.create_user(session, "alice", "long enough password")
        tokens.create_token(session, alice, "ci", ("pypi:upload",))
    wheel = make_wheel(tmp_path, "alpha", "1.0")
    with transaction(session):
        import_file(session, store, accounts.get_owner(session, "alice"), ["main"], wheel)
    with transaction(session):
        label_ops.yank(
            session, accounts.get_owner(session, "alice"), "main", "alpha", "1.0", reason="bad"
        )
    yield session, store
    session.close()


def _rows(session: Session) -> dict[str, list[dict[str, object]]]:
    return {
        t.name: [fmt.encode(t, dict(r)) for r in session.execute(select(t)).mappings()]
        for t in fmt.tables()
    }


def test_round_trip_keeps_every_row_and_blob(
    source: tuple[Session, LocalStore], tmp_path: Path
) -> None:
    session, store = source
    target = FolderTarget(tmp_path / "backup")
    with transaction(session):
        done = backup_yard(session, store, target)
    assert done.rows["owners"] == 1 and done.rows["tokens"] == 1 and done.blobs == 2
    manifest = json.loads((tmp_path / "backup" / fmt.MANIFEST).read_bytes())
    assert (manifest["format"], manifest["version"]) == (fmt.FORMAT, fmt.VERSION)
    with pytest.raises(Conflict, match="not empty"):  # a backup never overwrites another
        backup_yard(session, store, target)

    dest, dest_store, _ = _yard(tmp_path / "dst")
    with transaction(dest):
        restore_yard(dest, dest_store, target, "the backup", tmp_path / "staging")
    assert _rows(dest) == _rows(session)
    assert sorted(dest_store.iter_keys()) == sorted(store.iter_keys())
    for key in store.iter_keys():
        with store.open(key) as a, dest_store.open(key) as b:
            assert a.read() == b.read()
    with transaction(dest):
        assert accounts.login(dest, "alice", "long enough password").name == "alice"
    with pytest.raises(Conflict, match="the yard is not empty"), transaction(dest):
        restore_yard(dest, dest_store, target, "the backup", tmp_path / "staging")
    dest.close()


def test_incomplete_unknown_and_damaged_backups_are_refused(
    source: tuple[Session, LocalStore], tmp_path: Path
) -> None:
    session, store = source
    folder = tmp_path / "backup"
    with transaction(session):
        backup_yard(session, store, FolderTarget(folder))
    dest, dest_store, _ = _yard(tmp_path / "dst")
    manifest = (folder / fmt.MANIFEST).read_bytes()

    def restore() -> None:
        with transaction(dest):
            restore_yard(dest, dest_store, FolderTarget(folder), "B", tmp_path / "staging")

    (folder / fmt.MANIFEST).unlink()
    with pytest.raises(InvalidInput, match="not a complete wheelyard backup"):
        restore()
    (folder / fmt.MANIFEST).write_bytes(manifest.replace(b'"version": 1', b'"version": 99'))
    with pytest.raises(InvalidInput, match="format version 99 is not one"):
        restore()
    (folder / fmt.MANIFEST).write_bytes(manifest)
    blob = max(
        (p for p in (folder / "blobs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    blob.write_bytes(b"x" + blob.read_bytes()[1:])
    with pytest.raises(DamagedBlob, match="sha256 differs"):
        restore()
    assert _rows(dest)["owners"] == []  # nothing committed
    dest.close()


def test_a_backup_holds_the_blobs_its_rows_name_each_checked(
    source: tuple[Session, LocalStore], tmp_path: Path
) -> None:
    """What no row names is left out; a blob a row names that is missing or damaged (a file
    removed after the rows were read, its old blob collected meanwhile) fails the backup with
    the file's name, and without a manifest: no backup says it is complete and then fails."""
    session, store = source
    store.put_bytes("stray/00/orphan", b"no row names this")
    with transaction(session):
        done = backup_yard(session, store, FolderTarget(tmp_path / "one"))
    assert done.blobs == 2
    assert not any("orphan" in p.name for p in (tmp_path / "one").rglob("*"))

    wheel = session.scalars(select(File)).one()
    path = store.local_path(wheel.blob_key)
    assert path is not None
    good = path.read_bytes()
    for damage, message in [("missing", "is missing"), ("flipped", "differs from its recorded")]:
        if damage == "missing":
            path.unlink()
        else:
            path.write_bytes(b"x" + good[1:])
        folder = tmp_path / damage
        with pytest.raises(DamagedBlob, match=message) as failed, transaction(session):
            backup_yard(session, store, FolderTarget(folder))
        assert wheel.filename in failed.value.message
        assert not (folder / fmt.MANIFEST).exists()
        path.write_bytes(good)


def test_no_garbage_is_collected_while_a_restore_is_in_flight(
    source: tuple[Session, LocalStore], tmp_path: Path
) -> None:
    """A restore publishes every blob first and commits the rows at the end: a collector that
    ran in between would find those blobs unreferenced, and old once a restore outlasts the
    grace period. ``collection_paused`` (what ``import --from`` holds) makes it wait."""
    session, store = source
    with transaction(session):
        backup_yard(session, store, FolderTarget(tmp_path / "backup"))
    dest, dest_store, _ = _yard(tmp_path / "dst")
    published, go_on = threading.Event(), threading.Event()

    class Slow(FolderTarget):
        """The backup, read slowly: it stops at the first table, after every blob."""

        def open(self, key: str) -> BinaryIO:
            if key.startswith("tables/") and not published.is_set():
                published.set()
                assert go_on.wait(30)
            return super().open(key)

    collected: list[list[str]] = []

    def collect() -> None:
        published.wait(30)
        for key in dest_store.iter_keys():  # as old as a long restore makes them
            path = dest_store.local_path(key)
            assert path is not None
            os.utime(path, (time.time() - 7200, time.time() - 7200))
        collector, other_store, _ = _yard(tmp_path / "dst")
        threading.Timer(0.5, go_on.set).start()  # the restore goes on while this one waits
        with transaction(collector):
            collected.append(collect_garbage(collector, other_store, 300).deleted)
        collector.close()

    thread = threading.Thread(target=collect)
    thread.start()
    with collection_paused(dest_store), transaction(dest):
        restore_yard(dest, dest_store, Slow(tmp_path / "backup"), "B", tmp_path / "staging")
        assert not collected  # the collector started a while ago, and waits for the lock
    thread.join(30)
    assert collected == [[]]
    assert sorted(dest_store.iter_keys()) == sorted(store.iter_keys())
    dest.close()
