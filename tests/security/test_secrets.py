"""Secrets: build code never sees the upload token, and the CLI never renders user-controlled
text as terminal markup or control sequences."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from tests.helpers import BIN, Yard, client_env, run, start_yard, stop_yard
from wheelyard.builder.interpreters import discover
from wheelyard.builder.progress import PlainReporter, Row, final_table
from wheelyard.builder.runners.host import HostRunner
from wheelyard.cli.terminal import SafeConsole
from wheelyard.testing import write_tar_gz

pytestmark = pytest.mark.e2e

# The build backend of a hostile sdist: while pip asks it for metadata (resolution) and while
# it builds, it reads what a same-user process can read of every process from itself up to
# pid 1 — environment, command line, and a token hand-off pipe named in an environment — and
# writes all of it, unfiltered, to a report the test searches for the token.
_SPY = """\
import base64, hashlib, json, os, zipfile

REPORT = {report!r}
META = "Metadata-Version: 2.1\\nName: spypkg\\nVersion: 1.0\\n\\n"
INFO = "spypkg-1.0.dist-info"


def _read(path):
    try:
        flags = os.O_RDONLY | os.O_NONBLOCK
        fd = os.open(path, flags)
        try:
            return os.read(fd, 1 << 20).decode("utf-8", "replace")
        finally:
            os.close(fd)
    except OSError as exc:
        return "unreadable: " + type(exc).__name__


def _parent(pid):
    stat = open(f"/proc/{{pid}}/stat").read()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _spy(stage):
    seen, pid = [], os.getpid()
    while True:
        entry = {{"stage": stage, "pid": pid}}
        entry["environ"] = _read(f"/proc/{{pid}}/environ")
        entry["cmdline"] = _read(f"/proc/{{pid}}/cmdline")
        for var in entry["environ"].split("\\0"):
            name, _, value = var.partition("=")
            if name.endswith("TOKEN_FD") and value.isdigit():
                entry["handoff"] = _read(f"/proc/{{pid}}/fd/{{value}}")
        seen.append(entry)
        if pid == 1:
            break
        pid = _parent(pid)
    with open(REPORT, "a") as fh:
        fh.write(json.dumps(seen) + "\\n")


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _spy("metadata")
    os.makedirs(os.path.join(metadata_directory, INFO), exist_ok=True)
    with open(os.path.join(metadata_directory, INFO, "METADATA"), "w") as fh:
        fh.write(META)
    return INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _spy("build")
    wheel = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = {{"spypkg/__init__.py": b"", f"{{INFO}}/METADATA": META.encode(),
             f"{{INFO}}/WHEEL": wheel}}
    name = "spypkg-1.0-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{{path}},sha256={{digest.decode()}},{{len(data)}}")
        record.append(f"{{INFO}}/RECORD,,")
        zf.writestr(f"{{INFO}}/RECORD", "\\n".join(record) + "\\n")
    return name
