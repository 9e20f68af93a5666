"""A small thread-safe memo bounded twice: in size (least recently used entries go
first) and in time (an entry is never returned at or after its own deadline)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedMemo(Generic[V]):
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: float) -> V | None:
        """The value stored for `key` while `now` is before its deadline."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            deadline, value = item
            if now >= deadline:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V, deadline: float) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._items[key] = (deadline, value)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
