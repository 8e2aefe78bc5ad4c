"""Start and stop the index servers compared in the benchmarks, each on 127.0.0.1.

wheelyard (this checkout), nginx over a static PEP 503 tree, pypiserver (gunicorn workers +
cached-dir backend) and devpi-server. The peers come from PyPI into their own venv
(``bench/out/peers``) and nginx/wrk from Debian (``bench/setup.sh``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import httpx

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


def start_wheelyard(data_dir: Path, owner: str, workers: int = 2) -> Server:
    port = free_port()
    env = {**os.environ, "WHEELYARD_DATA_DIR": str(data_dir)}
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
        stdout=_log("wheelyard"),
        stderr=subprocess.STDOUT,
    )
    server = Server("wheelyard", f"http://127.0.0.1:{port}/{owner}/simple/", [proc])
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
