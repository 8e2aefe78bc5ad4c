"""``wheelyard serve``: run the yard with uvicorn; ``--demo`` prepares an owner and a token."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys

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
    """uvicorn's logging, plus a filter that redacts path tokens in every worker."""
    config: dict[str, object] = {**LOGGING_CONFIG}
    config["filters"] = {"redact": {"()": "wheelyard.web.redact.RedactingFilter"}}
    handlers = {
        name: {**h, "filters": ["redact"]} for name, h in LOGGING_CONFIG["handlers"].items()
    }
    config["handlers"] = handlers
    return config


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
    uvicorn.run(
        "wheelyard.web.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        log_config=log_config(),
        access_log=not args.no_access_log,
        timeout_graceful_shutdown=5,
        # Bounded resources: header size/time (http_protocol), idle keep-alive, connections.
        http=http_protocol(),
        h11_max_incomplete_event_size=settings.max_header,
        timeout_keep_alive=settings.keep_alive,  # type: ignore[arg-type]
        limit_concurrency=settings.max_connections,
    )
    sys.stdout.flush()
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the index server")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--demo", action="store_true", help="create a demo owner and print a token")
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.set_defaults(func=run)
