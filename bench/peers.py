"""Start and stop the index servers compared in the benchmarks, each on 127.0.0.1, and the
measuring tools the index benchmarks share (corpus, loading, wrk, pip install, page times).

wheelyard (this checkout), nginx over a static PEP 503 tree, pypiserver (gunicorn workers +
cached-dir backend) and devpi-server. The peers come from PyPI into their own venv
(``bench/out/peers``) and nginx/wrk from Debian (``bench/setup.sh``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import httpx

from wheelyard.testing import make_wheel

HERE = Path(__file__).parent
OUT = HERE / "out"
PEERS = OUT / "peers"
REPO_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    index_url: str  # the simple index root, with a trailing slash
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"server for {url} exited")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _log(name: str) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    return os.open(OUT / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def start_wheelyard(
    data_dir: Path,
    owner: str,
    workers: int = 2,
    env: dict[str, str] | None = None,
    name: str = "wheelyard",
) -> Server:
    """``wheelyard serve --workers N`` on ``data_dir`` (plus ``env``: database, storage)."""
    port = free_port()
    env = {**os.environ, "WHEELYARD_DATA_DIR": str(data_dir), **(env or {})}
    proc = subprocess.Popen(
        [
            str(REPO_BIN / "wheelyard"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env=env,
        stdout=_log(name),
        stderr=subprocess.STDOUT,
    )
    server = Server(name, f"http://127.0.0.1:{port}/{owner}/simple/", [proc])
    wait_ready(f"http://127.0.0.1:{port}/-/health", server.procs)
    return server


def write_static_tree(files: list[Path], root: Path) -> None:
    """A PEP 503 tree: simple/<project>/index.html linking ../../files/<name>#sha256=…"""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    if root.exists():
        shutil.rmtree(root)
    (root / "simple").mkdir(parents=True)
    (root / "files").symlink_to(files[0].parent.absolute())
    projects: dict[str, list[Path]] = {}
    for f in files:
        projects.setdefault(canonicalize_name(parse_wheel_filename(f.name)[0]), []).append(f)
    for name, dists in projects.items():
        links = "".join(
            f'<a href="../../files/{escape(d.name)}#sha256='
            f'{hashlib.sha256(d.read_bytes()).hexdigest()}">{escape(d.name)}</a><br/>\n'
            for d in sorted(dists)
        )
        page = root / "simple" / name
        page.mkdir()
        (page / "index.html").write_text(
            f"<!DOCTYPE html><html><body><h1>Links for {name}</h1>\n{links}</body></html>\n"
        )
    rows = "".join(f'<a href="{n}/">{n}</a><br/>\n' for n in sorted(projects))
    (root / "simple" / "index.html").write_text(
        f"<!DOCTYPE html><html><body>\n{rows}</body></html>\n"
    )


def start_nginx(root: Path, workers: int = 2) -> Server:
    port = free_port()
    conf = OUT / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
pid {OUT / "nginx.pid"};
error_log {OUT / "nginx-error.log"};
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=20000 inactive=60s;
  default_type application/octet-stream;
  types {{ text/html html; }}
  client_body_temp_path {OUT / "nginx-tmp"};
  proxy_temp_path {OUT / "nginx-tmp"};
  fastcgi_temp_path {OUT / "nginx-tmp"};
  uwsgi_temp_path {OUT / "nginx-tmp"};
  scgi_temp_path {OUT / "nginx-tmp"};
  server {{
    listen 127.0.0.1:{port};
    root {root.absolute()};
    location / {{ index index.html; }}
  }}
}}
""")
    (OUT / "nginx-tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off;"],
        stdout=_log("nginx"),
        stderr=subprocess.STDOUT,
    )
    server = Server("nginx", f"http://127.0.0.1:{port}/simple/", [proc])
    wait_ready(server.index_url, server.procs)
    return server


def start_pypiserver(files_dir: Path, workers: int = 2) -> Server:
    port = free_port()
    app = f'pypiserver:app(roots=["{files_dir.absolute()}"], backend_arg="cached-dir")'
    proc = subprocess.Popen(
        [str(PEERS / "bin" / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", app],
        stdout=_log("pypiserver"),
        stderr=subprocess.STDOUT,
    )
    server = Server("pypiserver", f"http://127.0.0.1:{port}/simple/", [proc])
    wait_ready(server.index_url, server.procs, timeout=600)
    return server


def devpi_import(files: list[Path], serverdir: Path) -> None:
    """Load files into a new devpi server dir via devpi-import (uploading one by one takes
    hours: every upload to a 2,000-version project rewrites its metadata)."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    dump = OUT / "devpi-export"
    if dump.exists():
        shutil.rmtree(dump)
    projects: dict[str, dict[str, dict[str, str]]] = {}
    entries = []
    for f in files:
        name, version, _b, _t = parse_wheel_filename(f.name)
        project, ver = canonicalize_name(name), str(version)
        projects.setdefault(project, {})[ver] = {"name": project, "version": ver}
        relpath = f"root/bench/{project}/{ver}/{f.name}"
        (dump / relpath).parent.mkdir(parents=True, exist_ok=True)
        os.link(f, dump / relpath)
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        entries.append(
            {
                "version": ver,
                "type": "releasefile",
                "projectname": project,
                "relpath": relpath,
                "log": [],
                "entrymapping": {
                    "hash_spec": f"sha256={digest}",
                    "hashes": {"sha256": digest},
                    "last_modified": "Tue, 24 Nov 2026 12:00:00 GMT",
                    "project": project,
                    "version": ver,
                },
            }
        )
    index = {
        "indexconfig": {
            "type": "stage",
            "bases": [],
            "volatile": True,
            "acl_upload": ["root"],
            "mirror_whitelist": [],
        },
        "projects": projects,
        "files": entries,
    }
    data = {
        "dumpversion": "2",
        "pythonversion": [*sys.version_info[:3], "final", 0],
        "devpi_server": "6.20.3",
        "users": {"root": {"username": "root"}},
        "indexes": {"root/bench": index},
    }
    (dump / "dataindex.json").write_text(__import__("json").dumps(data))
    if serverdir.exists():
        shutil.rmtree(serverdir)
    subprocess.run(
        [
            str(PEERS / "bin" / "devpi-import"),
            "--serverdir",
            str(serverdir),
            "--no-root-pypi",
            "--root-passwd",
            "bench",
            str(dump),
        ],
        check=True,
        stdout=_log("devpi-import"),
        stderr=subprocess.STDOUT,
    )
    shutil.rmtree(dump)


