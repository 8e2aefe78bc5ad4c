"""Every pip from 21.3 to the newest, and uv, install from public and private labels, JSON and HTML.

One test per client, each running four installs against one SQLite-backed server: a public
label and a private one (token in the URL), each once with the client's own Accept header and
once through a proxy that rewrites Accept to ``text/html``. Pips before 22.2 only ask for HTML;
pip >= 22.2 and uv prefer PEP 691 JSON, so the proxy is what gives the HTML pages to them.
The proxy records every exchange, and the test asserts which page format each case really
received and whether the client fetched the PEP 658 ``.metadata`` file.

Regression: pip 22.3 to 23.1 crashed on the legacy ``dist-info-metadata`` key being a dict in
the JSON pages (PEP 714). The venvs are cached (see ``tests/e2e/pipvenvs.py``); a pip that
cannot be installed (no network) is skipped with the reason, unless ``CI`` or
``WHEELYARD_REQUIRE_PIP_MATRIX`` is set, where it fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

from tests.e2e.pipvenvs import (
    LATEST,
    READY,
    AcceptProxy,
    Interpreter,
    Seen,
    ensure_venvs,
    find_interpreter,
    python_of,
)
from tests.helpers import BIN, Yard, client_env, start_yard, stop_yard, upload
from wheelyard.testing import make_wheel
from wheelyard.web.render import HTML, JSON_V1

pytestmark = pytest.mark.e2e

PIPS = [
    "21.3.1",
    "22.0.4",
    "22.2.2",
    "22.3.1",
    "23.0.1",
    "23.1.2",
    "23.2.1",
    "23.3.2",
    "24.0",
    "24.2",
]
PIPS.append(LATEST)
CLIENTS = [*PIPS, "uv"]
PROJECT = "matrix-pkg"
MODULE = "matrix_pkg"


def _required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("WHEELYARD_REQUIRE_PIP_MATRIX"))


@pytest.fixture(scope="module")
def interpreter() -> Interpreter:
    found = find_interpreter()
    if found is None:
        message = "no CPython 3.9-3.11 found (pips before 23.2 do not run on 3.12+)"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def pip_venvs(interpreter: Interpreter) -> dict[str, Path | str]:
    """Each pip's cached venv (built in parallel on first use), or why it could not be made."""
    return ensure_venvs(interpreter, PIPS)


@pytest.fixture(scope="module")
def matrix_yard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    server = start_yard(tmp_path_factory.mktemp("pipmatrix") / "data")
    yield server
    stop_yard(server)


@dataclass
class Proxies:
    native: AcceptProxy  # passes the client's Accept header through
    html: AcceptProxy  # forces text/html


@pytest.fixture(scope="module")
def proxies(matrix_yard: Yard) -> Iterator[Proxies]:
    both = Proxies(AcceptProxy(matrix_yard.url), AcceptProxy(matrix_yard.url, HTML))
    yield both
    both.native.close()
    both.html.close()


def _speaks_json(client: str, version: Version | None) -> bool:
    """PEP 691 JSON arrived in pip 22.2; uv always asks for it first."""
    return client == "uv" or (version is not None and version >= Version("22.2"))


def _uses_metadata(client: str, version: Version | None, got_json: bool) -> bool:
    """Whether the client should fetch the PEP 658 ``.metadata`` file.

    pip 22.3 added PEP 658 through the legacy names only (``data-dist-info-metadata`` in HTML,
    ``dist-info-metadata`` in JSON); pip 23.2 reads the PEP 714 ``core-metadata`` names. The
    yard, following PEP 714, keeps both HTML attributes but only ``core-metadata`` in JSON, so
    pip 22.3 to 23.1 use the metadata from HTML pages and download the wheel from JSON ones.
    """
    if client == "uv":
        return True
    assert version is not None
    if version < Version("22.3"):
        return False
    if version < Version("23.2"):
        return not got_json
    return True


def _install(
    client: str, venv: Path | None, interp: Interpreter, index: str, target: Path
) -> subprocess.CompletedProcess[str]:
    requirement = f"{PROJECT}==1.0"
    if client == "uv":
        cmd = [str(BIN / "uv"), "pip", "install", "--no-cache", "--python", interp.executable]
        cmd += ["--target", str(target), "--index-url", index, requirement]
    else:
        assert venv is not None
        cmd = [str(python_of(venv)), "-m", "pip", "install", "--no-cache-dir", "--no-input"]
        cmd += ["--disable-pip-version-check", "--target", str(target)]
        cmd += ["--index-url", index, requirement]
    return subprocess.run(cmd, env=client_env(), capture_output=True, text=True, timeout=180)


