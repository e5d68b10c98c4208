"""max_auto_priority / min_auto_priority_delay: a VRRP child whose timer fires late (here: stopped
with SIGSTOP for longer than the delay) logs the lateness and raises itself to SCHED_RR one step
at a time up to the maximum, as keepalived 2.2.7 does (run side by side as the oracle)."""

from __future__ import annotations

import logging
import os
import re
import signal
import time

import pytest

from pykeepalived.daemon.vrrp.autoprio import AutoPriority
from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for

LATE = re.compile(r"A thread timer expired (\d+)\.(\d{6}) seconds ago")


def rt_of(pid: int) -> tuple[int, int]:
    """(policy without SCHED_RESET_ON_FORK, realtime priority) of a process's main thread."""
    return os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK, os.sched_getparam(pid).sched_priority


@pytest.mark.netns
def test_raise_on_late_timers_as_keepalived(lab: Lab, nodes: list[Node]) -> None:
    g = "    max_auto_priority 2\n    min_auto_priority_delay 500000\n"
    pair = [Node(lab["n1"], instance_conf(state="MASTER", globals_=g), impl="ka"),
            Node(lab["n2"], instance_conf(state="MASTER", globals_=g, vrid=52, vips=("192.0.2.101/24",)))]
    nodes.extend(pair)
    for n in pair:
        n.start()
    try:
        for n in pair:
            wait_for(lambda n=n: n.has("192.0.2.100") or n.has("192.0.2.101"), 15)
        pids = [n.vrrp_pid() for n in pair]
        assert all(pids)
        for pid in pids:
            assert rt_of(pid) == (os.SCHED_OTHER, 0)  # type: ignore[arg-type]
        for i, step in enumerate((1, 2, 2), 1):  # the third late timer finds the maximum reached
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]
            time.sleep(1.6)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)  # type: ignore[arg-type]
            for n in pair:
                wait_for(lambda n=n, i=i: len(LATE.findall(n.logs())) >= i, 5)
            for pid in pids:  # at least this step (a loaded machine may add a late timer of its own)
                policy, prio = rt_of(pid)  # type: ignore[arg-type]
                assert policy == os.SCHED_RR and step <= prio <= 2, (policy, prio)
        for n in pair:
            logs = n.logs()
            lines = re.findall(r"Set realtime priority \d+", logs)
            assert lines == ["Set realtime priority 1", "Set realtime priority 2"]
            late = [int(s) * 1_000_000 + int(us) for s, us in LATE.findall(logs)]
            assert len(late) >= 3 and all(500_000 < v < 3_000_000 for v in late)
            assert "NOTICE: setting config option max_auto_priority" not in logs
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(*pair)}") from exc


def test_increment_rule(caplog: pytest.LogCaptureFixture) -> None:
    """keepalived increment_process_priority: from SCHED_OTHER to 1 (with the rlimit once), then +1
    up to the maximum; a timer late by no more than the delay changes nothing."""
    calls: list[tuple[str, int, int, int, bool]] = []
    ap = AutoPriority("vrrp", 3, 1_000_000, 0, 10_000, lambda *a: calls.append(a))
    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        ap.timer_fired(5_000_000, 6_000_000)  # exactly the delay: not late enough
        for late in (1_000_001, 2_250_000, 1_500_000, 9_000_000):
            ap.timer_fired(0, late)
    assert calls == [("vrrp", 1, 10_000, 0, False), ("vrrp", 2, 0, 0, False), ("vrrp", 3, 0, 0, False)]
    assert [r.getMessage() for r in caplog.records] == [
        "A thread timer expired 1.000001 seconds ago", "Set realtime priority 1",
        "A thread timer expired 2.250000 seconds ago", "Set realtime priority 2",
        "A thread timer expired 1.500000 seconds ago", "Set realtime priority 3",
        "A thread timer expired 9.000000 seconds ago"]
    configured = AutoPriority("vrrp", 99, 1, 40, 10_000, lambda *a: calls.append(a))
    configured.increment()
    assert configured.cur_rt == 41 and calls[-1] == ("vrrp", 41, 0, 0, False)
    off = AutoPriority("vrrp", -1, 1, 0, 10_000, lambda *a: calls.append(a))
    off.increment()
    assert off.cur_rt == 0 and len(calls) == 4
