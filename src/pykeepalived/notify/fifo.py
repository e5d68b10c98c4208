# Theory of operation
# -------------------
# notify_fifo / vrrp_notify_fifo / lvs_notify_fifo (keepalived.md §1.2.8, §4.3; keepalived
# lib/notify.c: fifo_open/fifo_close, vrrp/vrrp_notify.c: notify_fifo, check/ipwrapper.c).
# At start the FIFO is created with mkfifo (mode 0644, chowned to the configured user/group) if
# it does not exist -- and only then removed at exit; its reader script, if configured, is
# started with the FIFO path appended as its last argument; then keepalived itself opens the FIFO
# O_RDWR | O_NONBLOCK (so the open never blocks and writes never raise SIGPIPE/EPIPE while no
# reader is attached). Each event is one write of one line; a full pipe (EAGAIN) drops the line
# silently, other write errors are logged "notify fifo write error: ...". At stop the FIFO is
# unlinked first (so a looping reader cannot reopen it), then closed, and the reader script is
# sent SIGTERM.
#
# Line formats: VRRP `INSTANCE "VI_1" MASTER 100\n` (format "%s \"%s\" %s %d\n"; groups always
# priority 0), LVS `VS [192.0.2.1]:tcp:80 UP\n` and `RS [..]:tcp:80 [..]:tcp:80 DOWN\n`.
# keepalived 2.2.7 writes exactly the line; later versions also write the terminating NUL after
# the "\n" (the "NUL quirk"), available with `lvs_nul=True`.
"""Notify FIFOs: creation, reader scripts, and keepalived's line formats."""

from __future__ import annotations

import errno
import logging
import os
import signal
import stat
from dataclasses import dataclass

from ..track.command import ChildSet, ScriptCommand, kill_group

log = logging.getLogger("pykeepalived.notify")

VRRP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")
VRRP_EVENTS = ("MASTER_RX_LOWER_PRI", "MASTER_PRIORITY", "BACKUP_PRIORITY")


def vrrp_fifo_line(kind: str, name: str, state: str, priority: int) -> bytes:
    """`INSTANCE "VI_1" MASTER 100\\n` / `GROUP "G1" BACKUP 0\\n` (vrrp_notify.c: notify_fifo)."""
    return f'{kind} "{name}" {state} {priority}\n'.encode()


def lvs_vs_fifo_line(vs: str, up: bool, *, lvs_nul: bool = False) -> bytes:
    """`VS [192.0.2.1]:tcp:80 UP\\n` (check/ipwrapper.c: notify_fifo_vs)."""
    return f"VS {vs} {'UP' if up else 'DOWN'}\n".encode() + (b"\0" if lvs_nul else b"")


def lvs_rs_fifo_line(rs: str, vs: str, up: bool, *, lvs_nul: bool = False) -> bytes:
    """`RS [192.0.2.2]:tcp:80 [192.0.2.1]:tcp:80 DOWN\\n` (check/ipwrapper.c: notify_fifo_rs)."""
    return f"RS {rs} {vs} {'UP' if up else 'DOWN'}\n".encode() + (b"\0" if lvs_nul else b"")


@dataclass(frozen=True, slots=True)
class FifoSpec:
    """`notify_fifo PATH [user [group]]` plus its `notify_fifo_script`."""

    path: str
    uid: int | None = None
    gid: int | None = None
    script: ScriptCommand | None = None


