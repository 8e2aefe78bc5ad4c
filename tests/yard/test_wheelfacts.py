"""Wheel facts: the manylinux policy and grafted libraries are derived when a file is stored,
kept by copies, added to older rows by migration 0007 (policy) and ``fill_missing``
(grafted libraries, read from the stored wheel)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import select, update

from wheelyard.db.models import File
from wheelyard.db.session import MIGRATIONS, make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_sdist, make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.distfile import inspect_file
from wheelyard.yard.importer import import_file
from wheelyard.yard.wheelfacts import fill_missing, grafted_of, policy_of

MANY = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
LIBS = {"grafty.libs/libz-a1b2c3d4.so.1.2.13": b"\x7fELF", "grafty.libs/libffi-0f1e.so.8": b"x"}


def test_policy_and_grafted_libraries_from_name_and_members() -> None:
    assert policy_of(f"grafty-1.0-{MANY}.whl") == "manylinux2014_x86_64 manylinux_2_17_x86_64"
    assert policy_of("pkg-1.0-cp312-cp312-musllinux_1_2_aarch64.whl") == "musllinux_1_2_aarch64"
    assert policy_of("pkg-1.0-py3-none-any.whl") == ""
    assert policy_of("pkg-1.0.tar.gz") == ""
    names = ["grafty/__init__.py", "grafty.libs/libb.so", "grafty.libs/liba.so", "x/y.libs/z.so"]
    assert grafted_of(names) == "liba.so\nlibb.so"  # only a top-level *.libs folder counts


def test_inspect_derives_the_facts(tmp_path: Path) -> None:
    built = make_wheel(tmp_path, "grafty", "1.0", tag=MANY, extra=LIBS)
    facts = inspect_file(built, built.name).facts
    assert facts.policy == "manylinux2014_x86_64 manylinux_2_17_x86_64"
    assert facts.grafted.splitlines() == ["libffi-0f1e.so.8", "libz-a1b2c3d4.so.1.2.13"]
    pure = make_wheel(tmp_path, "pure", "1.0")
    assert (
        inspect_file(pure, pure.name).facts.policy,
        inspect_file(pure, pure.name).facts.grafted,
    ) == ("", "")
    sdist = make_sdist(tmp_path, "pure", "1.0")
    assert inspect_file(sdist, sdist.name).facts.grafted == ""


def _facts(session) -> dict[str, tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    rows = session.execute(select(File.filename, File.platform_policy, File.grafted_libs))
    return {name: (policy, grafted) for name, policy, grafted in rows}


def test_stored_rows_migration_and_repair_backfill(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    store = LocalStore(tmp_path / "files")
    built = make_wheel(tmp_path, "grafty", "1.0", tag=MANY, extra=LIBS)
    sdist = make_sdist(tmp_path, "grafty", "1.0")
    with sessions() as s:
        with transaction(s):
            alice = accounts.create_user(s, "alice", "long enough password")
        with transaction(s):
            import_file(s, store, alice, ["main"], built)
            import_file(s, store, alice, ["main"], sdist)
        stored = _facts(s)
    libs = "libffi-0f1e.so.8\nlibz-a1b2c3d4.so.1.2.13"
    policy = "manylinux2014_x86_64 manylinux_2_17_x86_64"
    assert stored == {built.name: (policy, libs), sdist.name: ("", "")}

    # A yard from before 0007: down and up again; the policy comes back from the file name,
    # the grafted libraries wait for the repair that reads the wheel.
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006_build_records")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with sessions() as s:
        assert _facts(s) == {built.name: (policy, None), sdist.name: ("", "")}
        with transaction(s):
            filled, problems = fill_missing(s, store)
        assert (filled, problems) == (1, [])
        assert _facts(s) == stored
        with transaction(s):  # nothing left to derive
            assert fill_missing(s, store) == (0, [])
        with transaction(s):  # a row whose blob is not a wheel is reported, not guessed
            s.execute(update(File).where(File.kind == "wheel").values(grafted_libs=None))
            key = s.scalar(select(File.blob_key).where(File.kind == "wheel"))
        path = store.local_path(key)
        assert path is not None
        path.chmod(0o644)
        path.write_bytes(b"not a zip")
        with transaction(s):
            filled, problems = fill_missing(s, store)
        assert filled == 0 and len(problems) == 1 and built.name in problems[0]