def _imported_version(python: str, target: Path) -> str:
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import {MODULE}; "
    code += f"print({MODULE}.__version__)"
    result = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or result.stderr.strip()


@pytest.mark.parametrize("client", CLIENTS)
def test_install_matrix(
    client: str,
    interpreter: Interpreter,
    pip_venvs: dict[str, Path | str],
    matrix_yard: Yard,
    proxies: Proxies,
    owner_name: str,
    tmp_path: Path,
) -> None:
    venv: Path | None = None
    version: Version | None = None
    if client != "uv":
        built = pip_venvs[client]
        if isinstance(built, str):
            if _required():
                pytest.fail(built)
            pytest.skip(built)
        venv = built
        version = Version((venv / READY).read_text().strip())

    yard = matrix_yard
    token = yard.user(owner_name)
    reader = yard.token(owner_name, "reader", "pypi:download")
    for v in ("1.0", "2.0"):
        wheel = make_wheel(tmp_path, PROJECT, v)
        upload(yard, f"{owner_name}/", token, wheel)  # label main, public
        upload(yard, f"{owner_name}/label/internal/", token, wheel)
    yard.cli("label", "private", owner_name, "internal")

    cases: dict[tuple[str, str], tuple[AcceptProxy, str, str]] = {}
    for mode, proxy in (("native", proxies.native), ("html", proxies.html)):
        host = proxy.url.removeprefix("http://")
        public, private = f"/{owner_name}/", f"/{owner_name}/label/internal/"
        cases[mode, "public"] = (proxy, public, f"{proxy.url}{public}simple")
        cases[mode, "private"] = (
            proxy,
            private,
            f"http://__token__:{reader}@{host}{private}simple",
        )
    # The private label really is private: anonymous readers get nothing.
    anonymous = httpx.get(f"{yard.url}/{owner_name}/label/internal/simple/{PROJECT}/")
    assert anonymous.status_code == 404

    def run_case(key: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        _proxy, _prefix, index = cases[key]
        return _install(client, venv, interpreter, index, tmp_path / "-".join(key))

    # Four independent installs; run together to keep the matrix fast.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(cases, pool.map(run_case, cases), strict=True))

    python = interpreter.executable if venv is None else str(python_of(venv))
    failures: list[str] = []
    for key, result in results.items():
        proxy, prefix, _index = cases[key]
        mode, label = key
        # Each case's requests, by path: files sit under the label, beside its simple/.
        seen = [
            s
            for s in proxy.requests(prefix)
            if label == "private" or not s.path.startswith(f"/{owner_name}/label/")
        ]
        where = f"{client} {mode} {label}"
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-6:])
            failures.append(f"{where}: install failed ({result.returncode}):\n{tail}")
            continue
        imported = _imported_version(python, tmp_path / "-".join(key))
        if imported != "1.0":
            failures.append(f"{where}: import gave {imported!r}")
        failures += _check_exchanges(where, client, version, mode, seen)
    assert not failures, "\n\n".join(failures)
    assert reader not in yard.log.read_text()


def _check_exchanges(
    where: str, client: str, version: Version | None, mode: str, seen: list[Seen]
) -> list[str]:
    """What the client received: page formats, the metadata file, the wheel."""
    problems: list[str] = []
    pages = [s for s in seen if s.path.endswith(f"/simple/{PROJECT}/")]
    got_json = mode == "native" and _speaks_json(client, version)
    want = JSON_V1 if got_json else HTML
    if not pages:
        problems.append(f"{where}: no project page requested: {seen}")
    for page in pages:
        if page.status != 200 or page.content_type.split(";")[0] != want:
            problems.append(f"{where}: wanted 200 {want}, got {page}")
        if mode == "html" and page.accept != HTML:
            problems.append(f"{where}: proxy did not force HTML: {page}")
    wheel = "/matrix_pkg-1.0-py3-none-any.whl"
    metadata = [s for s in seen if s.path.endswith(wheel + ".metadata")]
    downloads = [s for s in seen if s.path.endswith(wheel)]
    if not any(s.status in (200, 206) for s in downloads):
        problems.append(f"{where}: wheel not downloaded: {seen}")
    if _uses_metadata(client, version, got_json):
        if not metadata or any(s.status != 200 for s in metadata):
            problems.append(f"{where}: expected a 200 for the .metadata file: {seen}")
    elif metadata:
        problems.append(f"{where}: unexpected .metadata request: {metadata}")
    if any(s.status >= 400 for s in seen):
        problems.append(f"{where}: error responses: {[s for s in seen if s.status >= 400]}")
    return problems
