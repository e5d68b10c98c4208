# Theory of operation
# -------------------
# Virtual time for the simulator: a heap of (when, seq, handle) in integer microseconds. `seq` makes
# callbacks due at the same instant run in the order they were scheduled (FIFO), so a run depends
# only on the scenario and the seed. SimClock satisfies vrrp.driver.Clock.
"""SimClock: deterministic virtual time."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class SimHandle:
    __slots__ = ("cancelled", "fn")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SimClock:
    """Virtual monotonic clock (µs) with one-shot callbacks."""

    def __init__(self, start: int = 0) -> None:
        self._now = start
        self._queue: list[tuple[int, int, SimHandle]] = []
        self._seq = itertools.count()
        self.events_run = 0

    def now(self) -> int:
        return self._now

    def call_at(self, when: int, fn: Callable[[], None]) -> SimHandle:
        if when < self._now:
            when = self._now
        h = SimHandle(fn)
        heapq.heappush(self._queue, (when, next(self._seq), h))
        return h

    def call_later(self, delay: int, fn: Callable[[], None]) -> SimHandle:
        return self.call_at(self._now + delay, fn)

    def next_event(self) -> int | None:
        q = self._queue
        while q and q[0][2].cancelled:
            heapq.heappop(q)
        return q[0][0] if q else None

    def run_until(self, t: int) -> None:
        """Run every callback due at or before `t`, then set the clock to `t`."""
        q = self._queue
        while q and q[0][0] <= t:
            when, _seq, h = heapq.heappop(q)
            if h.cancelled:
                continue
            self._now = when
            self.events_run += 1
            h.fn()
        if t > self._now:
            self._now = t
