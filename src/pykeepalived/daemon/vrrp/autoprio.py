# Theory of operation
# -------------------
# `max_auto_priority [N]` and `min_auto_priority_delay USECS` (global_defs; keepalived.md §1.2;
# keepalived 2.2.7 lib/scheduler.c thread fetch loop and lib/process.c increment_process_priority).
# keepalived checks, each time its event loop wakes up, how long ago its earliest timer should have
# fired. When that is more than min_auto_priority_delay (default 1 s, so this happens even without
# max_auto_priority) it logs `A thread timer expired S.UUUUUU seconds ago` and raises its own
# scheduling: the first time to SCHED_RR at sched_get_priority_min (1) -- or one above the
# configured vrrp_rt_priority -- then by one each time, up to max_auto_priority; each raise logs
# `Set realtime priority N` (also when sched_setscheduler failed, which logs `child process: cannot
# raise priority` first). A raise from normal scheduling also applies the child's RLIMIT_RTTIME
# (vrrp_rlimit_rttime, linux/sched.py set_priorities). max_auto_priority unset, 0 or -1: no raise.
#
# Here the VRRP child's one timer (the Driver's advert / master-down deadline) is the earliest
# timer; its lateness is reported by AsyncioClock.on_late. Scheduling attributes are per thread on
# Linux: the raise applies to the event loop's thread, the one that sends adverts.
"""The VRRP child raising its realtime priority when its timers run late (max_auto_priority)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pykeepalived.config.model import Model
from pykeepalived.daemon.procconf import RLIMIT_RTTIME_DEFAULT, ProcConf

log = logging.getLogger("pykeepalived")

MIN_AUTO_PRIORITY_DELAY_US = 1_000_000  # global_data.c default
SCHED_RR_MIN = 1  # sched_get_priority_min(SCHED_RR)

RaiseFn = Callable[[str, int, int, int, bool], None]  # linux/sched.py set_priorities


class AutoPriority:
    """Lateness check and priority raise for one child (keepalived's per-process state)."""

    def __init__(self, role: str, max_rt: int, min_delay_us: int, cur_rt: int, rlimit_rttime: int,
                 raise_fn: RaiseFn | None = None) -> None:
        self.role = role
        self.max_rt = max(0, max_rt)  # -1 (disabled) and unset are 0
        self.min_delay_us = min_delay_us
        self.cur_rt = cur_rt  # the child's realtime priority now (vrrp_rt_priority at start)
        # keepalived: the rlimit is set with the realtime priority; one configured with
        # vrrp_rt_priority is already in force (cur_rlimit_rttime), else the default one is applied
        self.rlimit_pending = 0 if cur_rt else rlimit_rttime
        self.raises = 0
        if raise_fn is None:
            from pykeepalived.linux.sched import set_priorities

            raise_fn = set_priorities
        self._raise = raise_fn

    def timer_fired(self, deadline_us: int, now_us: int) -> None:
        """AsyncioClock.on_late: the timer due at `deadline_us` ran at `now_us`."""
        late = now_us - deadline_us
        if self.min_delay_us and late > self.min_delay_us:
            log.info("A thread timer expired %d.%06d seconds ago", late // 1_000_000, late % 1_000_000)
            self.increment()

    def increment(self) -> None:
        """keepalived increment_process_priority."""
        if not self.max_rt:
            return
        if self.cur_rt:
            if self.cur_rt >= self.max_rt:
                return
            self.cur_rt += 1
        else:
            self.cur_rt = SCHED_RR_MIN
        self._raise(self.role, self.cur_rt, self.rlimit_pending, 0, False)
        self.rlimit_pending = 0
        self.raises += 1
        log.info("Set realtime priority %u", self.cur_rt)


def auto_priority(model: Model, role: str, pc: ProcConf | None = None) -> AutoPriority:
    """The child's AutoPriority from its configuration and the parent's process settings."""
    g = model.global_defs
    delay = g.min_auto_priority_delay_us
    pc = pc if pc is not None else ProcConf.from_env()
    sched = pc.sched.get(role) if pc is not None else None
    return AutoPriority(
        role,
        g.max_auto_priority or 0,
        delay if isinstance(delay, int) else MIN_AUTO_PRIORITY_DELAY_US,
        sched.rt_priority if sched is not None else 0,
        sched.rlimit_rttime if sched is not None else RLIMIT_RTTIME_DEFAULT,
    )
