"""Rendered index pages, kept per process and validated by the label's serial number.

A page is reused only while its label's serial is unchanged, and every write that changes a
label bumps that serial in the same transaction, so a cached page is never stale.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from wheelyard.web.metrics import cache_counters


@dataclass(frozen=True)
class Page:
    body: bytes
    etag: str
    media_type: str
    status: int = 200


def make_page(body: bytes, media_type: str, status: int = 200) -> Page:
    return Page(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', media_type, status)


class PageCache:
    def __init__(self, capacity: int = 20_000, name: str = "pages") -> None:
        self.capacity = capacity
        self._hit, self._miss = cache_counters(name)  # /-/metrics: wheelyard_page_cache
        self._items: OrderedDict[tuple[object, ...], tuple[int, Page]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...], serial: int) -> Page | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] != serial:
                self._miss()
                return None
            self._items.move_to_end(key)
        self._hit()
        return hit[1]

    def put(self, key: tuple[object, ...], serial: int, page: Page) -> None:
        with self._lock:
            self._items[key] = (serial, page)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
