"""Keep secrets out of logs: path tokens (`/t/<TOKEN>/`) are redacted before records are written."""

from __future__ import annotations

import logging
import re

_PATH_TOKEN = re.compile(r"/t/[^/\s\"]+")


def redact(text: str) -> str:
    return _PATH_TOKEN.sub("/t/<redacted>", text)


class RedactingFilter(logging.Filter):
    """Rewrites uvicorn's access-log arguments (and any message) to hide path tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "wheelyard"):
        logging.getLogger(name).addFilter(RedactingFilter())
