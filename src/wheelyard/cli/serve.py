"""``wheelyard serve``: run the yard with uvicorn; ``--demo`` prepares an owner and a token."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from wheelyard.cli.common import open_yard
from wheelyard.config import Settings
from wheelyard.db.session import make_engine, migrate
from wheelyard.errors import NotFound
from wheelyard.yard import accounts
from wheelyard.yard.tokens import create_token

DEMO_USER = "demo"


def log_config() -> dict[str, object]:
    """uvicorn's logging, plus a filter that redacts path tokens in every worker, and the JSON
    access log's logger (web/accesslog.py: the line is already JSON, written as it is)."""
    config: dict[str, object] = {**LOGGING_CONFIG}
    config["filters"] = {"redact": {"()": "wheelyard.web.redact.RedactingFilter"}}
    handlers = {
        name: {**h, "filters": ["redact"]} for name, h in LOGGING_CONFIG["handlers"].items()
    }
    handlers["json"] = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
        "formatter": "bare",
        "filters": ["redact"],
    }
    config["handlers"] = handlers
    config["formatters"] = {**LOGGING_CONFIG["formatters"], "bare": {"format": "%(message)s"}}
    loggers = {**LOGGING_CONFIG["loggers"]}
    loggers["wheelyard.access"] = {"handlers": ["json"], "level": "INFO", "propagate": False}
    config["loggers"] = loggers
    return config


@contextmanager
def metrics_dir(workers: int, measured: bool) -> Iterator[None]:
    """Several workers that measure: prometheus_client's multiprocess mode, in a fresh folder
    each run (its files must not outlive the processes that wrote them). One set by the user
    is kept. With metrics off, no folder: every page-cache count would be an mmap write."""
    if not measured or workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="wheelyard-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def prepare_demo(settings: Settings, base: str) -> None:
    with open_yard(settings, create=True, announce=False) as yard:
        try:
            user = accounts.get_user(yard.session, DEMO_USER)
        except NotFound:
            user = accounts.create_user(yard.session, DEMO_USER, secrets.token_urlsafe(16))
        _t, secret = create_token(
            yard.session, user, "demo", "api:read api:write pypi:upload pypi:download", replace=True
        )
    print(
        f"demo owner {DEMO_USER!r} is ready; upload and install with:\n"
        f"  twine upload --repository-url {base}/{DEMO_USER}/label/dev/ "
        f"-u __token__ -p {secret} dist/*\n"
        f"  pip install -i {base}/{DEMO_USER}/label/dev/simple PACKAGE",
        flush=True,
    )


def http_protocol() -> type[asyncio.Protocol] | str:
    """httptools with the header deadline and size cap (web/protocol.py); without httptools
    (e.g. on PyPy) h11, which caps header size itself but has no header deadline."""
    try:
        from wheelyard.web.protocol import GuardedHttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
        return "h11"
    return GuardedHttpToolsProtocol


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_overrides(host=args.host, port=args.port)
    base = f"http://{settings.host}:{settings.port}"
    # Migrate once here, before any worker starts (serving makes a new yard if need be).
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    if args.demo:
        prepare_demo(settings, base)
    print(f"wheelyard serving {settings.data_dir} at {base}/", flush=True)
    os.environ["WHEELYARD_DATA_DIR"] = str(settings.data_dir)
    os.environ.setdefault("WHEELYARD_DATABASE_URL", settings.database_url)
    os.environ.setdefault("WHEELYARD_STORAGE_URL", settings.storage_url)
    if args.log_format:
        os.environ["WHEELYARD_LOG_FORMAT"] = args.log_format  # read by each worker's app
    if args.no_access_log:
        os.environ["WHEELYARD_LOG_FORMAT"] = "text"  # the app writes only the JSON log
    json_log = (args.log_format or settings.log_format) == "json"
    with metrics_dir(args.workers, settings.metrics != "off"):
        _run_uvicorn(args, settings, access_log=not args.no_access_log and not json_log)
    sys.stdout.flush()
    return 0


def _run_uvicorn(args: argparse.Namespace, settings: Settings, access_log: bool) -> None:
    uvicorn.run(
        "wheelyard.web.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        log_config=log_config(),
        access_log=access_log,  # with --log-format json the app writes the access log
        timeout_graceful_shutdown=5,
        # Bounded resources: header size/time (http_protocol), idle keep-alive, connections.
        http=http_protocol(),
        h11_max_incomplete_event_size=settings.max_header,
        timeout_keep_alive=settings.keep_alive,  # type: ignore[arg-type]
        limit_concurrency=settings.max_connections,
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the index server")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--demo", action="store_true", help="create a demo owner and print a token")
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="access log lines: text (default) or one JSON object per request",
    )
    p.set_defaults(func=run)
