# Theory of operation
# -------------------
# asyncio's own timers wake the loop through the epoll timeout, which the kernel takes in whole
# milliseconds (CPython rounds it up): every loop timer fires 0-1 ms late, which shows directly as
# advert send jitter and as takeover lateness. A timerfd(2) armed with an absolute CLOCK_MONOTONIC
# expiry (the clock behind time.monotonic) is an hrtimer: epoll reports it readable within
# microseconds of the deadline. The VRRP Driver keeps exactly ONE timer armed at a time, so one
# timerfd per process suffices: `call_at` re-arms it (and invalidates the previous handle), the
# handle's `cancel` disarms it if it is still the armed one. Falls back to loop.call_at where
# timerfd is unavailable.
"""Microsecond-precise one-shot timer for the asyncio loop (timerfd, CLOCK_MONOTONIC)."""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections.abc import Callable

CLOCK_MONOTONIC = 1
TFD_TIMER_ABSTIME = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(None, use_errno=True)


class _Handle:
    __slots__ = ("gen", "owner")

    def __init__(self, owner: TimerFd, gen: int) -> None:
        self.owner = owner
        self.gen = gen

    def cancel(self) -> None:
        if self.owner.gen == self.gen:
            self.owner.disarm()


class TimerFd:
    """One re-armable timer on the running loop; `call_at(when_us, fn)` with when in µs of
    time.monotonic_ns() // 1000."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        fd = _libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_create: {os.strerror(err)}")
        self.fd = fd
        self.loop = loop
        self.gen = 0
        self._fn: Callable[[], None] | None = None
        loop.add_reader(fd, self._on_readable)

    def _settime(self, when_ns: int) -> None:
        spec = _Itimerspec()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(when_ns, 1_000_000_000)
        if _libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME if when_ns else 0, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")

    def call_at(self, when_us: int, fn: Callable[[], None]) -> _Handle:
        self.gen += 1
        self._fn = fn
        # an expiry in the past fires at once; 0 would disarm, so never pass it
        self._settime(max(1, when_us * 1000))
        return _Handle(self, self.gen)

    def disarm(self) -> None:
        self.gen += 1
        self._fn = None
        self._settime(0)

    def _on_readable(self) -> None:
        try:
            os.read(self.fd, 8)
        except (BlockingIOError, InterruptedError):
            return
        fn, self._fn = self._fn, None
        self.gen += 1
        if fn is not None:
            fn()

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        os.close(self.fd)