"""


def _spy_sdist(directory: Path, report: Path) -> Path:
    files = {
        "spypkg-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: spypkg\nVersion: 1.0\n\n",
        "spypkg-1.0/pyproject.toml": (
            # Version and dependencies are dynamic, so a resolver must ask the backend (the spy):
            # static ones would let uv resolve without running any of the package's code.
            b'[project]\nname = "spypkg"\ndynamic = ["version", "dependencies"]\n\n'
            b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        "spypkg-1.0/backend.py": _SPY.format(report=str(report)).encode(),
    }
    return write_tar_gz(directory / "spypkg-1.0.tar.gz", files)


@pytest.fixture
def own_yard(tmp_path: Path) -> Iterator[Yard]:
    """A yard of this test's own (SQLite): the builder's token handling is not per database."""
    server = start_yard(tmp_path / "yard-data")
    try:
        yield server
    finally:
        stop_yard(server)


@pytest.fixture
def readable_src() -> Iterator[Path]:
    """The package's source where an unprivileged user can read it (a checkout, like CI's,
    may sit below a folder only root may enter)."""
    root = Path(tempfile.mkdtemp(prefix="wheelyard-src-"))
    shutil.copytree(
        Path(__file__).parents[2] / "src" / "wheelyard",
        root / "wheelyard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


class TestBuildNeverSeesTheToken:
    """The token reaches the yard; no process the build runs in or under can read it."""

    @pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
    @pytest.mark.parametrize("source", ["environment", "token-file"])
    def test_upload_succeeds_and_no_ancestor_holds_the_token(
        self, tmp_path: Path, own_yard: Yard, source: str
    ) -> None:
        token = own_yard.user("builder")
        report = tmp_path / "spy.jsonl"
        dists = tmp_path / "dists"
        dists.mkdir()
        _spy_sdist(dists, report)
        (tmp_path / "requirements.txt").write_text(
            "--no-index\n--find-links ./dists\nspypkg==1.0\n"
        )
        host = HostRunner(client_env())
        newest = [i for i in discover(host) if i.version[:2] >= (3, 9)][-1].executable
        house = tmp_path / "wheelhouse"
        command = [
            str(BIN / "wheelyard"),
            "build",
            str(tmp_path),
            "--wheelhouse",
            str(house),
            "--python",
            str(newest),
            "--url",
            own_yard.url,
            "--owner",
            "builder",
            "--upload",
            "--label",
            "dev",
            "--report",
            str(tmp_path / "report.json"),
        ]
        if source == "environment":
            env = client_env(WHEELYARD_TOKEN=token, CI="true")
        else:
            secret_file = tmp_path / "token"
            secret_file.write_text(token + "\n")
            command += ["--token-file", str(secret_file)]
            env = client_env(CI="true")
        result = run(command, env=env, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

        # The upload worked: the label serves the wheel the spy built.
        page = httpx.get(
            f"{own_yard.url}/builder/label/dev/simple/spypkg/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            auth=("__token__", token),
        )
        assert page.status_code == 200, page.text
        assert [f["filename"] for f in page.json()["files"]] == ["spypkg-1.0-py3-none-any.whl"]
        published = json.loads((tmp_path / "report.json").read_text())["published"]
        assert [p["action"] for p in published] == ["uploaded"]

        # The spy ran while resolving and while building, and walked up to pid 1 through the
        # wheelyard process itself (so the search below is not vacuous).
        walks = [json.loads(line) for line in report.read_text().splitlines()]
        assert {walk[0]["stage"] for walk in walks} == {"metadata", "build"}
        for walk in walks:
            assert walk[-1]["pid"] == 1
            assert any("wheelyard\0build" in e["cmdline"] for e in walk), walk
        # ... and found the token nowhere: not in its own environment, not in any ancestor's
        # environment or command line, not in a hand-off pipe.
        leaks = [
            (e["stage"], e["pid"], part, e["cmdline"][:80])
            for walk in walks
            for e in walk
            for part in ("environ", "cmdline", "handoff")
            if token in e.get(part, "")
        ]
        assert leaks == []
        # Nor does it reach the logs or the progress output.
        logs = list((house / "logs").iterdir())
        assert logs
        assert all(token not in p.read_text(errors="replace") for p in logs)
        assert token not in result.stdout and token not in result.stderr

    @pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
    def test_hand_off_leaves_no_trace_in_environ_fds_or_children(self, tmp_path: Path) -> None:
        """The re-exec itself, in a process of its own: the new image's environment holds no
        token, the hand-off pipe is drained and closed before anything runs, a child started
        with every fd inherited gets nothing, the process refuses inspection, and the one
        function that obtains the token returns it."""
        script = textwrap.dedent(
            """
            import ctypes, json, os, subprocess, sys
            from wheelyard.builder import secret
            secret.seal(own_process=True)
            environ = open("/proc/self/environ", "rb").read().decode()
            listing = "import json, os; print(json.dumps(os.listdir('/proc/self/fd')))"
            child = subprocess.run(
                [sys.executable, "-c", listing],
                close_fds=False, capture_output=True, text=True,
            )
            libc = ctypes.CDLL(None)
            print(json.dumps({
                "environ": environ,
                "fds": sorted(os.listdir("/proc/self/fd")),
                "child_environ": dict(os.environ),
                "child_fds": child.stdout,
                "dumpable": libc.prctl(3, 0, 0, 0, 0),
                "token": secret.upload_token(),
            }))
            """
        )
        token = "wy_handoff_test_value_0123456789"
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "WHEELYARD_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
            pass_fds=(),
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        assert seen["token"] == token
        assert token not in seen["environ"]
        assert "WHEELYARD_TOKEN" not in seen["child_environ"]
        assert "WHEELYARD_TOKEN_FD" not in seen["child_environ"]
        # stdin, stdout, stderr and the listing's own fd: no hand-off pipe left open.
        assert len(seen["fds"]) == 4, seen["fds"]
        assert len(json.loads(seen["child_fds"])) == 4, seen["child_fds"]
        assert seen["dumpable"] == 0

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
    def test_sealed_process_refuses_inspection_to_same_user_children(
        self, readable_src: Path
    ) -> None:
        """Where no re-exec is possible (``main()`` called from Python), the token stays in the
        process's initial environment: the non-dumpable flag is what guards it. A child of the
        same (non-root) user can read neither that environment, nor the memory, nor the fds."""
        script = textwrap.dedent(
            """
            import json, os, subprocess, sys
            from wheelyard.builder import secret
            secret.seal(own_process=False)
            probe = (
                "import json, os, sys\\n"
                "seen = {}\\n"
                "for part in ('environ', 'mem', 'fd/0'):\\n"
                "    try:\\n"
                "        open(f'/proc/{os.getppid()}/{part}', 'rb').close()\\n"
                "        seen[part] = 'readable'\\n"
                "    except OSError as exc:\\n"
                "        seen[part] = type(exc).__name__\\n"
                "seen['own'] = 'WHEELYARD_TOKEN' in open('/proc/self/environ').read()\\n"
                "print(json.dumps(seen))\\n"
            )
            child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
            print(json.dumps({"child": json.loads(child.stdout), "token": secret.upload_token()}))
            """
        )
        token = "wy_fallback_test_value_0123456789"
        env = {"PATH": os.environ.get("PATH", ""), "WHEELYARD_TOKEN": token}
        command, user = [sys.executable, "-c", script], None
        if os.geteuid() == 0:  # root may read anything: probe as an ordinary user instead
            system = Path("/usr/bin/python3")
            if not system.exists():
                pytest.skip("running as root, and no system python to run as nobody")
            command, user = [str(system), "-c", script], 65534
            env["PYTHONPATH"] = str(readable_src)
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, user=user, cwd="/"
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        assert seen["token"] == token
        assert seen["child"] == {
            "environ": "PermissionError",
            "mem": "PermissionError",
            "fd/0": "PermissionError",
            "own": False,
        }


class TestTerminalOutputIsLiteral:
    """User-controlled names print as they are: no markup, no emoji codes, no escapes."""

    HOSTILE = ("[bold red]x[/]", "[link=http://evil.example]click[/link]", "ring\x1b]0;pwn\x07")

    def test_token_names_print_literally(self, tmp_path: Path, own_yard: Yard) -> None:
        own_yard.user("marked")
        for name in self.HOSTILE:
            own_yard.token("marked", name, "pypi:download")
        listing = own_yard.cli("token", "list", "--user", "marked").stdout
        assert "[bold red]x[/]" in listing
        assert "[link=http://evil.example]click[/link]" in listing
        assert "\x1b" not in listing and "\x07" not in listing
        assert "ring\\x1b]0;pwn\\x07" in listing
        revoked = own_yard.cli("token", "revoke", "--user", "marked", "[bold red]x[/]").stdout
        assert "[bold red]x[/]" in revoked

    def test_build_progress_and_summary_print_literally(self) -> None:
        row = Row(
            "[red]pkg[/]",
            "1.0",
            "3.12",
            "built",
            state="failed",
            filename=":smile:[link=http://evil.example]w.whl",
            detail="server said \x1b[2J[blink]boom",
        )
        stream = io.StringIO()
        PlainReporter(stream).update(row)
        line = stream.getvalue()
        assert "[red]pkg[/]" in line and "\x1b" not in line and "\\x1b[2J[blink]boom" in line
        # The summary table holds literal cells on any console, not only the CLI's own.
        plain = Console(file=io.StringIO(), width=300, force_terminal=True)
        plain.print(final_table([row]))
        table = plain.file.getvalue()  # type: ignore[attr-defined]
        assert "[red]pkg[/]" in table
        # The CLI's consoles print every string literally, whatever the caller asks for.
        console = SafeConsole(file=io.StringIO(), width=300, force_terminal=True)
        console.print("message [bold]from[/] the server :smile: \x1b[2J", markup=True)
        shown = console.file.getvalue()  # type: ignore[attr-defined]
        assert "message [bold]from[/] the server :smile: \\x1b[2J" in shown
        assert "\x1b[2J" not in shown
