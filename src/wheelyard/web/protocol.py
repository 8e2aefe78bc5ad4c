"""uvicorn's httptools protocol with the two limits it lacks: a deadline for a request's
headers (against slow clients that hold connections open byte by byte) and a cap on their size.

uvicorn arms no timer until a first response is sent and httptools buffers headers without a
bound, so a client that connects and then sends nothing, or one header byte a second, or an
endless header, keeps a connection (and memory) forever. Here every request's request line and
headers must arrive within ``WHEELYARD_HEADER_TIMEOUT`` seconds (counted from the connection,
or from the first byte of a follow-up request on a kept-alive one) and within
``WHEELYARD_MAX_HEADER`` bytes; otherwise the answer is 408 or 431 and the connection closes.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from wheelyard.config import Settings


@functools.cache
def _limits() -> tuple[float, int]:
    # Read once per worker from the environment ``serve`` prepared (workers are fresh processes).
    settings = Settings.from_env()
    return settings.header_timeout, settings.max_header


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout, self.max_header = _limits()
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = False
        self._header_bytes = 0

    def _await_headers(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: int, reason: str) -> None:
        self._awaiting_headers = False
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        body = f"{reason}\n".encode()
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        self.transport.close()

    def _too_slow(self) -> None:
        self._deadline = None
        if self._awaiting_headers:
            self._refuse(408, "Request Timeout")

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers and not self.transport.is_closing():
            # Whole chunks count, so a request whose headers end inside a chunk is never
            # refused, and one whose headers never end is refused after at most one chunk more.
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header:
                self._refuse(431, "Request Header Fields Too Large")

    # httptools parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_headers:  # a follow-up request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._cancel_deadline()
        super().on_headers_complete()
