# Theory of operation
# -------------------
# What happens when a vrrp_instance or sync group changes state (keepalived.md §4.2; keepalived
# vrrp/vrrp_notify.c: send_instance_notifies / send_group_notifies / send_event_notify), in
# keepalived's order:
#   1. the state-specific script (notify_master / _backup / _fault / _stop / _deleted), no args;
#   2. the generic `notify` script with 4 extra args: INSTANCE VI_1 MASTER 100 (effective
#      priority) or GROUP G1 BACKUP 0;
#   3. the FIFO line(s) (notify_fifo, vrrp_notify_fifo);
#   4. the SMTP alert, if smtp_alert is on for that instance/group.
# Scripts are started and not waited for; STOP scripts get 1 s before their process group is
# SIGKILLed (keepalived child_killed_thread; the group's own notify_stop has no timeout). An
# instance removed at reload reports DELETED only with `notify_deleted`; otherwise the generic
# script, FIFO and mail see FAULT and no state script runs.
# The caller (daemon) decides *whether* to notify (e.g. keepalived suppresses an instance's
# notifies when it merely follows its sync group into a state the group already reported).
# Events are queued and handled by one worker task, so the order above also holds across
# back-to-back transitions, and callers never wait: `instance()` etc. are plain functions.
"""Notify scripts, FIFO lines and mail for VRRP transitions, in keepalived's order."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from ..track.command import ChildSet, ScriptCommand
from .fifo import FifoSet
from .smtp import SmtpAlerter

log = logging.getLogger("pykeepalived.notify")

STOP_SCRIPT_TIMEOUT_S = 1.0  # keepalived: system_call_script(..., TIMER_HZ, ...) for STOP


@dataclass(frozen=True, slots=True)
class NotifyScripts:
    """The notify keywords of one vrrp_instance or vrrp_sync_group (resolved commands)."""

    master: ScriptCommand | None = None
    backup: ScriptCommand | None = None
    fault: ScriptCommand | None = None
    stop: ScriptCommand | None = None
    deleted: ScriptCommand | None = None  # instances only
    master_rx_lower_pri: ScriptCommand | None = None  # instances only
    notify: ScriptCommand | None = None  # generic
    notify_deleted: bool = False  # `notify_deleted` keyword present
    smtp_alert: bool = False

    def for_state(self, state: str) -> ScriptCommand | None:
        return {
            "MASTER": self.master,
            "BACKUP": self.backup,
            "FAULT": self.fault,
            "STOP": self.stop,
            "DELETED": self.deleted,
        }.get(state)


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str  # "INSTANCE" | "GROUP" | "RX_LOWER" | "PRIORITY" | "FIFO"
    name: str
    state: str
    priority: int
    scripts: NotifyScripts
    target: str = "INSTANCE"  # FIFO: "INSTANCE" | "GROUP"


class Notifier:
    """Runs notifies for the daemon. Create inside the event loop; `close()` at shutdown."""

    def __init__(self, fifos: FifoSet | None = None, smtp: SmtpAlerter | None = None) -> None:
        self.fifos = fifos
        self.smtp = smtp
        self.children = ChildSet()
        self._queue: asyncio.Queue[_Event | None] = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    # ---- API for the daemon (never blocks) -------------------------------------------------

    def instance(self, name: str, state: str, priority: int, scripts: NotifyScripts) -> None:
        """A vrrp_instance entered `state` (MASTER|BACKUP|FAULT|STOP|DELETED)."""
        self._queue.put_nowait(_Event("INSTANCE", name, state, priority, scripts))

    def group(self, name: str, state: str, scripts: NotifyScripts) -> None:
        """A vrrp_sync_group entered `state` (priority is always 0 for groups)."""
        self._queue.put_nowait(_Event("GROUP", name, state, 0, scripts))

    def master_rx_lower_pri(self, name: str, priority: int, scripts: NotifyScripts) -> None:
        """A MASTER received a lower-priority advert: notify_master_rx_lower_pri + FIFO line."""
        self._queue.put_nowait(_Event("RX_LOWER", name, "MASTER_RX_LOWER_PRI", priority, scripts))

    def priority_change(self, name: str, is_master: bool, priority: int) -> None:
        """notify_priority_changes: FIFO `INSTANCE "VI_1" MASTER_PRIORITY 80` (or BACKUP_PRIORITY)."""
        state = "MASTER_PRIORITY" if is_master else "BACKUP_PRIORITY"
        self._queue.put_nowait(_Event("PRIORITY", name, state, priority, NotifyScripts()))

    def fifo_line(self, kind: str, name: str, state: str, priority: int) -> None:
        """Only the FIFO line, in order with the other events (fifo_write_vrrp_states_on_reload)."""
        self._queue.put_nowait(_Event("FIFO", name, state, priority, NotifyScripts(), kind))

    async def flush(self) -> None:
        """Wait until every queued event has been handled (scripts started, lines written)."""
        await self._queue.join()

    async def close(self, timeout_s: float = STOP_SCRIPT_TIMEOUT_S + 0.5) -> None:
        """Handle what is queued, give running scripts (e.g. STOP) a moment, then SIGTERM the rest."""
        await self.flush()
        self._queue.put_nowait(None)
        await self._worker
        await self.children.wait_all(timeout_s)
        self.children.kill_all(signal.SIGTERM)
        if self.smtp is not None:
            await self.smtp.drain(timeout_s)

    # ---- worker ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            ev = await self._queue.get()
            try:
                if ev is None:
                    return
                await self._handle(ev)
            except Exception:  # a notify must never take the daemon down
                log.exception("notify for %s failed", ev.name if ev else "?")
            finally:
                self._queue.task_done()

    async def _start(self, cmd: ScriptCommand, args: tuple[str, ...] = (), stop: bool = False) -> None:
        await self.children.start(cmd, args, timeout_s=STOP_SCRIPT_TIMEOUT_S if stop else None)

    async def _handle(self, ev: _Event) -> None:
        sc = ev.scripts
        if ev.kind == "FIFO":
            if self.fifos is not None:
                self.fifos.vrrp(ev.target, ev.name, ev.state, ev.priority)
            return
        if ev.kind == "PRIORITY":
            if self.fifos is not None:
                self.fifos.vrrp("INSTANCE", ev.name, ev.state, ev.priority)
            return
        if ev.kind == "RX_LOWER":
            if sc.master_rx_lower_pri is not None:
                await self._start(sc.master_rx_lower_pri)
            if self.fifos is not None:
                self.fifos.vrrp("INSTANCE", ev.name, ev.state, ev.priority)
            return

        specific = sc.for_state(ev.state)
        state = ev.state
        if ev.kind == "INSTANCE" and state == "DELETED" and not sc.notify_deleted:
            state = "FAULT"  # keepalived's backward-compatible report of a deleted instance
            specific = None
        if specific is not None:
            await self._start(specific, stop=state == "STOP" and ev.kind == "INSTANCE")
        if sc.notify is not None:
            await self._start(sc.notify, (ev.kind, ev.name, state, str(ev.priority)), stop=state == "STOP")
        if self.fifos is not None:
            self.fifos.vrrp(ev.kind, ev.name, state, ev.priority)
        if sc.smtp_alert and self.smtp is not None:
            if ev.kind == "INSTANCE":
                self.smtp.instance_transition(ev.name, state)
            else:
                self.smtp.group_transition(ev.name, state)
