"""The one HTTP client for talking to a yard: its base URL, the token, timeouts, retries with
backoff for idempotent requests, streamed atomic downloads, and every transport failure turned
into one :class:`YardUnreachable` whose message names the URL (never the token) and the cause.

The builder's "what is held" query, its downloads from the yard and its publishing all go
through :class:`YardClient`; so should any later command that talks to a remote yard."""

from __future__ import annotations

import errno
import functools
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from wheelyard.errors import YardError

IDEMPOTENT = frozenset({"GET", "HEAD"})
RETRY_STATUSES = frozenset({502, 503, 504})
# Failures after which the request surely did not reach the application (or a GET may simply
# be sent again): a refused or timed-out connect, a kept-alive connection the server dropped.
_RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
_CHUNK = 1024 * 1024


class ClientError(YardError):
    """Talking to a yard over HTTP failed; ``url`` is the yard's (credential-free) base URL."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class YardUnreachable(ClientError):
    """The request never got an answer: bad URL, refused, DNS, TLS, timeout, dropped."""


class YardRefused(ClientError):
    """The yard answered with a status the caller did not expect."""

    def __init__(self, message: str, url: str, status: int) -> None:
        super().__init__(message, url)
        self.status = status


@functools.cache
def _tls(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # httpx builds (and loads certifi's bundle into) a context per client: ~25 ms each.
    # One per process and CA setting, built as httpx would (SSL_CERT_FILE/DIR, else certifi).
    return httpx.create_ssl_context()


def tls_context() -> ssl.SSLContext:
    """The process's shared TLS context for the environment's current CA settings."""
    return _tls(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def shown_url(url: str) -> str:
    """``url`` without user info (``user:password@``) and trailing slashes: safe to print."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url.rstrip("/")
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed).rstrip("/")


def _cause(exc: Exception) -> str:
    """A short human reason for a transport failure."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "the URL must start with http:// or https://"
    if isinstance(exc, httpx.TimeoutException):
        what = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for an answer"
        return f"timed out {what}"
    for e in chain:
        if isinstance(e, ConnectionRefusedError) or (
            isinstance(e, OSError) and e.errno == errno.ECONNREFUSED
        ):
            return "connection refused (is the server running?)"
        if isinstance(e, socket.gaierror):
            return f"unknown host ({e.strerror or e})"
        if isinstance(e, ssl.SSLError):
            return f"TLS failed ({e.reason or e})"
    text = str(exc)
    if "refused" in text.lower():  # the error's text is all some transports give
        return "connection refused (is the server running?)"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"the connection broke ({text or type(exc).__name__})"
    return text or type(exc).__name__


def unreachable(url: str, exc: Exception) -> YardUnreachable:
    where = shown_url(url)
    return YardUnreachable(f"cannot reach the yard at {where}: {_cause(exc)}", where)


def save_stream(response: httpx.Response, target: Path) -> Path:
    """Write a streamed response body to ``target`` in chunks (constant memory), atomically:
    into a temporary file next to it, renamed over ``target`` only once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in response.iter_bytes(_CHUNK):
                fh.write(chunk)
        tmp.replace(target)  # a killed or broken download never leaves a truncated file
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


class YardClient:
    """HTTP to one yard. Requests take paths relative to its base URL; the token, if any, is
    sent as ``Authorization: token …`` (every yard route accepts it) and never shown."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.url = shown_url(url)
        self.retries = max(1, retries)  # attempts in all, for GET and HEAD
        self.backoff = backoff
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise YardUnreachable(
                f"cannot reach the yard at {self.url}: not a URL ({exc})", self.url
            ) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            hint = f" (did you mean http://{url}?)" if "://" not in url else ""
            raise YardUnreachable(
                f"cannot reach the yard at {self.url}: the URL must start with http:// or "
                f"https://{hint}",
                self.url,
            )
        headers = {"Authorization": f"token {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=tls_context(),
        )

    def __repr__(self) -> str:
        return f"YardClient({self.url!r})"

    def __enter__(self) -> YardClient:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _attempts(self, method: str) -> int:
        return self.retries if method.upper() in IDEMPOTENT else 1

    def _pause(self, attempt: int) -> None:
        time.sleep(self.backoff * 2**attempt)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, IO[bytes]]] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One request (GET and HEAD retried on connect errors and 502/503/504, with
        exponential backoff); any status comes back, transport failures raise
        :class:`YardUnreachable`."""
        attempts = self._attempts(method)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.request(
                    method, path, headers=headers, json=json, data=data, files=files, **extra
                )
            except _RETRY_ERRORS as exc:
                if last:
                    raise unreachable(self.url, exc) from None
            except httpx.TransportError as exc:
                raise unreachable(self.url, exc) from None
            else:
                if last or response.status_code not in RETRY_STATUSES:
                    return response
            self._pause(attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def build_record(self, owner: str, label: str, key: str) -> dict[str, Any] | None:
        """The builder's record stored under ``key`` beside ``owner``'s ``label``; None when
        there is none (or the label is not readable: they answer alike)."""
        response = self.get(f"/api/build-records/{owner}/{label}/{key}")
        if response.status_code == 404:
            return None
        data = self.check(response).json()
        return data if isinstance(data, dict) else None

    def put_build_record(self, owner: str, label: str, key: str, data: Mapping[str, Any]) -> None:
        """Store the builder's record under ``key`` beside ``owner``'s ``label``."""
        self.check(self.request("PUT", f"/api/build-records/{owner}/{label}/{key}", json=data))

    def check(self, response: httpx.Response, *ok: int) -> httpx.Response:
        """``response``, or :class:`YardRefused` when its status is not one of ``ok`` (any 2xx
        when none is given)."""
        status = response.status_code
        if (status in ok) if ok else response.is_success:
            return response
        raise YardRefused(
            f"the yard at {self.url} answered {status} to {response.request.method} "
            f"{response.request.url.path}{_detail(response)}",
            self.url,
            status,
        )

    def download(self, path: str, target: Path, *, timeout: float = 300.0) -> Path:
        """Stream ``path`` to ``target`` atomically (see :func:`save_stream`); retried like a
        GET, including a body cut off midway."""
        for attempt in range(self.retries):
            last = attempt == self.retries - 1
            try:
                # A download may be redirected (to a blob store's URL, say): httpx drops the
                # Authorization header when a redirect leaves the yard's origin.
                stream = self._http.stream("GET", path, timeout=timeout, follow_redirects=True)
                with stream as response:
                    if last or response.status_code not in RETRY_STATUSES:
                        if not response.is_success:
                            response.read()
                            self.check(response)
                        return save_stream(response, target)
            except _RETRY_ERRORS as exc:
                if last:
                    raise unreachable(self.url, exc) from None
            except httpx.TransportError as exc:
                raise unreachable(self.url, exc) from None
            self._pause(attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _detail(response: httpx.Response) -> str:
    """The yard's error text, first line, bounded."""
    try:
        body = response.json()
        text = str(body.get("error") or body.get("detail") or "") if isinstance(body, dict) else ""
    except ValueError:
        text = response.text
    text = text.strip().splitlines()[0][:200] if text.strip() else ""
    return f": {text}" if text else ""
