"""Benchmark the Simple API: wheelyard vs nginx (static tree), pypiserver and devpi-server.

One run, same machine, same corpus: requests/s and p50/p99 for random project pages at 2 and
16 connections (wrk), the index root, pip install of 50 pinned projects (fresh target, no
cache), the 2,000-version project page, and wheelyard's p99 at 100 vs 10,000 projects.
Run ``bash bench/setup.sh`` once, then ``.venv/bin/python bench/simple_index.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from peers import (
    OUT,
    Server,
    devpi_import,
    make_corpus,
    page_time,
    pip_install_time,
    start_devpi,
    start_nginx,
    start_pypiserver,
    start_wheelyard,
    wheelyard_load,
    write_static_tree,
    wrk,
)

console = Console(width=170)


def measure(server: Server, projects: list[str], pins: list[str], seconds: int) -> dict[str, float]:
    prefix = httpx.URL(server.index_url).path
    origin = server.index_url[: server.index_url.index(prefix)]
    paths = [f"{prefix}{p}/" for p in projects]
    result: dict[str, float] = {}
    wrk(origin, paths, 16, seconds)  # warm-up, discarded: every server measured in steady state
    for conns in (2, 16):
        r = wrk(origin, paths, conns, seconds)
        result |= {
            f"rps{conns}": r["rps"],
            f"p50_{conns}": r["p50"],
            f"p99_{conns}": r["p99"],
            f"err{conns}": r["errors"],
        }
    root = wrk(origin, [prefix], 2, max(3, seconds // 2))
    result["root_rps"] = root["rps"]
    result["root_p50"] = root["p50"]
    big_first, big_median = page_time(f"{server.index_url}big-project/")
    result["big_first_ms"], result["big_ms"] = big_first, big_median
    result["pip50_s"] = pip_install_time(server.index_url, pins)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--big-versions", type=int, default=2000)
    parser.add_argument("--scale", type=int, default=10000, help="projects in the scaling test")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument(
        "--only",
        nargs="*",
        help="parts to run: nginx wheelyard pypiserver devpi scaling (default: all)",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rng = random.Random(42)

    console.print("generating corpus …")
    corpus_dir = OUT / f"corpus-{args.projects}x{args.versions}+{args.big_versions}"
    files = make_corpus(corpus_dir, args.projects, args.versions, args.big_versions)
    projects = [f"proj-{i:05d}" for i in range(args.projects)]
    pins = [f"proj-{i:05d}==1.{args.versions - 1}" for i in rng.sample(range(args.projects), 50)]
    write_static_tree(files, OUT / "static")

    starters: dict[str, Callable[[], Server]] = {}

    def wheelyard_main() -> Server:
        data = OUT / f"wheelyard-{corpus_dir.name}"
        if not (data / ".loaded").exists():
            shutil.rmtree(data, ignore_errors=True)
            t0 = time.perf_counter()
            wheelyard_load(data, "bench", corpus_dir)
            console.print(
                f"wheelyard import: {len(files)} files in {time.perf_counter() - t0:.0f} s"
            )
            (data / ".loaded").touch()
        return start_wheelyard(data, "bench")

    def devpi_main() -> Server:
        serverdir = OUT / f"devpi-{corpus_dir.name}"
        if not (serverdir / ".loaded").exists():
            t0 = time.perf_counter()
            devpi_import(files, serverdir)
            console.print(f"devpi-import: {len(files)} files in {time.perf_counter() - t0:.0f} s")
            (serverdir / ".loaded").touch()
        return start_devpi(serverdir, fresh=False)

    starters["nginx"] = lambda: start_nginx(OUT / "static")
    starters["wheelyard"] = wheelyard_main
    starters["pypiserver"] = lambda: start_pypiserver(corpus_dir)
    starters["devpi"] = devpi_main

    results: dict[str, dict[str, float]] = {}
    for name, start in starters.items():
        if args.only and name not in args.only:
            continue
        console.print(f"measuring {name} …")
        server = start()
        try:
            httpx.get(server.index_url, timeout=600)  # let lazy caches fill before timing
            results[name] = measure(server, projects, pins, args.seconds)
        finally:
            server.stop()
        console.print(results[name])

    scaling: dict[str, float] = {}
    if not args.only or "scaling" in args.only:
        scale_dir = OUT / f"scale-{args.scale}"
        scale_files = make_corpus(scale_dir, args.scale, 1, 0, prefix="s")
        data = OUT / f"wheelyard-scale-{args.scale}"
        if not (data / ".loaded").exists():
            shutil.rmtree(data, ignore_errors=True)
            small = OUT / "scale-100"
            shutil.rmtree(small, ignore_errors=True)
            small.mkdir()
            for f in scale_files[:100]:
                (small / f.name).symlink_to(f.absolute())
            wheelyard_load(data, "large", scale_dir)
            wheelyard_load(data, "small", small)
            (data / ".loaded").touch()
        server = start_wheelyard(data, "large")
        try:
            origin = server.index_url.split("/large/")[0]
            for owner, count in (("small", 100), ("large", args.scale)):
                paths = [f"/{owner}/simple/s-{i:05d}/" for i in range(count)]
                cold = wrk(origin, paths, 16, args.seconds)  # pages rendered on first touch
                wrk(origin, paths, 16, args.seconds)  # finish warming: random picks leave gaps
                warm = wrk(origin, paths, 16, args.seconds)
                scaling[f"{owner}_cold_p99"] = cold["p99"]
                scaling[f"{owner}_cold_rps"] = cold["rps"]
                scaling[f"{owner}_p99"], scaling[f"{owner}_rps"] = warm["p99"], warm["rps"]
        finally:
            server.stop()

    report(results, scaling, args)
    (OUT / "results.json").write_text(
        json.dumps({"results": results, "scaling": scaling, "args": vars(args)}, indent=2)
    )
    return 0


def report(
    results: dict[str, dict[str, float]], scaling: dict[str, float], args: argparse.Namespace
) -> None:
    table = Table(
        title=f"Simple API: {args.projects} projects × {args.versions} versions "
        f"+ 1 × {args.big_versions} (wrk {args.seconds}s per row, 2 cores shared)"
    )
    for col in (
        "server",
        "req/s c2",
        "p50/p99 ms c2",
        "req/s c16",
        "p50/p99 ms c16",
        "root req/s",
        "2000-ver page ms (first/median)",
        "pip 50 pins s",
    ):
        table.add_column(col, justify="right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['rps2']:,.0f}",
            f"{r['p50_2']:.2f}/{r['p99_2']:.2f}",
            f"{r['rps16']:,.0f}",
            f"{r['p50_16']:.2f}/{r['p99_16']:.2f}",
            f"{r['root_rps']:,.0f}",
            f"{r['big_first_ms']:.1f}/{r['big_ms']:.1f}",
            f"{r['pip50_s']:.2f}",
        )
    console.print(table)
    if "wheelyard" in results:
        wy = results["wheelyard"]
        for peer in ("nginx", "pypiserver", "devpi"):
            if peer in results:
                p = results[peer]
                console.print(
                    f"wheelyard / {peer}: req/s c16 ×{wy['rps16'] / p['rps16']:.2f}, "
                    f"c2 ×{wy['rps2'] / p['rps2']:.2f}, "
                    f"pip install time ×{wy['pip50_s'] / p['pip50_s']:.2f}"
                )
    if scaling:
        for phase, key in (("first pass (cold)", "_cold"), ("steady state", "")):
            small, large = scaling[f"small{key}_p99"], scaling[f"large{key}_p99"]
            console.print(
                f"wheelyard p99 at c16, {phase}: 100 projects {small:.2f} ms "
                f"({scaling[f'small{key}_rps']:,.0f} req/s), {args.scale} projects {large:.2f} ms "
                f"({scaling[f'large{key}_rps']:,.0f} req/s), ratio {large / small:.2f}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
