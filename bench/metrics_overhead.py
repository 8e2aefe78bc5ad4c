"""What /-/metrics costs on the hot path: requests/s and latency of random anonymous project
pages (wrk, 8 connections) with ``WHEELYARD_METRICS=off`` (no middleware at all) and ``public``
(every request counted and timed), with 1 worker and with 2 (prometheus_client's multiprocess
mode, file-backed counters). Run ``bash bench/setup.sh`` once (wrk), then
``.venv/bin/python bench/metrics_overhead.py [--seconds 8] [--projects 40]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from peers import REPO_BIN, start_wheelyard

from wheelyard.testing import make_wheel

OWNER = "bench"
WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""


def wrk(base: str, paths: Path, script: Path, seconds: int) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), base],
        env={**os.environ, "WRK_PATHS": str(paths)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\n\s+50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\n\s+99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--projects", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wy-metrics-bench-") as tmp:
        root = Path(tmp)
        data, dists = root / "data", root / "dists"
        dists.mkdir()
        env = {**os.environ, "WHEELYARD_DATA_DIR": str(data)}
        wy = [str(REPO_BIN / "wheelyard")]
        subprocess.run(
            [*wy, "user", "create", OWNER, "--create", "--password-stdin"],
            input="bench password 1\n",
            env=env,
            text=True,
            check=True,
            capture_output=True,
        )
        token = subprocess.run(
            [*wy, "token", "create", "--user", OWNER, "--name", "b", "--scopes", "pypi:upload"],
            env=env,
            text=True,
            check=True,
            capture_output=True,
        ).stdout.strip()
        names = [f"proj{i:03d}" for i in range(args.projects)]
        paths, script = root / "paths", root / "pick.lua"
        paths.write_text("".join(f"/{OWNER}/simple/{n}/\n" for n in names))
        script.write_text(WRK_LUA)
        results = []
        for workers in (1, 2):
            for mode in ("off", "public"):
                os.environ["WHEELYARD_METRICS"] = mode
                server = start_wheelyard(data, OWNER, workers=workers)
                base = server.index_url.removesuffix(f"/{OWNER}/simple/")
                try:
                    if not results:  # the first server loads the corpus
                        for n in names:
                            wheel = make_wheel(dists, n, "1.0")
                            httpx.post(
                                f"{base}/{OWNER}/",
                                auth=("__token__", token),
                                files={"content": (wheel.name, wheel.read_bytes())},
                            ).raise_for_status()
                    httpx.get(f"{base}/{OWNER}/simple/{names[0]}/").raise_for_status()
                    results.append((workers, mode, *wrk(base, paths, script, args.seconds)))
                finally:
                    server.stop()
        print(f"{'workers':>7} {'metrics':>7} {'req/s':>9} {'p50':>9} {'p99':>9}")
        for workers, mode, rps, p50, p99 in results:
            print(f"{workers:>7} {mode:>7} {rps:>9.0f} {p50:>9} {p99:>9}")


if __name__ == "__main__":
    main()
