"""Garbage collection of blobs: only old, unreferenced ones, never one an upload is reusing."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import event, select

from wheelyard.db.models import File
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.importer import import_file
from wheelyard.yard.integrity import check, collect_garbage
from wheelyard.yard.removal import remove_files


def _age(path: Path, seconds: float) -> None:
    os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_collector_spares_a_blob_an_upload_is_publishing_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    store = LocalStore(tmp_path / "files")
    wheel = make_wheel(tmp_path, "gc", "1.0")
    with sessions() as s:
        with transaction(s):
            alice = accounts.create_user(s, "alice", "long enough password")
            accounts.create_user(s, "bob", "long enough password")
        with transaction(s):
            import_file(s, store, alice, ["main"], wheel)
        with transaction(s):
            remove_files(s, store, alice, list(s.scalars(select(File))), "alice")
    keys = list(store.iter_keys())
    assert keys, "removal leaves the bytes to the collector"
    for key in keys:
        path = store.local_path(key)
        assert path is not None
        _age(path, 7200)  # unreferenced and old: a candidate

    # Bob uploads the same bytes; between publishing and committing, the collector runs.
    with sessions() as s, sessions() as gc:

        def collect(_session: object) -> None:
            assert collect_garbage(gc, store, 3600).deleted == []

        event.listen(s, "before_commit", collect)
        with transaction(s):
            stored = import_file(s, store, accounts.get_owner(s, "bob"), ["main"], wheel)
        assert stored.outcome == "created"
    with sessions() as s:
        assert [p for p in check(s, store) if p.kind != "orphan"] == []
        assert sorted(store.iter_keys()) == sorted(keys)
        # A claim left by a collector that died half-way is put back: Bob's row uses it.
        claim = store.claim(keys[0])
        assert claim is not None and not store.exists(keys[0])
        assert collect_garbage(s, store, 3600).deleted == []
        assert store.exists(keys[0])
        # Once nothing references them and they are old, they go.
        with transaction(s):
            bob = accounts.get_owner(s, "bob")
            remove_files(s, store, bob, list(s.scalars(select(File))), "bob")
        for key in keys:
            path = store.local_path(key)
            assert path is not None
            _age(path, 7200)
        assert sorted(collect_garbage(s, store, 3600).deleted) == sorted(keys)
        assert list(store.iter_keys()) == []
    engine.dispose()