def start_devpi(serverdir: Path, fresh: bool) -> Server:
    port = free_port()
    if fresh and serverdir.exists():
        shutil.rmtree(serverdir)
    if not (serverdir / ".nodeinfo").exists():
        subprocess.run(
            [
                str(PEERS / "bin" / "devpi-init"),
                "--serverdir",
                str(serverdir),
                "--no-root-pypi",
                "--root-passwd",
                "bench",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    proc = subprocess.Popen(
        [
            str(PEERS / "bin" / "devpi-server"),
            "--serverdir",
            str(serverdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--offline-mode",
        ],
        stdout=_log("devpi"),
        stderr=subprocess.STDOUT,
    )
    server = Server("devpi", f"http://127.0.0.1:{port}/root/bench/+simple/", [proc])
    wait_ready(f"http://127.0.0.1:{port}/+api", server.procs)
    return server


# wrk: random paths from WRK_PATHS; with WRK_PORTS ("8001 8002") each wrk thread connects to
# the next port in turn, so several servers share the load without a proxy in between.
WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
math.randomseed(tonumber(os.getenv("WRK_SEED") or "1"))
local auth = os.getenv("WRK_AUTH")  -- an Authorization header for every request, if set
local headers = auth and {["Authorization"] = auth} or nil
request = function() return wrk.format("GET", paths[math.random(#paths)], headers) end
local ports, spread = {}, 0
for port in string.gmatch(os.getenv("WRK_PORTS") or "", "%d+") do ports[#ports + 1] = port end
setup = function(thread)
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", ports[spread % #ports + 1])[1]
    spread = spread + 1
  end
end
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


def wheelyard_load(
    data_dir: Path, owner: str, files_dir: Path, env: dict[str, str] | None = None
) -> None:
    """Create ``owner`` and ``wheelyard import`` every file of ``files_dir`` into its main."""
    env = {**os.environ, "WHEELYARD_DATA_DIR": str(data_dir), **(env or {})}
    wy = str(REPO_BIN / "wheelyard")
    subprocess.run(
        [wy, "user", "create", owner, "--password-stdin", "--create"],
        input="bench-password\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run([wy, "import", owner, str(files_dir)], env=env, check=True, capture_output=True)


def wrk(
    url_base: str,
    paths: list[str],
    connections: int,
    seconds: int,
    ports: list[int] | None = None,
) -> dict[str, float]:
    """req/s, p50/p99 (ms) and non-2xx/3xx answers of ``wrk`` on random ``paths``; with
    ``ports``, its two threads spread over those servers (one port per thread, in turn)."""
    script = OUT / "random.lua"
    script.write_text(WRK_LUA)
    plist = OUT / "paths.txt"
    plist.write_text("\n".join(paths) + "\n")
    env = {**os.environ, "WRK_PATHS": str(plist), "WRK_PORTS": " ".join(map(str, ports or []))}
    threads = max(2, len(ports or []))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(max(connections, threads)),
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
    """Seconds for ``pip install --target`` of ``pins`` from ``index_url`` alone: a fresh
    target, no cache, no configuration of this machine (PIP_CONFIG_FILE=/dev/null)."""
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
