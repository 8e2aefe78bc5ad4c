"""Time ``wheelyard export`` of one label to a folder: cold, then incremental after one
upload (goal: ≤ 2 s for a 20,000-file label).

    .venv/bin/python bench/export_time.py [--projects 2000 --versions 10]

Not a test: it prints the figures. The label is loaded with ``import_file`` (SQLite + folder).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.export.snapshot import export_label
from wheelyard.export.targets import FolderTarget
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.importer import import_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wy-export-") as tmp:
        work = Path(tmp)
        engine = make_engine(f"sqlite:///{work / 'yard.db'}")
        migrate(engine)
        store = LocalStore(work / "files")
        wheels = work / "wheels"
        wheels.mkdir()
        with make_sessionmaker(engine)() as session:
            owner = accounts.create_user(session, "bench", "long enough password")
            session.commit()
            start = time.perf_counter()
            for p in range(args.projects):
                for v in range(args.versions):
                    wheel = make_wheel(wheels, f"proj{p:05d}", f"1.{v}")
                    import_file(session, store, owner, ["main"], wheel)
                    session.commit()
                    wheel.unlink()
            print(
                f"loaded {args.projects * args.versions} files in "
                f"{time.perf_counter() - start:.0f} s"
            )
            target = FolderTarget(work / "export")
            for run in ("cold", "unchanged"):
                start = time.perf_counter()
                done = export_label(session, store, target, "bench", "main")
                took = time.perf_counter() - start
                print(f"{run:<26}{took:8.2f} s  wrote {len(done.written)}")
            import_file(session, store, owner, ["main"], make_wheel(wheels, "proj00000", "9.9"))
            session.commit()
            start = time.perf_counter()
            done = export_label(session, store, target, "bench", "main")
            took = time.perf_counter() - start
            print(f"{'incremental (one upload)':<26}{took:8.2f} s  wrote {len(done.written)}")


if __name__ == "__main__":
    main()
