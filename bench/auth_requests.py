"""What authentication costs per request: requests/s and latency of token-authenticated
requests (``GET /api/user`` and a project page of the simple index, random among
``--projects``), with wrk at 2 and 8 connections, on SQLite and on PostgreSQL (a fresh
cluster on 127.0.0.1, as ``tests/postgres.py`` starts it), one ``serve --workers 1`` each.

``--src DIR`` (repeatable) runs the servers of another checkout's ``src`` side by side with
this one (``PYTHONPATH``), in interleaved rounds: the shared machine's load falls on each
alike. Run ``bash bench/setup.sh`` once (wrk), then
``.venv/bin/python bench/auth_requests.py [--src ../old/src] [--rounds 3] [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from peers import REPO_BIN, free_port, start_wheelyard, wrk
from tests.postgres import new_database, postgres_server

from wheelyard.testing import make_wheel

OWNER = "bench"
HERE_SRC = str(Path(__file__).resolve().parent.parent / "src")


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(REPO_BIN / "wheelyard"), *args],
        input=stdin,
        env=env,
        text=True,
        check=True,
        capture_output=True,
    )
    return done.stdout.strip()


def _yard(root: Path, src: str, database: str | None, projects: int) -> tuple[dict[str, str], str]:
    """A loaded yard for ``src``: its environment and a token."""
    env = {**os.environ, "PYTHONPATH": src, "WHEELYARD_DATA_DIR": str(root / "data")}
    if database is not None:
        env["WHEELYARD_DATABASE_URL"] = database
    _cli(env, "user", "create", OWNER, "--create", "--password-stdin", stdin="bench password 1\n")
    token = _cli(
        env, "token", "create", "--user", OWNER, "--name", "b", "--scopes", "api:read pypi:download"
    )
    dists = root / "dists"
    dists.mkdir()
    wheels = [str(make_wheel(dists, f"proj{i:03d}", "1.0")) for i in range(projects)]
    _cli(env, "import", OWNER, *wheels, "-l", "main")
    return env, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--src", action="append", default=[], help="another checkout's src")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--projects", type=int, default=40)
    args = parser.parse_args()
    trees = [HERE_SRC, *[str(Path(s).resolve()) for s in args.src]]
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="wy-auth-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        # Its own folder, outside the private temporary one: the cluster runs as postgres.
        pg_root = Path(tempfile.mkdtemp(prefix="wheelyard-bench-pg-"))
        stack.callback(shutil.rmtree, pg_root, True)
        admin = stack.enter_context(postgres_server(pg_root, free_port()))
        servers: dict[tuple[str, str], tuple[str, str]] = {}
        for t, src in enumerate(trees):
            for backend in ("sqlite", "postgres"):
                database = new_database(admin) if backend == "postgres" else None
                where = root / f"{t}-{backend}"
                env, token = _yard(where, src, database, args.projects)
                server = start_wheelyard(where / "data", OWNER, 1, env, f"auth-{t}-{backend}")
                stack.callback(server.stop)
                servers[(src, backend)] = (server.index_url.split(f"/{OWNER}/")[0], token)
        paths = {
            "/api/user": ["/api/user"],
            "project page": [f"/{OWNER}/simple/proj{i:03d}/" for i in range(args.projects)],
        }
        results: dict[tuple[str, str, str, int], list[dict[str, float]]] = {}
        for n in range(args.rounds):
            console.print(f"round {n + 1} of {args.rounds}")
            for (src, backend), (base, token) in servers.items():
                os.environ["WRK_AUTH"] = f"token {token}"
                for what, plist in paths.items():
                    for conns in (2, 8):
                        row = wrk(base, plist, conns, args.seconds)
                        assert row["errors"] == 0, f"{backend} {what}: non-2xx answers"
                        results.setdefault((src, backend, what, conns), []).append(row)
        table = Table(title=f"Token-authenticated requests, median of {args.rounds} rounds")
        for column in ("tree", "backend", "request", "conns", "req/s", "p50/p99 ms", "rounds"):
            table.add_column(column, justify="right")
        for (src, backend, what, conns), rows in results.items():
            rps = [r["rps"] for r in rows]
            mid = sorted(rows, key=lambda r: r["rps"])[len(rows) // 2]
            table.add_row(
                "this" if src == HERE_SRC else src,
                backend,
                what,
                str(conns),
                f"{statistics.median(rps):,.0f}",
                f"{mid['p50']:.2f}/{mid['p99']:.2f}",
                " ".join(f"{r:,.0f}" for r in rps),
            )
        console.print(table)


if __name__ == "__main__":
    main()
