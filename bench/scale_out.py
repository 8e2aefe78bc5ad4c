"""Benchmark the index beyond one machine: SQLite + folder vs PostgreSQL + S3 with one and two
server processes (downloads streamed and presigned) vs nginx serving a static export.

One run, same machine, same corpus, everything on 127.0.0.1: a real PostgreSQL (initdb, as
``tests/postgres.py`` starts it) and moto_server as the S3-compatible store (as
``tests/s3server.py`` does). Per setup: random project pages at 2 and 16 connections (wrk:
req/s, p50/p99) after a discarded warm-up, and ``pip install`` of 50 pinned projects into a
fresh target with no cache (best of ``--pip-runs`` rounds taken over all setups in turn: the
setups run side by side, so the shared machine's changing load falls on each alike).

Two servers share the load without a proxy: each wrk thread connects to one of them in turn
(``WRK_PORTS`` in ``peers.WRK_LUA``); pip, one sequential client, installs through the first.
Every setup runs two worker processes in all (one ``serve --workers 2``, or two ``serve
--workers 1``) on the machine's 2 shared cores.

    bash bench/setup.sh && .venv/bin/python bench/scale_out.py [--projects 500 --versions 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from peers import (
    OUT,
    REPO_BIN,
    Server,
    free_port,
    make_corpus,
    pip_install_time,
    start_nginx,
    start_wheelyard,
    wheelyard_load,
    wrk,
)
from tests.postgres import new_database, postgres_server
from tests.s3server import new_bucket, s3_server, yard_env

console = Console(width=170)
OWNER = "bench"


def _port(server: Server) -> int:
    return int(httpx.URL(server.index_url).port or 80)


def pages(servers: list[Server], projects: list[str], seconds: int) -> dict[str, float]:
    """Random project pages at 2 and 16 connections over ``servers`` (after a warm-up)."""
    first = servers[0]
    prefix = httpx.URL(first.index_url).path
    origin = first.index_url[: first.index_url.index(prefix)]
    ports = [_port(s) for s in servers] if len(servers) > 1 else None
    paths = [f"{prefix}{p}/" for p in projects]
    result: dict[str, float] = {"load_before": os.getloadavg()[0]}
    wrk(origin, paths, 16, seconds, ports)  # warm-up, discarded: every page cache filled
    for conns in (2, 16):
        r = wrk(origin, paths, conns, seconds, ports)
        result |= {
            f"rps{conns}": r["rps"],
            f"p50_{conns}": r["p50"],
            f"p99_{conns}": r["p99"],
            f"err{conns}": r["errors"],
        }
    result["load_after"] = os.getloadavg()[0]
    return result


def stop(servers: list[Server]) -> None:
    for server in servers:
        server.stop()


@contextmanager
def backends() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL cluster and moto_server: (admin database URL, S3 endpoint)."""
    # Not under bench/out: the cluster runs as the postgres user (tests/postgres.py).
    root = Path(tempfile.mkdtemp(prefix="wheelyard-bench-pg-"))
    try:
        with (
            postgres_server(root, free_port()) as admin,
            s3_server(OUT / "moto.log", free_port()) as endpoint,
        ):
            yield admin, endpoint
    finally:
        shutil.rmtree(root, ignore_errors=True)


