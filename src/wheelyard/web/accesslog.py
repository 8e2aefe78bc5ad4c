"""Structured access logs (``wheelyard serve --log-format json``): one JSON object per request
on the ``wheelyard.access`` logger, with path tokens redacted (``redact``) and no headers, so
neither an ``Authorization`` header nor a ``/t/<TOKEN>/`` path ever reaches the log."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from wheelyard.web.metrics import Observed
from wheelyard.web.redact import redact

logger = logging.getLogger("wheelyard.access")


def record(seen: Observed) -> dict[str, object]:
    scope = seen.scope
    principal = scope.get("wheelyard.principal")
    client = scope.get("client")
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "method": scope["method"],
        "route": seen.route,
        "path": redact(scope["path"]),  # the query string is left out: it may hold secrets
        "status": seen.status,
        "bytes": seen.bytes,
        "duration": round(seen.duration, 6),
        "client": client[0] if client else None,
        # A token's user, or a browser session's (web/ui/visitors.py).
        "user": getattr(principal, "user_name", None) or scope.get("wheelyard.visitor_user"),
    }


def log_json(seen: Observed) -> None:
    logger.info("%s", json.dumps(record(seen), separators=(",", ":")))
