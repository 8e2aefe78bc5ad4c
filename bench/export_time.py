"""Time ``wheelyard export`` of one label to a folder (and with ``--s3`` to an S3 prefix on a
local moto_server): cold, unchanged, then incremental after one upload (goal: ≤ 2 s for a
20,000-file label).

    .venv/bin/python bench/export_time.py [--projects 2000 --versions 10] [--s3]
        [--uploads 3] [--label-dir DIR]

Not a test: it prints the figures. The label is loaded with ``import_file`` (SQLite + folder),
committed in units of 500 files (loading is not what is measured); ``--label-dir`` keeps the
loaded yard there and reuses it on the next run (~5 min saved; ``--load-only`` loads it
outside the benchmark lock). ``--uploads N`` repeats the
one-upload export N times (each its own upload). Last, per target: what reading the manifest
costs against listing the target, and writing it again, with its size.
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
from wheelyard.export import manifest
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
    parser.add_argument("--uploads", type=int, default=1, help="one-upload exports to time")
    parser.add_argument("--label-dir", type=Path, help="keep (and reuse) the loaded yard here")
    parser.add_argument(
        "--load-only", action="store_true", help="load --label-dir and stop (not measured)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wy-export-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        yard_dir = args.label_dir or work
        yard_dir.mkdir(parents=True, exist_ok=True)
        reuse = (yard_dir / "yard.db").exists()
        targets: dict[str, Target] = {"folder": FolderTarget(work / "export")}
        if args.s3:
            endpoint = stack.enter_context(s3_server(work / "moto.log", free_port()))
            os.environ.update(CREDENTIALS, WHEELYARD_S3_ENDPOINT_URL=endpoint)
            targets["s3"] = open_target(f"s3://{new_bucket(endpoint, versioned=False)}/snap")
        engine = make_engine(f"sqlite:///{yard_dir / 'yard.db'}")
        migrate(engine)
        store = LocalStore(yard_dir / "files")
        wheels = work / "wheels"
        wheels.mkdir()
        sessions = make_sessionmaker(engine)
        if not reuse:
            with unit_of_work(sessions) as unit:
                accounts.create_user(unit.session, "bench", "long enough password")
        start = time.perf_counter()
        total = 0 if reuse else args.projects * args.versions
        for first in range(0, total, BATCH):
            with unit_of_work(sessions) as unit:
                owner = accounts.get_owner(unit.session, "bench")
                for n in range(first, min(first + BATCH, total)):
                    p, v = divmod(n, args.versions)
                    wheel = make_wheel(wheels, f"proj{p:05d}", f"1.{v}")
                    import_file(unit.session, store, owner, ["main"], wheel)
                    wheel.unlink()
        print(
            f"{'reused' if reuse else 'loaded'} {total} files in "
            f"{time.perf_counter() - start:.0f} s "
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

        if args.load_only:
            return
        timed("cold")
        timed("unchanged")
        for n in range(args.uploads):
            with unit_of_work(sessions) as unit:
                owner = accounts.get_owner(unit.session, "bench")
                wheel = make_wheel(wheels, f"proj{n:05d}", f"9.{time.time_ns()}")
                import_file(unit.session, store, owner, ["main"], wheel)
            timed("incremental (one upload)")
        for name, target in targets.items():
            start = time.perf_counter()
            holding = manifest.load(target, "bench", "main")
            loaded = time.perf_counter() - start
            start = time.perf_counter()
            listed = target.keys()
            took_list = time.perf_counter() - start
            raw = target.read(manifest.MANIFEST) or b""
            start = time.perf_counter()
            target.put_bytes(manifest.MANIFEST, raw, "application/json")
            took_put = time.perf_counter() - start
            assert not holding.listed and set(holding.present) == listed - {manifest.MANIFEST}
            print(
                f"{name:<7}manifest of {len(raw) / 1e6:.2f} MB ({len(holding.present)} objects): "
                f"read+parse {loaded:.3f} s, write {took_put:.3f} s; listing the target "
                f"{took_list:.3f} s  (load {os.getloadavg()[0]:.2f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
