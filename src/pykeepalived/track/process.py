# Theory of operation
# -------------------
# vrrp_track_process (keepalived.md §1.6; keepalived core/track_process.c). Each tracked process
# spec counts the live processes that match it; it "has quorum" while
# quorum <= count <= quorum_max. Matching is on /proc/PID/comm (the 15-character kernel name),
# or, with `full_command` (implied by parameters or param_match), on /proc/PID/cmdline: argv[0]
# must equal the process name and the remaining NUL-separated arguments must match exactly
# (default), as a prefix of the argument list (`partial`), or with the last configured argument
# allowed to be a prefix (`initial`). Zombies never match.
#
# Process events come from the kernel's proc connector (NETLINK_CONNECTOR, CN_IDX_PROC: fork,
# exec, comm change, exit), as in keepalived: an initial /proc scan, then a fork of a counted
# process counts the child, exec and comm changes re-check the process, exit uncounts it.
# The connector only exists in the initial network namespace (elsewhere the subscription is
# refused) and needs CAP_NET_ADMIN; in those cases we fall back to rescanning /proc every
# `poll_interval` seconds, which works in any network namespace. Lost connector messages
# (ENOBUFS) trigger a rescan.
#
# fork_delay / terminate_delay debounce the quorum changes: a gain (resp. loss) is reported only
# if it still holds after the delay; a reversal before then cancels it silently. Changes are
# logged "Quorum gained|lost for tracked process NAME" and passed to the callback.
"""vrrp_track_process: process quorum via the proc connector or /proc scanning."""

from __future__ import annotations

import asyncio
import enum
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from pykeepalived.linux.rcvbuf import apply_netlink_bufs

log = logging.getLogger("pykeepalived.track")

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2
NLMSG_DONE = 3

PROC_EVENT_NONE = 0x0
PROC_EVENT_FORK = 0x1
PROC_EVENT_EXEC = 0x2
PROC_EVENT_COMM = 0x200
PROC_EVENT_EXIT = 0x80000000

_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_PROC_EVENT_HDR = struct.Struct("=IIQ")
_PID_PAIR = struct.Struct("=ii")
_FORK = struct.Struct("=iiii")

QUORUM_MAX_UNLIMITED = 2**32 - 1


