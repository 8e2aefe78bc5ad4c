"""Time ``wheelyard export`` of one label to a folder (and with ``--s3`` to an S3 prefix on a
local moto_server): cold, unchanged, then incremental after one upload (goal: ≤ 2 s for a
20,000-file label).

    .venv/bin/python bench/export_time.py [--projects 2000 --versions 10] [--s3]

Not a test: it prints the figures. The label is loaded with ``import_file`` (SQLite + folder),
committed in units of 500 files (loading is not what is measured).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import free_port
from tests.s3server import CREDENTIALS, new_bucket, s3_server

from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import unit_of_work
from wheelyard.export.snapshot import export_label
from wheelyard.export.targets import FolderTarget, Target, open_target
from wheelyard.storage.local import LocalStore
from wheelyard.testing import make_wheel
from wheelyard.yard import accounts
from wheelyard.yard.importer import import_file

BATCH = 500  # files per commit while loading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--s3", action="store_true", help="also export to an S3 prefix (moto)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wy-export-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        targets: dict[str, Target] = {"folder": FolderTarget(work / "export")}
        if args.s3:
            endpoint = stack.enter_context(s3_server(work / "moto.log", free_port()))
            os.environ.update(CREDENTIALS, WHEELYARD_S3_ENDPOINT_URL=endpoint)
            targets["s3"] = open_target(f"s3://{new_bucket(endpoint, versioned=False)}/snap")
        engine = make_engine(f"sqlite:///{work / 'yard.db'}")
        migrate(engine)
        store = LocalStore(work / "files")
        wheels = work / "wheels"
        wheels.mkdir()
        sessions = make_sessionmaker(engine)
        with unit_of_work(sessions) as unit:
            accounts.create_user(unit.session, "bench", "long enough password")
        start = time.perf_counter()
        total = args.projects * args.versions
        for first in range(0, total, BATCH):
            with unit_of_work(sessions) as unit:
                owner = accounts.get_owner(unit.session, "bench")
                for n in range(first, min(first + BATCH, total)):
                    p, v = divmod(n, args.versions)
                    wheel = make_wheel(wheels, f"proj{p:05d}", f"1.{v}")
                    import_file(unit.session, store, owner, ["main"], wheel)
                    wheel.unlink()
        print(
            f"loaded {total} files in {time.perf_counter() - start:.0f} s "
            f"(load {os.getloadavg()[0]:.2f})",
            flush=True,
        )

        def timed(run: str) -> None:
            for name, target in targets.items():
                start = time.perf_counter()
                with unit_of_work(sessions) as unit:
                    done = export_label(unit.session, store, target, "bench", "main")
                took = time.perf_counter() - start
                print(
                    f"{name:<7}{run:<26}{took:8.2f} s  wrote {len(done.written)}, "
                    f"deleted {len(done.deleted)}  (load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )

        timed("cold")
        timed("unchanged")
        with unit_of_work(sessions) as unit:
            owner = accounts.get_owner(unit.session, "bench")
            import_file(
                unit.session, store, owner, ["main"], make_wheel(wheels, "proj00000", "9.9")
            )
        timed("incremental (one upload)")


if __name__ == "__main__":
    main()