def export_label(data: Path, dest: Path) -> float:
    """``wheelyard export`` of the SQLite yard's main label to ``dest``; seconds taken."""
    shutil.rmtree(dest, ignore_errors=True)
    env = {**os.environ, "WHEELYARD_DATA_DIR": str(data)}
    start = time.perf_counter()
    subprocess.run(
        [str(REPO_BIN / "wheelyard"), "export", OWNER, "main", "--to", str(dest)],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--pip-runs", type=int, default=3, help="pip rounds over the setups")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per setup")
    parser.add_argument(
        "--only",
        nargs="*",
        help="setups: nginx sqlite pg-1 pg-2 pg-1-presign pg-2-presign (default: all)",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rng = random.Random(42)

    corpus = OUT / f"corpus-{args.projects}x{args.versions}+0"
    files = make_corpus(corpus, args.projects, args.versions, 0)
    projects = [f"proj-{i:05d}" for i in range(args.projects)]
    pins = [f"proj-{i:05d}==1.{args.versions - 1}" for i in rng.sample(range(args.projects), 50)]
    console.print(f"corpus: {len(files)} wheels in {corpus}")

    # SQLite + folder, kept between runs like simple_index.py's; the static export is its label.
    sqlite = OUT / f"wheelyard-{corpus.name}"
    if not (sqlite / ".loaded").exists():
        shutil.rmtree(sqlite, ignore_errors=True)
        t0 = time.perf_counter()
        wheelyard_load(sqlite, OWNER, corpus)
        console.print(f"SQLite + folder import: {time.perf_counter() - t0:.0f} s")
        (sqlite / ".loaded").touch()
    static = OUT / f"export-{corpus.name}"
    console.print(f"wheelyard export to a folder: {export_label(sqlite, static):.1f} s")

    results: dict[str, dict[str, float]] = {}
    notes: dict[str, float] = {}
    with ExitStack() as stack:
        admin, endpoint = stack.enter_context(backends())
        pg_env = {
            "WHEELYARD_DATABASE_URL": new_database(admin),
            **yard_env(endpoint, new_bucket(endpoint)),
        }
        pg_data = OUT / "wheelyard-pg-s3"
        shutil.rmtree(pg_data, ignore_errors=True)
        t0 = time.perf_counter()
        wheelyard_load(pg_data, OWNER, corpus, pg_env)
        notes["pg_s3_load_s"] = time.perf_counter() - t0
        console.print(f"PostgreSQL + S3 import: {notes['pg_s3_load_s']:.0f} s")
        presign_env = {**pg_env, "WHEELYARD_S3_PRESIGN": "1"}
        half = max(1, args.workers // 2)

        def pair(env: dict[str, str], tag: str) -> list[Server]:
            servers: list[Server] = []
            try:
                for i in (1, 2):
                    servers.append(start_wheelyard(pg_data, OWNER, half, env, f"{tag}-{i}"))
            except BaseException:
                stop(servers)
                raise
            return servers

        setups: dict[str, Callable[[], list[Server]]] = {
            "nginx": lambda: [start_nginx(static, args.workers)],
            "sqlite": lambda: [start_wheelyard(sqlite, OWNER, args.workers, None, "sqlite")],
            "pg-1": lambda: [start_wheelyard(pg_data, OWNER, args.workers, pg_env, "pg-1")],
            "pg-2": lambda: pair(pg_env, "pg-2"),
            "pg-1-presign": lambda: [
                start_wheelyard(pg_data, OWNER, args.workers, presign_env, "pg-1-presign")
            ],
            "pg-2-presign": lambda: pair(presign_env, "pg-2-presign"),
        }
        # Every setup runs at once (idle ones cost next to nothing): wrk measures each in
        # turn, then pip installs go round the setups, so a change in the shared machine's
        # load falls on all of them alike; each setup's figure is its best round.
        started: dict[str, list[Server]] = {}
        try:
            for name, start in setups.items():
                if not args.only or name in args.only:
                    started[name] = start()
                    for server in started[name]:
                        httpx.get(server.index_url, timeout=600).raise_for_status()
            for name, servers in started.items():
                console.print(f"measuring pages: {name} …")
                results[name] = pages(servers, projects, args.seconds)
                console.print(results[name])
            installs: dict[str, list[float]] = {name: [] for name in started}
            for round_ in range(args.pip_runs):
                for name, servers in started.items():
                    installs[name].append(pip_install_time(servers[0].index_url, pins))
                console.print(
                    f"pip round {round_ + 1} (load {os.getloadavg()[0]:.2f}): "
                    + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in installs.items())
                )
            for name, times in installs.items():
                results[name]["pip50_s"] = min(times)
        finally:
            for servers in started.values():
                stop(servers)

    report(results, notes, args)
    (OUT / "scale_out.json").write_text(
        json.dumps({"results": results, "notes": notes, "args": vars(args)}, indent=2)
    )
    return 0


LABELS = {
    "nginx": "nginx, static export",
    "sqlite": "SQLite + folder, 1 server",
    "pg-1": "PostgreSQL + S3, 1 server, streamed",
    "pg-2": "PostgreSQL + S3, 2 servers, streamed",
    "pg-1-presign": "PostgreSQL + S3, 1 server, presigned",
    "pg-2-presign": "PostgreSQL + S3, 2 servers, presigned",
}


def report(
    results: dict[str, dict[str, float]], notes: dict[str, float], args: argparse.Namespace
) -> None:
    table = Table(
        title=f"Scale-out: {args.projects} projects × {args.versions} versions "
        f"(wrk {args.seconds}s per row, {args.workers} worker processes per setup, 2 cores shared)"
    )
    for col in (
        "setup",
        "req/s c2",
        "p50/p99 ms c2",
        "req/s c16",
        "p50/p99 ms c16",
        "pip 50 pins s",
        "load 1-min before/after",
    ):
        table.add_column(col, justify="right")
    for name, r in results.items():
        errors = r["err2"] + r["err16"]
        table.add_row(
            LABELS[name] + (f" ({errors:.0f} non-2xx!)" if errors else ""),
            f"{r['rps2']:,.0f}",
            f"{r['p50_2']:.2f}/{r['p99_2']:.2f}",
            f"{r['rps16']:,.0f}",
            f"{r['p50_16']:.2f}/{r['p99_16']:.2f}",
            f"{r['pip50_s']:.2f}",
            f"{r['load_before']:.2f}/{r['load_after']:.2f}",
        )
    console.print(table)
    if "pg_s3_load_s" in notes:
        console.print(f"PostgreSQL + S3 loaded in {notes['pg_s3_load_s']:.0f} s")
    base, static = results.get("sqlite"), results.get("nginx")
    for name, r in results.items():
        if not name.startswith("pg"):
            continue
        line = f"{LABELS[name]}:"
        if base:
            line += (
                f" pages ×{r['rps2'] / base['rps2']:.2f} (c2), ×{r['rps16'] / base['rps16']:.2f}"
                " (c16) of SQLite [goal ≥ 0.5]"
            )
        if static:
            line += f"; pip ×{r['pip50_s'] / static['pip50_s']:.2f} of nginx [goal ≤ 1.5]"
        console.print(line, markup=False)  # "[goal …]" is not rich markup


if __name__ == "__main__":
    raise SystemExit(main())