class ParamMatch(enum.Enum):
    NONE = "none"
    EXACT = "exact"
    PARTIAL = "partial"
    INITIAL = "initial"


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One vrrp_track_process block, as plain values."""

    name: str
    process: str
    params: tuple[str, ...] = ()
    param_match: ParamMatch = ParamMatch.NONE
    full_command: bool = False
    quorum: int = 1
    quorum_max: int = QUORUM_MAX_UNLIMITED
    fork_delay_us: int = 0
    terminate_delay_us: int = 0

    @property
    def match_mode(self) -> ParamMatch:
        if self.param_match is ParamMatch.NONE and self.params:
            return ParamMatch.EXACT
        return self.param_match

    @property
    def uses_cmdline(self) -> bool:
        return self.full_command or bool(self.params) or self.param_match is not ParamMatch.NONE

    def has_quorum(self, count: int) -> bool:
        return self.quorum <= count <= self.quorum_max

    def matches(self, comm: str | None, cmdline: bytes | None) -> bool:
        """Does a process with this comm / raw cmdline match (track_process.c: check_params)?"""
        if not self.uses_cmdline:
            return comm is not None and comm == self.process
        if not cmdline:
            return False
        argv0, _, rest = cmdline.partition(b"\0")
        if argv0 != os.fsencode(self.process):
            return False
        mode = self.match_mode
        if mode is ParamMatch.NONE:
            return True
        want = b"".join(os.fsencode(p) + b"\0" for p in self.params)
        if mode is ParamMatch.EXACT:
            return rest == want
        if mode is ParamMatch.PARTIAL:
            return rest.startswith(want)
        return not want or rest.startswith(want[:-1])  # INITIAL: last param may be a prefix


def read_comm(pid: int) -> str | None:
    """comm of a live, non-zombie process (from /proc/PID/stat, as keepalived's scan)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read(512)
    except OSError:
        return None
    lp, rp = data.find(b"("), data.rfind(b")")
    if lp < 0 or rp < 0 or data[rp + 2 : rp + 3] == b"Z":
        return None
    return data[lp + 1 : rp].decode("utf-8", "replace")


def read_cmdline(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


QuorumCallback = Callable[["TrackedProcess", bool], None]


class TrackedProcess:
    """Runtime state of one spec: the matching pids and the reported quorum state."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.pids: set[int] = set()
        self.have_quorum = spec.has_quorum(0)
        self._timer: asyncio.TimerHandle | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def count(self) -> int:
        return len(self.pids)


class ProcessTracker:
    """All vrrp_track_process specs; `on_change(tracked, have_quorum)` on reported changes."""

    def __init__(
        self,
        specs: list[ProcessSpec],
        on_change: QuorumCallback | None = None,
        *,
        poll_interval: float = 1.0,
        use_connector: bool = True,
        rcvbuf: tuple[int, bool] | None = None,
    ) -> None:
        self.rcvbuf = rcvbuf  # process_monitor_rcv_bufs[_force] (linux/rcvbuf.py)
        self.tracked = {s.name: TrackedProcess(s) for s in specs}
        self.on_change = on_change
        self.poll_interval = poll_interval
        self.use_connector = use_connector
        self.mode = "stopped"  # "connector" | "poll"
        self._sock: socket.socket | None = None
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __getitem__(self, name: str) -> TrackedProcess:
        return self.tracked[name]

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Initial /proc scan (sets the initial quorum states silently), then watch."""
        if not self.tracked:
            return  # no vrrp_track_process: nothing to scan /proc for every poll_interval
        self._loop = asyncio.get_running_loop()
        if self.use_connector:
            self._sock = self._open_connector()
        counts = self._scan()
        for tp in self.tracked.values():
            tp.pids = counts[tp.name]
            tp.have_quorum = tp.spec.has_quorum(tp.count)
        if self._sock is not None:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)
            self.mode = "connector"
        else:
            self._poller = self._loop.create_task(self._poll())
            self.mode = "poll"

    def stop(self) -> None:
        if self._sock is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._sock.fileno())
            try:
                self._send_mcast(self._sock, PROC_CN_MCAST_IGNORE)
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        for tp in self.tracked.values():
            if tp._timer is not None:
                tp._timer.cancel()
                tp._timer = None
        self.mode = "stopped"

    # ---- connector ---------------------------------------------------------------------------

    @staticmethod
    def _send_mcast(sock: socket.socket, op: int) -> None:
        payload = struct.pack("=I", op)
        cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(cn), NLMSG_DONE, 0, 0, 0) + cn)

    def _open_connector(self) -> socket.socket | None:
        try:
            sock = socket.socket(
                socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_CONNECTOR
            )
        except OSError as e:
            log.info("Failed to open process monitoring socket - errno %d - %s", e.errno or 0, e.strerror)
            return None
        try:
            sock.bind((0, CN_IDX_PROC))
            self._send_mcast(sock, PROC_CN_MCAST_LISTEN)
        except OSError as e:
            # e.g. ECONNREFUSED outside the initial network namespace, EPERM without CAP_NET_ADMIN
            log.debug("proc connector unavailable (%s) - scanning /proc", e.strerror)
            sock.close()
            return None
        sock.setblocking(False)
        apply_netlink_bufs(sock, self.rcvbuf, "process_monitor")
        return sock

    def _on_readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    log.info("process monitor netlink lost messages - rescanning processes")
                    self._rescan()
                    continue
                log.info("process monitor netlink recv error %d - %s", e.errno or 0, e.strerror)
                return
            self._parse(data)

    def _parse(self, data: bytes) -> None:
        off = 0
        while off + _NLMSGHDR.size <= len(data):
            nl_len = _NLMSGHDR.unpack_from(data, off)[0]
            if nl_len < _NLMSGHDR.size:
                return
            body = off + _NLMSGHDR.size + _CN_MSG.size
            if body + _PROC_EVENT_HDR.size <= off + nl_len:
                what = _PROC_EVENT_HDR.unpack_from(data, body)[0]
                self._event(what, data, body + _PROC_EVENT_HDR.size)
            off += (nl_len + 3) & ~3

    def _event(self, what: int, data: bytes, ev: int) -> None:
        if what == PROC_EVENT_FORK:
            _ppid, ptgid, cpid, ctgid = _FORK.unpack_from(data, ev)
            if cpid != ctgid:
                return  # a new thread
            self._on_fork(ptgid, ctgid)
        elif what == PROC_EVENT_EXEC:
            pid, tgid = _PID_PAIR.unpack_from(data, ev)
            if pid == tgid:
                self._check(pid, comm_only=False)
        elif what == PROC_EVENT_COMM:
            pid, tgid = _PID_PAIR.unpack_from(data, ev)
            if pid == tgid:
                self._check(pid, comm_only=True)
        elif what == PROC_EVENT_EXIT:
            pid, tgid = _PID_PAIR.unpack_from(data, ev)
            if pid == tgid:
                self._on_exit(pid)

    # ---- bookkeeping -------------------------------------------------------------------------

    def _on_fork(self, parent: int, child: int) -> None:
        # keepalived: a child of a counted process is counted for the same specs
        for tp in self.tracked.values():
            if parent in tp.pids:
                tp.pids.add(child)
                self._evaluate(tp, gained_by_fork=True)

    def _on_exit(self, pid: int) -> None:
        for tp in self.tracked.values():
            if pid in tp.pids:
                tp.pids.discard(pid)
                self._evaluate(tp)

    def _check(self, pid: int, comm_only: bool) -> None:
        comm = read_comm(pid)
        cmdline: bytes | None = None
        for tp in self.tracked.values():
            if comm_only and tp.spec.uses_cmdline:
                continue
            if tp.spec.uses_cmdline and cmdline is None:
                cmdline = read_cmdline(pid)
            if tp.spec.matches(comm, cmdline):
                if pid not in tp.pids:
                    tp.pids.add(pid)
                    self._evaluate(tp)
            elif pid in tp.pids:
                tp.pids.discard(pid)
                self._evaluate(tp)

    def _scan(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {n: set() for n in self.tracked}
        need_cmdline = any(tp.spec.uses_cmdline for tp in self.tracked.values())
        try:
            entries = os.listdir("/proc")
        except OSError:
            return found
        for ent in entries:
            if not ent.isdigit():
                continue
            pid = int(ent)
            comm = read_comm(pid)
            if comm is None:
                continue
            cmdline = read_cmdline(pid) if need_cmdline else None
            for tp in self.tracked.values():
                if tp.spec.matches(comm, cmdline):
                    found[tp.name].add(pid)
        return found

    def _rescan(self) -> None:
        counts = self._scan()
        for tp in self.tracked.values():
            new = counts[tp.name]
            if new != tp.pids:
                gained = len(new) > len(tp.pids)
                tp.pids = new
                self._evaluate(tp, gained_by_fork=gained)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            self._rescan()

    def _evaluate(self, tp: TrackedProcess, gained_by_fork: bool = False) -> None:
        want = tp.spec.has_quorum(tp.count)
        if want == tp.have_quorum:
            if tp._timer is not None:  # the change reverted within the delay
                tp._timer.cancel()
                tp._timer = None
            return
        if tp._timer is not None:
            return  # already waiting to report this change
        delay_us = tp.spec.fork_delay_us if want else tp.spec.terminate_delay_us
        if delay_us and self._loop is not None:
            tp._timer = self._loop.call_later(delay_us / 1e6, self._delay_expired, tp)
            return
        self._report(tp, want)

    def _delay_expired(self, tp: TrackedProcess) -> None:
        tp._timer = None
        want = tp.spec.has_quorum(tp.count)
        if want != tp.have_quorum:
            self._report(tp, want)

    def _report(self, tp: TrackedProcess, have: bool) -> None:
        tp.have_quorum = have
        log.info("Quorum %s for tracked process %s", "gained" if have else "lost", tp.name)
        if self.on_change is not None:
            self.on_change(tp, have)
