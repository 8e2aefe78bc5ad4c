"""Benchmark the Simple API: wheelyard vs nginx (static tree), pypiserver and devpi-server.

One run, same machine, same corpus: requests/s and p50/p99 for random project pages at 2 and
16 connections (wrk), the index root, pip install of 50 pinned projects (fresh target, no
cache), the 2,000-version project page, and wheelyard's p99 at 100 vs 10,000 projects.
Run ``bash bench/setup.sh`` once, then ``.venv/bin/python bench/simple_index.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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
    start_devpi,
    start_nginx,
    start_pypiserver,
    start_wheelyard,
    write_static_tree,
)

from wheelyard.testing import make_wheel

console = Console(width=170)
WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
math.randomseed(tonumber(os.getenv("WRK_SEED") or "1"))
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""


def make_corpus(
    folder: Path, projects: int, versions: int, big_versions: int, prefix: str = "proj"
) -> list[Path]:
    """Small valid wheels: ``projects`` × ``versions`` plus one project with ``big_versions``."""
    stamp = folder / ".complete"
    if stamp.exists():
        return sorted(folder.glob("*.whl"))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for p in range(projects):
        for v in range(versions):
            make_wheel(folder, f"{prefix}-{p:05d}", f"1.{v}", requires_python=">=3.8")
    for v in range(big_versions):
        make_wheel(folder, "big-project", f"1.0.{v}")
    stamp.touch()
    return sorted(folder.glob("*.whl"))


def wheelyard_load(data_dir: Path, owner: str, files_dir: Path) -> None:
    env = {**os.environ, "WHEELYARD_DATA_DIR": str(data_dir)}
    wy = str(Path(sys.executable).parent / "wheelyard")
    subprocess.run(
        [wy, "user", "create", owner, "--password-stdin", "--create"],
        input="bench-password\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run([wy, "import", owner, str(files_dir)], env=env, check=True, capture_output=True)


def wrk(url_base: str, paths: list[str], connections: int, seconds: int) -> dict[str, float]:
    script = OUT / "random.lua"
    script.write_text(WRK_LUA)
    plist = OUT / "paths.txt"
    plist.write_text("\n".join(paths) + "\n")
    env = {**os.environ, "WRK_PATHS": str(plist)}
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url_base,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def pip_install_time(index_url: str, pins: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE="/dev/null", PIP_DISABLE_PIP_VERSION_CHECK="1")
    with tempfile.TemporaryDirectory() as target:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-cache-dir",
                "--target",
                target,
                "--index-url",
                index_url,
                *pins,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def page_time(url: str, repeats: int = 20) -> tuple[float, float]:
    """(first request, median of ``repeats`` more) in ms."""
    with httpx.Client(timeout=120) as client:
        t0 = time.perf_counter()
        client.get(url).raise_for_status()
        first = (time.perf_counter() - t0) * 1000
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(times)


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