class NotifyFifo:
    """One open notify FIFO. `kind` is "" (notify_fifo), "vrrp_" or "lvs_" (for log texts)."""

    def __init__(self, spec: FifoSpec, kind: str = "") -> None:
        self.spec = spec
        self.kind = kind
        self.fd = -1
        self.created = False
        self.script_pid: int | None = None
        self.dropped = 0

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def is_open(self) -> bool:
        return self.fd != -1

    async def open(self, children: ChildSet) -> bool:
        """mkfifo if missing, start the reader script, open non-blocking. False if unusable."""
        path = self.spec.path
        try:
            os.mkfifo(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
            self.created = True
            uid = self.spec.uid if self.spec.uid is not None and self.spec.uid != os.geteuid() else -1
            gid = self.spec.gid if self.spec.gid is not None and self.spec.gid != os.getegid() else -1
            if uid != -1 or gid != -1:
                try:
                    os.chown(path, uid, gid)
                except OSError:
                    log.info("Failed to set uid:gid for fifo %s", path)
        except FileExistsError:
            pass
        except OSError:
            log.info("Unable to create %snotify fifo %s", self.kind, path)
            return False
        if self.spec.script is not None:
            proc = await children.start(self.spec.script, [path], what="notify_fifo_script")
            self.script_pid = proc.pid if proc is not None else None
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError as e:
            log.info("Unable to open %snotify fifo %s - errno %d", self.kind, path, e.errno or 0)
            if self.created:
                os.unlink(path)
                self.created = False
            return False
        if not stat.S_ISFIFO(os.fstat(self.fd).st_mode):  # a file planted at the name: not written to
            log.info("Unable to open %snotify fifo %s - not a fifo", self.kind, path)
            os.close(self.fd)
            self.fd = -1
            return False
        return True

    def write(self, line: bytes) -> bool:
        """Write one line without blocking; False if it was dropped."""
        if self.fd == -1:
            return False
        try:
            os.write(self.fd, line)
        except OSError as e:
            self.dropped += 1
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                log.info("notify fifo write error: %s", e.strerror)
            return False
        return True

    def close(self) -> None:
        """Unlink (if we created it), close, and SIGTERM the reader script."""
        if self.created:
            try:
                os.unlink(self.spec.path)
            except OSError:
                pass
            self.created = False
        if self.fd != -1:
            os.close(self.fd)
            self.fd = -1
        if self.script_pid is not None:
            kill_group(self.script_pid, signal.SIGTERM)
            self.script_pid = None


class FifoSet:
    """The daemon's FIFOs: the global notify_fifo plus the vrrp_ or lvs_ specific one.

    As keepalived, a specific FIFO with the same path as the global one is ignored.
    """

    def __init__(
        self,
        notify_fifo: FifoSpec | None = None,
        vrrp_notify_fifo: FifoSpec | None = None,
        lvs_notify_fifo: FifoSpec | None = None,
        *,
        lvs_nul: bool = False,
    ) -> None:
        self.lvs_nul = lvs_nul
        self.global_fifo = NotifyFifo(notify_fifo) if notify_fifo else None
        gpath = notify_fifo.path if notify_fifo else None
        self.vrrp_fifo = (
            NotifyFifo(vrrp_notify_fifo, "vrrp_")
            if vrrp_notify_fifo and vrrp_notify_fifo.path != gpath
            else None
        )
        self.lvs_fifo = (
            NotifyFifo(lvs_notify_fifo, "lvs_") if lvs_notify_fifo and lvs_notify_fifo.path != gpath else None
        )
        self.children = ChildSet()

    def _all(self) -> list[NotifyFifo]:
        return [f for f in (self.global_fifo, self.vrrp_fifo, self.lvs_fifo) if f is not None]

    async def open(self) -> None:
        for f in self._all():
            await f.open(self.children)

    def close(self) -> None:
        for f in self._all():
            f.close()

    def _write(self, line: bytes, specific: NotifyFifo | None) -> None:
        if self.global_fifo is not None:
            self.global_fifo.write(line)
        if specific is not None:
            specific.write(line)

    def vrrp(self, kind: str, name: str, state: str, priority: int) -> None:
        """One VRRP event line to notify_fifo and vrrp_notify_fifo."""
        self._write(vrrp_fifo_line(kind, name, state, priority), self.vrrp_fifo)

    def lvs_vs(self, vs: str, up: bool) -> None:
        self._write(lvs_vs_fifo_line(vs, up, lvs_nul=self.lvs_nul), self.lvs_fifo)

    def lvs_rs(self, rs: str, vs: str, up: bool) -> None:
        self._write(lvs_rs_fifo_line(rs, vs, up, lvs_nul=self.lvs_nul), self.lvs_fifo)
