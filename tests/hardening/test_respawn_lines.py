"""What the parent logs when a child dies, side by side with keepalived 2.2.7 (report_child_status,
log_child_died, calc_restart_delay): the same lines, in the same order, for a VRRP child killed by
SIGKILL twice in a row (the second restart delayed by one second)."""

from __future__ import annotations

import os
import re
import signal

import pytest

from pykeepalived.lab import Host, Lab
from tests.daemon.node import differential, instance_conf, log_lines, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

WANTED = re.compile(r"exited due to|exited with|died:|  Please log|  and include|  copies of|Restart of")


def test_child_killed_twice_logs_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, ka, py = oracle_lab
    with differential([ka, py], instance_conf()) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: "(VI_1) Entering BACKUP STATE" in n.logs(), 20)
        seen: dict[str, list[str]] = {}
        for n in pair:
            pids = []
            for _ in range(2):
                old = n.vrrp_pid()
                assert old is not None
                pids.append(old)
                os.kill(old, signal.SIGKILL)
                wait_for(lambda n=n, old=old: n.vrrp_pid() not in (None, old)
                         and n.logs().count("Entering BACKUP STATE") > len(pids), 20)
            text = "\n".join(log_lines(n, WANTED))
            for i, pid in enumerate(pids):
                text = text.replace(f"({pid})", f"(PID{i})").replace(f"pid {pid} ", f"pid PID{i} ")
            seen[n.impl] = text.splitlines()
        assert seen["py"] == seen["ka"]
        assert "pid PID0 exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?" in seen["py"]
