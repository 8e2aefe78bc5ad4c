"""Static snapshots into a folder: complete, made of the server's own pages, incremental, and
never showing a page whose files are not there yet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.export.conftest import add_wheel
from wheelyard.db.models import File
from wheelyard.db.unit import transaction
from wheelyard.errors import DamagedBlob, NotFound
from wheelyard.export.manifest import JOURNAL
from wheelyard.export.snapshot import MANIFEST, export_label
from wheelyard.export.targets import FolderTarget
from wheelyard.storage.local import LocalStore
from wheelyard.web import render
from wheelyard.yard import accounts, catalog
from wheelyard.yard import labels as label_ops
from wheelyard.yard.removal import remove_files


def _add(session: Session, store: LocalStore, tmp: Path, name: str, version: str) -> Path:
    return add_wheel(session, store, tmp, name, version)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_snapshot_is_the_servers_pages_and_files(
    session: Session, store: LocalStore, tmp_path: Path
) -> None:
    one = _add(session, store, tmp_path, "alpha", "1.0")
    two = _add(session, store, tmp_path, "Beta_Pkg", "2.0")
    alice = accounts.get_owner(session, "alice")
    with transaction(session):
        label_ops.yank(session, alice, "main", "beta-pkg", "2.0", reason="broken")  # PEP 592 too
    out = tmp_path / "export"
    done = export_label(session, store, FolderTarget(out), "alice", "main")
    assert (done.projects, done.files) == (2, 4)  # two wheels, two metadata files
    tree = _tree(out)
    owner, label = catalog.resolve(session, "alice", "main")
    assert label is not None
    names = catalog.project_names(session, label.id, False)
    assert tree["simple/index.html"] == render.root_html(names)
    assert tree["simple/index.json"] == render.root_json(names)
    for project, wheel in (("alpha", one), ("beta-pkg", two)):
        found = catalog.project_files(session, owner.id, label.id, project, False)
        assert found is not None
        assert tree[f"simple/{project}/index.html"] == render.project_html(*found)
        assert tree[f"simple/{project}/index.json"] == render.project_json(*found)
        assert found[1][0].yanked == (project == "beta-pkg")
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert tree[f"files/{sha}/{wheel.name}"] == wheel.read_bytes()
        meta = tree[f"files/{sha}/{wheel.name}.metadata"]
        assert found[1][0].metadata_sha256 == hashlib.sha256(meta).hexdigest()
        # The page's relative link resolves inside the snapshot.
        link = json.loads(tree[f"simple/{project}/index.json"])["files"][0]["url"]
        assert (out / "simple" / project / link).resolve() == (out / "files" / sha / wheel.name)
    assert json.loads(tree[MANIFEST])["label"] == "main"


def test_a_second_export_writes_only_what_changed(
    session: Session, store: LocalStore, tmp_path: Path
) -> None:
    _add(session, store, tmp_path, "alpha", "1.0")
    gone = _add(session, store, tmp_path, "gamma", "1.0")
    target = FolderTarget(tmp_path / "export")
    export_label(session, store, target, "alice", "main")
    again = export_label(session, store, target, "alice", "main")
    assert again.written == [] and again.deleted == []

    new = _add(session, store, tmp_path, "alpha", "1.1")
    sha = hashlib.sha256(new.read_bytes()).hexdigest()
    after_upload = export_label(session, store, target, "alice", "main")
    assert after_upload.written == [
        f"files/{sha}/{new.name}",
        f"files/{sha}/{new.name}.metadata",
        "simple/alpha/index.html",
        "simple/alpha/index.json",
    ]  # files first; the root page lists the same projects, so it is not rewritten
    assert after_upload.deleted == []

    alice = accounts.get_owner(session, "alice")
    gamma = [f for f in session.scalars(select(File)) if f.filename == gone.name]
    with transaction(session):
        remove_files(session, store, alice, gamma, "alice")
    after_removal = export_label(session, store, target, "alice", "main")
    assert after_removal.written == ["simple/index.html", "simple/index.json"]
    gone_sha = hashlib.sha256(gone.read_bytes()).hexdigest()
    assert after_removal.deleted == [
        f"files/{gone_sha}/{gone.name}",
        f"files/{gone_sha}/{gone.name}.metadata",
        "simple/gamma/index.html",
        "simple/gamma/index.json",
    ]
    tree = _tree(tmp_path / "export")
    assert not any("gamma" in key for key in tree)
    assert not (tmp_path / "export" / "simple" / "gamma").exists()  # emptied folders go too
    fresh = tmp_path / "fresh"
    export_label(session, store, FolderTarget(fresh), "alice", "main")
    assert _tree(fresh) == tree  # incremental ends where a cold export does


def test_private_things_stay_out_unless_asked(
    session: Session, store: LocalStore, tmp_path: Path
) -> None:
    _add(session, store, tmp_path, "alpha", "1.0")
    alice = accounts.get_owner(session, "alice")
    with transaction(session):
        label_ops.copy_label(session, alice, "main", "secret")
        label_ops.set_private(session, alice, "secret", True)
    with pytest.raises(NotFound):
        export_label(session, store, FolderTarget(tmp_path / "e1"), "alice", "secret")
    assert not (tmp_path / "e1").exists()
    done = export_label(session, store, FolderTarget(tmp_path / "e2"), "alice", "secret", True)
    assert done.projects == 1
    with pytest.raises(NotFound):
        export_label(session, store, FolderTarget(tmp_path / "e3"), "alice", "nothing", True)


def test_a_damaged_blob_is_not_exported(
    session: Session, store: LocalStore, tmp_path: Path
) -> None:
    wheel = _add(session, store, tmp_path, "alpha", "1.0")
    blob = session.scalars(select(File.blob_key)).one()
    path = store.local_path(blob)
    assert path is not None
    path.write_bytes(b"x" + wheel.read_bytes()[1:])
    out = tmp_path / "export"
    with pytest.raises(DamagedBlob, match="sha256 differs"):
        export_label(session, store, FolderTarget(out), "alice", "main")
    assert set(_tree(out)) == {JOURNAL}  # no page, the bad copy removed; the run is unfinished
    path.write_bytes(wheel.read_bytes())
    done = export_label(session, store, FolderTarget(out), "alice", "main")
    assert len(done.written) == 6 and set(_tree(out)) == {*done.written, MANIFEST}
