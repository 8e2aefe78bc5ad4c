"""Upload and download of one big file through `wheelyard serve` on a folder and on S3
(moto_server on 127.0.0.1), with the server's peak memory: streams, not buffers.

    .venv/bin/python bench/storage_throughput.py [--mb 100]

Not a test: it prints a table. The S3 server is a local process, so the S3 figures measure
the yard's streaming path (and moto), not a network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import free_port, start_yard, stop_yard
from tests.s3server import new_bucket, s3_server, yard_env

from wheelyard.testing import make_wheel


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stream_file(path: Path, boundary: str):  # type: ignore[no-untyped-def]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    yield head
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def measure(name: str, env: dict[str, str], wheel: Path, work: Path) -> dict[str, float]:
    yard = start_yard(work / name, env)
    try:
        token = yard.user("bench")
        size_mb = wheel.stat().st_size / 2**20
        boundary = "benchboundary0123456789"
        start = time.perf_counter()
        r = httpx.post(
            f"{yard.url}/bench",
            content=_stream_file(wheel, boundary),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            auth=("__token__", token),
            timeout=600,
        )
        r.raise_for_status()
        up = time.perf_counter() - start
        page = httpx.get(
            f"{yard.url}/bench/simple/big-pkg/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        ).json()
        url = httpx.URL(f"{yard.url}/bench/simple/big-pkg/").join(page["files"][0]["url"])
        start = time.perf_counter()
        got = 0
        with httpx.stream("GET", url, timeout=600, follow_redirects=True) as response:
            for chunk in response.iter_bytes(1 << 20):
                got += len(chunk)
        down = time.perf_counter() - start
        assert got == wheel.stat().st_size
        return {
            "upload MB/s": size_mb / up,
            "download MB/s": size_mb / down,
            "server peak RSS MB": _peak_rss_mb(yard.process.pid),
        }
    finally:
        stop_yard(yard)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wy-bench-") as tmp:
        work = Path(tmp)
        (work / "w").mkdir()
        wheel = make_wheel(work / "w", "big-pkg", "1.0", padding=args.mb * 2**20)
        size = wheel.stat().st_size
        results = {"folder": measure("folder", {}, wheel, work)}
        with s3_server(work / "moto.log", free_port()) as endpoint:
            results["s3 streamed"] = measure(
                "s3", yard_env(endpoint, new_bucket(endpoint)), wheel, work
            )
            presign = {**yard_env(endpoint, new_bucket(endpoint)), "WHEELYARD_S3_PRESIGN": "1"}
            results["s3 presigned"] = measure("s3p", presign, wheel, work)
    print(f"{size / 2**20:.0f} MiB wheel")
    columns = ["upload MB/s", "download MB/s", "server peak RSS MB"]
    print(f"{'store':<14}" + "".join(f"{c:>20}" for c in columns))
    for name, row in results.items():
        print(f"{name:<14}" + "".join(f"{row[c]:>20.1f}" for c in columns))


if __name__ == "__main__":
    main()
