"""The BFD event pipes around the BFD child: made by the parent, read by the VRRP and checker children.

# Theory of operation
keepalived's parent opens two pipes before it starts any child (BFD -> VRRP, BFD -> checker) and keeps
every end open for its whole life, so a respawned child finds its pipe where it left it and a reader
never sees end-of-file when the BFD child dies (keepalived.md §3.5). `BfdPipes` is that parent side:
`child_env(role)` gives the environment variable and descriptors a forked child keeps open
(daemon/parent/forkchild.py; bfd/events.py: the BFD child gets both write ends, the VRRP and checker
children each the read end of their own pipe).

`BfdEventReader` is the consumer side, used by both the VRRP and the checker child: it takes the read
end named by PYKEEPALIVED_BFD_EVENT_FD, makes it non-blocking, watches it on the asyncio loop
(`loop.add_reader`), splits the byte stream into `NAME UP|DOWN` lines (bfd/events.py decode_events)
and hands every event to a callback. A child started without the variable (no BFD child, `-B`) simply
has no reader: its tracked BFD sessions stay in their start state, Down, as keepalived's do.

`VrrpBfdTracker` is keepalived's vrrp_handle_bfd_event (vrrp_scheduler.c): a `bfd_instance` a VRRP
instance tracks starts Down (vrrp_track.c alloc_vrrp_tracked_bfd: bfd_up = false); an event that does
not change the state is ignored; a change logs `VRRP_Instance(VI) Tracked BFD instance NAME is UP|DOWN`
for every instance tracking the session (directly or through its sync group) and becomes an ordinary
boolean tracker value for the core (vrrp/tracking.py does weight, reverse and FAULT).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parent imports BfdPipes: it runs no asyncio loop and need not load it
    import asyncio

from pykeepalived.bfd.events import ENV_CHECKER_FD, ENV_EVENT_FD, ENV_VRRP_FD, BfdEvent, decode_events

log = logging.getLogger("pykeepalived")

READ_CHUNK = 65536
MAX_PARTIAL = 4096  # an unfinished line longer than this is garbage: drop it


class BfdPipes:
    """The parent's two event pipes, open for the parent's whole life (never inherited by accident:
    os.pipe() descriptors are close-on-exec; pass_fds hands each child only its own ends)."""

    def __init__(self) -> None:
        self.vrrp_r, self.vrrp_w = os.pipe()
        self.checker_r, self.checker_w = os.pipe()

    def child_env(self, role: str) -> tuple[dict[str, str], tuple[int, ...]]:
        """Environment variables and descriptors for a child of `role`."""
        if role == "bfd":
            return ({ENV_VRRP_FD: str(self.vrrp_w), ENV_CHECKER_FD: str(self.checker_w)},
                    (self.vrrp_w, self.checker_w))
        if role == "vrrp":
            return {ENV_EVENT_FD: str(self.vrrp_r)}, (self.vrrp_r,)
        if role == "checker":
            return {ENV_EVENT_FD: str(self.checker_r)}, (self.checker_r,)
        return {}, ()

    def close(self) -> None:
        for fd in (self.vrrp_r, self.vrrp_w, self.checker_r, self.checker_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def event_fd_from_env() -> int | None:
    """The read end this child was given (and forget it, so scripts we run do not see it)."""
    text = os.environ.pop(ENV_EVENT_FD, None)
    if not text:
        return None
    try:
        fd = int(text)
        os.fstat(fd)
    except (ValueError, OSError):
        log.error("Invalid BFD event pipe %s=%r - BFD events will not be received", ENV_EVENT_FD, text)
        return None
    os.set_inheritable(fd, False)
    return fd


class BfdEventReader:
    """Reads `NAME UP|DOWN` lines from a pipe on the asyncio loop and calls `on_event` for each."""

    def __init__(self, fd: int, on_event: Callable[[BfdEvent], None]) -> None:
        self.fd = fd
        self.on_event = on_event
        self._buf = b""
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        import asyncio

        os.set_blocking(self.fd, False)
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as exc:
                log.error("BFD event pipe read error: %s", exc.strerror or exc)
                self.stop()
                return
            if not chunk:  # every write end closed: nothing more will come
                self.stop()
                return
            self._buf += chunk
            if len(chunk) < READ_CHUNK:
                break
        events, self._buf = decode_events(self._buf)
        if len(self._buf) > MAX_PARTIAL:
            self._buf = b""
        for ev in events:
            try:
                self.on_event(ev)
            except Exception as exc:  # a bad event must never kill the child
                log.error("internal error handling BFD event %s: %r", ev, exc)

    def stop(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            self._loop = None

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def start_reader(on_event: Callable[[BfdEvent], None]) -> BfdEventReader | None:
    """The child's reader on its inherited pipe, started on the running loop; None without a pipe."""
    fd = event_fd_from_env()
    if fd is None:
        return None
    reader = BfdEventReader(fd, on_event)
    reader.start()
    return reader


SetTracker = Callable[[str, str, bool | int | None], object]


class VrrpBfdTracker:
    """The VRRP child's tracked BFD sessions: state, keepalived's log lines, values for the core."""

    def __init__(self, tracking: dict[str, list[str]]) -> None:
        # session name -> the instances tracking it, in configuration order
        self.tracking = tracking
        self.up: dict[str, bool] = {name: False for name in tracking}  # keepalived: starts Down

    @classmethod
    def from_tracks(cls, instances: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> VrrpBfdTracker:
        """From (instance name, its (kind, name) trackers) pairs; only `bfd` trackers count."""
        tracking: dict[str, list[str]] = {}
        for iname, tracks in instances:
            for kind, name in tracks:
                if kind == "bfd" and iname not in tracking.setdefault(name, []):
                    tracking[name].append(iname)
        return cls(tracking)

    def carry_over(self, old: VrrpBfdTracker | None) -> VrrpBfdTracker:
        """At a reload, sessions still tracked keep their state (keepalived clear_diff_bfd)."""
        if old is not None:
            self.up.update({name: up for name, up in old.up.items() if name in self.up})
        return self

    def initial(self, set_tracker: SetTracker) -> None:
        for name, up in self.up.items():
            set_tracker("bfd", name, up)

    def event(self, ev: BfdEvent, set_tracker: SetTracker) -> None:
        if ev.name not in self.up or self.up[ev.name] == ev.up:
            return
        self.up[ev.name] = ev.up
        for iname in self.tracking[ev.name]:
            log.info("VRRP_Instance(%s) Tracked BFD instance %s is %s", iname, ev.name,
                     "UP" if ev.up else "DOWN")
        set_tracker("bfd", ev.name, ev.up)
