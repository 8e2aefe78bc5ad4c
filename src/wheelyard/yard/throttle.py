"""Throttling of failed authentications: too many distinct bad credentials from one client or
for one user within a window, and further attempts answer 429 with ``Retry-After``.

Only *distinct* bad credentials count, so a CI job that keeps sending one stale token does not
lock out everyone behind its proxy, while guessing (which needs a new secret per attempt) is
slowed to ``limit`` tries per window. While a key is blocked every credentialed attempt is
refused before it is checked, so a correct guess cannot be told apart from a wrong one.

The counters live in the memory of one server process: with ``serve --workers N`` each worker
keeps its own, so the effective limit is up to N times the setting. That is the price of not
writing to the database on every failure (which would itself be a way to load the server).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from wheelyard.errors import TooManyRequests

_KEY = secrets.token_bytes(32)  # fingerprints are keyed per process: never a plain hash of input
MAX_KEYS = 50_000  # bound on memory: the least recently active keys are forgotten first


def fingerprint(*parts: str) -> str:
    message = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(_KEY, message, hashlib.sha256).hexdigest()[:32]


class FailureWindow:
    """Distinct failures per key within a sliding window of ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, dict[str, float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> dict[str, float]:
        seen = self._keys.get(key)
        if seen is None:
            return {}
        for fp in [fp for fp, at in seen.items() if at <= now - self.window]:
            del seen[fp]
        if not seen:
            del self._keys[key]
        return seen

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None when it is not blocked."""
        with self._lock:
            now = self.clock()
            seen = self._recent(key, now)
            if len(seen) < self.limit:
                return None
            oldest = sorted(seen.values())[len(seen) - self.limit]
            return max(1, math.ceil(oldest + self.window - now))

    def fail(self, key: str, print_: str) -> None:
        with self._lock:
            now = self.clock()
            seen = self._recent(key, now)
            seen[print_] = now
            while len(seen) > 2 * self.limit:  # racing attempts past the block: keep it bounded
                del seen[min(seen, key=seen.__getitem__)]
            self._keys[key] = seen
            self._keys.move_to_end(key)
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)


class AuthThrottle:
    """The two windows the yard keeps: per client address, and per user name (passwords)."""

    def __init__(self, per_client: int, per_user: int, window: float) -> None:
        self.clients = FailureWindow(per_client, window)
        self.users = FailureWindow(per_user, window)

    def check(self, client: str, user: str | None = None) -> None:
        """Refuse, before any credential is checked, while the client or user is blocked."""
        wait = self.clients.retry_after(client)
        if wait is not None:
            raise TooManyRequests(
                f"too many failed authentications from this client; retry in {wait} seconds",
                wait,
            )
        if user is not None:
            wait = self.users.retry_after(user.lower())
            if wait is not None:
                raise TooManyRequests(
                    f"too many failed logins for this user; retry in {wait} seconds", wait
                )

    def failed(self, client: str, credential: str, user: str | None = None) -> None:
        print_ = fingerprint(user.lower() if user else "", credential)
        self.clients.fail(client, print_)
        if user is not None:
            self.users.fail(user.lower(), print_)
