"""Shared fixtures (a real server, a real PostgreSQL) and the rule that keeps ``-m "not e2e"`` a
fast unit run: a test that starts a server or drives a real client must carry the e2e marker.

Plain helpers (clients, ``start_yard``, ``upload``...) live in ``tests/helpers.py``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy.orm import Session, sessionmaker

from tests import helpers
from tests.helpers import (  # noqa: F401  # BIN, client_env and run: tests/builder imports them here
    BIN,
    REMOVAL_DELAY,
    Yard,
    client_env,
    free_port,
    run,
    start_yard,
    stop_yard,
)
from tests.postgres import new_database, postgres_server, server_bin
from tests.s3server import new_bucket, s3_server, yard_env
from wheelyard.db.session import make_engine, make_sessionmaker, migrate

# Hypothesis: CI keeps the full example counts; a developer's run draws a tenth of them.
# Tests scale their counts by ``settings().max_examples`` (tests/security/test_properties.py).
settings.register_profile("ci", max_examples=100)
settings.register_profile("dev", max_examples=10)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

# `wheelyard build` builds in containers wherever docker or podman answers (the default runner,
# builder/runners/__init__.py). Tests build on the host unless they say otherwise (--container
# on the command line beats this; the container tests pass it), in this process and in every
# command they start.
os.environ["WHEELYARD_RUNNER"] = "host"

# Fixtures that start a server: a test using one (directly or through another fixture) must be
# marked e2e. Servers started inside a test or by a dynamic getfixturevalue are caught at run
# time by helpers.require_e2e.
SERVER_FIXTURES = frozenset({"yard", "postgres", "s3_endpoint"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects: an unmarked test is an error either way
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use a server fixture but are not marked e2e:\n  " + "\n  ".join(unmarked)
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    helpers.running = item
    try:
        yield
    finally:
        helpers.running = None


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real full disk (needs root or CAP_SYS_ADMIN, else the test skips)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a real PostgreSQL server started for this test session."""
    helpers.require_e2e("starts PostgreSQL")
    if server_bin() is None:
        pytest.skip("PostgreSQL server not installed (.ci/run installs Debian's postgresql)")
    # Not under pytest's temp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="wheelyard-pg-"))
    try:
        with postgres_server(root, free_port()) as url:
            yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Endpoint URL of a real S3-compatible server (moto_server) started for this session."""
    helpers.require_e2e("starts an S3 server")
    with s3_server(tmp_path_factory.mktemp("s3") / "moto.log", free_port()) as endpoint:
        yield endpoint


# A fresh migrated database per test. PostgreSQL is a server process: that half is e2e, the
# SQLite half is a unit test.
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "postgres":
        url = new_database(request.getfixturevalue("postgres"))
    else:
        url = f"sqlite:///{tmp_path / 'yard.db'}"
    engine = make_engine(url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def yard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Yard]:
    """The shared server: once on SQLite + a folder, once on PostgreSQL + an S3 bucket."""
    # Single-file deletes wait this long for a re-upload (yard/pending.py); short for tests.
    # Every test talks from 127.0.0.1: the shared server must not throttle the suite's many
    # deliberate bad credentials (tests/security/test_auth.py tests throttling on its own).
    env = {
        "WHEELYARD_REMOVAL_DELAY": str(REMOVAL_DELAY),
        "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "100000",
    }
    if request.param == "postgres":
        env["WHEELYARD_DATABASE_URL"] = new_database(request.getfixturevalue("postgres"))
        endpoint = request.getfixturevalue("s3_endpoint")
        env.update(yard_env(endpoint, new_bucket(endpoint)))
    server = start_yard(tmp_path_factory.mktemp("yard") / "data", env)
    yield server
    stop_yard(server)


_names = itertools.count()


@pytest.fixture
def owner_name(request: pytest.FixtureRequest) -> str:
    """A user name unique to the test (the session server is shared)."""
    base = "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    return f"u{next(_names)}{base}"
