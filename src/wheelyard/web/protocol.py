"""uvicorn's httptools protocol with the limits it lacks: a deadline for a request's headers
(against slow clients that hold connections open byte by byte), a cap on their size, and an
idle limit while a request body arrives.

uvicorn arms no timer until a first response is sent and httptools buffers headers without a
bound, so a client that connects and then sends nothing, or one header byte a second, or an
endless header, keeps a connection (and memory) forever. Here every request's request line and
headers must arrive within ``WHEELYARD_HEADER_TIMEOUT`` seconds (counted from the connection,
or from the first byte of a follow-up request on a kept-alive one) and within
``WHEELYARD_MAX_HEADER`` bytes; otherwise the answer is 408 or 431 and the connection closes.

Once the headers are in, a body that stops arriving for ``WHEELYARD_BODY_TIMEOUT`` seconds ends
the connection (408 if no answer has started), as nginx's ``client_body_timeout`` does: the gap
between reads counts, not the total, so a large upload on a slow link still completes. Time in
which the server itself is not reading (the application is busy, or a ``100-continue`` client
waits for the server's go-ahead) does not count against the client.
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
def _limits() -> tuple[float, int, float]:
    # Read once per worker from the environment ``serve`` prepared (workers are fresh processes).
    settings = Settings.from_env()
    return settings.header_timeout, settings.max_header, settings.body_timeout


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout, self.max_header, self.body_timeout = _limits()
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = False
        self._header_bytes = 0
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_seen = 0.0  # loop time of the last body bytes (or of the headers' end)

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

    def _body_arrived(self) -> None:
        self._body_seen = self.loop.time()
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_check)

    def _end_body(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_check(self) -> None:
        # One timer per body, moved on by checking the last read's time rather than re-armed on
        # every chunk: a large upload costs a float store per chunk, not a timer.
        self._body_timer = None
        cycle = self.cycle
        if (
            cycle is None
            or not cycle.more_body
            or cycle.response_complete
            or self.transport.is_closing()
        ):
            return
        now = self.loop.time()
        if self.flow.read_paused or cycle.waiting_for_100_continue:
            self._body_seen = now  # the server is not reading: the client is not late
        idle = now - self._body_seen
        if idle < self.body_timeout:
            self._body_timer = self.loop.call_later(self.body_timeout - idle, self._body_check)
        elif not cycle.response_started:
            self._refuse(408, "Request Timeout")
        else:
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
        self._end_body()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._awaiting_headers:
            # Whole chunks count, so a request whose headers end inside a chunk is never
            # refused, and one whose headers never end is refused after at most one chunk more.
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header:
                self._refuse(431, "Request Header Fields Too Large")
        elif self.cycle is not None and self.cycle.more_body and not self.cycle.response_complete:
            # Headers are in and the body is not (a request without a body completed already).
            self._body_arrived()

    # httptools parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_headers:  # a follow-up request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._cancel_deadline()
        super().on_headers_complete()
