"""Benchmark the web UI's read paths in-process on the benchmark corpus: search (yard/search.py)
across 2,000 projects, and the data behind the owner page and the 2,000-version package page
(yard/showcase.py), each as p50/p99 over repeated calls, for an anonymous reader, another
user and the owner. Goal: search < 50 ms.

The corpus is written straight into a fresh SQLite yard (rows only; no blobs are needed to
search): 2,000 projects × 10 versions, one wheel each, on ``main`` (every fifth also on
``dev``), every 50th project private, plus one project with 2,000 versions.
``.venv/bin/python bench/search.py [--projects 2000] [--rounds 200]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, FileLabel, Label, Owner, Package, Release
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.db.unit import transaction
from wheelyard.yard.access import owner_view
from wheelyard.yard.accounts import create_user
from wheelyard.yard.search import search
from wheelyard.yard.showcase import owner_page, package_page
from wheelyard.yard.tokens import Principal

WORDS = ["fast", "tiny", "async", "parser", "client", "toolkit", "numeric", "image", "cache"]


def build(session: Session, projects: int, versions: int, big: int) -> None:
    alice = create_user(session, "alice", "benchmark-password")
    create_user(session, "bob", "benchmark-password")
    session.flush()
    main = session.scalar(select(Label).where(Label.owner_id == alice.id, Label.name == "main"))
    assert main is not None
    dev = Label(owner_id=alice.id, name="dev")
    session.add(dev)
    session.flush()
    names = [f"proj-{i:05d}" for i in range(projects)] + ["bigproject"]
    session.execute(
        insert(Package),
        [
            {
                "owner_id": alice.id,
                "name": name,
                "display_name": name,
                "summary": f"A {WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} library",
                "private": i % 50 == 49,
            }
            for i, name in enumerate(names)
        ],
    )
    ids = dict(session.execute(select(Package.name, Package.id)).all())
    releases = [
        {"package_id": ids[name], "version": f"1.{v}"}
        for name in names
        for v in range(big if name == "bigproject" else versions)
    ]
    session.execute(insert(Release), releases)
    rel = session.execute(select(Release.id, Release.package_id, Release.version)).all()
    by_id = {pid: name for name, pid in ids.items()}
    files = []
    for rid, pid, version in rel:
        filename = f"{by_id[pid].replace('-', '_')}-{version}-py3-none-any.whl"
        files.append(
            {
                "owner_id": alice.id,
                "release_id": rid,
                "filename": filename,
                "kind": "wheel",
                "sha256": f"{rid:064x}",
                "size": 1000 + rid,
                "blob_key": f"x/{rid}",
                "uploader_id": alice.id,
            }
        )
    session.execute(insert(File), files)
    fids = session.execute(select(File.id, Release.package_id).join(Release)).all()
    links = [{"file_id": fid, "label_id": main.id} for fid, _pid in fids]
    links += [{"file_id": fid, "label_id": dev.id} for fid, pid in fids if pid % 5 == 0]
    session.execute(insert(FileLabel), links)


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--big-versions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--http", action="store_true", help="also measure the pages with wrk")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        engine = make_engine(f"sqlite:///{data_dir / 'yard.db'}")
        migrate(engine)
        sessions = make_sessionmaker(engine)
        started = time.perf_counter()
        with sessions() as session:
            with transaction(session):  # services only flush; the unit commits
                build(session, args.projects, args.versions, args.big_versions)
            owners = dict(session.execute(select(Owner.name, Owner.id)).all())
        built = time.perf_counter() - started
        readers = {
            "anonymous": None,
            "other user": Principal(owners["bob"], "bob", 0, "bench", ("all",)),
            "owner": Principal(owners["alice"], "alice", 0, "bench", ("all",)),
        }
        table = Table(title=f"web UI reads, {args.projects} projects (built in {built:.1f} s)")
        for column in ("what", "reader", "results", "p50 ms", "p99 ms"):
            table.add_column(column, justify="left" if column in ("what", "reader") else "right")
        queries = {
            "exact name": "proj-01234",
            "prefix (all)": "proj",
            "summary word": "parser",
            "no match": "zzzz",
        }
        worst = 0.0
        with sessions() as session:
            for reader, principal in readers.items():
                for label, query in queries.items():
                    count = len(search(session, principal, query))
                    p50, p99 = timed(partial(search, session, principal, query), args.rounds)
                    worst = max(worst, p99)
                    row = (f"search: {label}", reader, str(count), f"{p50:.1f}", f"{p99:.1f}")
                    table.add_row(*row)
                view = owner_view(session, principal, "alice")
                pages = {
                    "owner page data": partial(owner_page, session, view),
                    "2,000-version package data": partial(
                        package_page, session, view, "bigproject"
                    ),
                }
                for label, fn in pages.items():
                    p50, p99 = timed(fn, max(10, args.rounds // 10))
                    table.add_row(label, reader, "", f"{p50:.1f}", f"{p99:.1f}")
        Console().print(table)
        verdict = "met" if worst < 50 else "NOT met"
        print(f"search p99 worst case {worst:.1f} ms: goal < 50 ms {verdict}")
        engine.dispose()
        if args.http:
            http_pages(data_dir, args.seconds)
    return 0


def http_pages(data_dir: Path, seconds: int) -> None:
    """wrk against a real server on the corpus: the UI's pages beside the simple index."""
    sys.path.insert(0, str(Path(__file__).parent))
    from peers import start_wheelyard
    from simple_index import wrk

    server = start_wheelyard(data_dir, "alice")
    origin = server.index_url.split("/alice/")[0]
    pages = {
        "simple index: 2,000-version project": "/alice/simple/bigproject/",
        "UI package page: 2,000-version project": "/alice/package/bigproject/",
        "UI search page (matches all)": "/-/search?q=proj",
        "UI owner page (2,001 packages)": "/alice/",
        "UI home page": "/",
    }
    table = Table(title=f"pages over HTTP, wrk 16 connections, {seconds} s each")
    for column in ("page", "req/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "page" else "right")
    try:
        wrk(origin, list(pages.values()), 16, seconds)  # warm-up, discarded
        for label, path in pages.items():
            r = wrk(origin, [path], 16, seconds)
            table.add_row(label, f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}")
    finally:
        server.stop()
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
