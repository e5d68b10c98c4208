"""What the parent logs when a child dies, side by side with keepalived 2.2.7 (report_child_status,
log_child_died, calc_restart_delay): the same lines, in the same order, for a VRRP child killed by
SIGKILL twice in a row (the second restart delayed by one second)."""

from __future__ import annotations

import os
import re
import signal

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import differential, instance_conf, log_lines, wait_for

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
            pids: list[int] = []
            for k in (1, 2):
                old = n.vrrp_pid()
                assert old is not None
                pids.append(old)
                os.kill(old, signal.SIGKILL)
                wait_for(lambda n=n, old=old, k=k: n.vrrp_pid() not in (None, old)
                         and n.logs().count("Entering BACKUP STATE") > k, 20)
            text = "\n".join(log_lines(n, WANTED))
            for i, pid in enumerate(pids):
                text = text.replace(f"({pid})", f"(PID{i})").replace(f"pid {pid} ", f"pid PID{i} ")
            seen[n.impl] = text.splitlines()
        assert seen["py"] == seen["ka"]
        assert "pid PID0 exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?" in seen["py"]


def test_smtp_connect_timeout_logs_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    """A mail server that never answers the SYN (no host at the address: ARP gives up after the
    1 s smtp_connect_timeout): keepalived's connection_in_progress write-timeout line."""
    _, ka, py = oracle_lab
    conf = instance_conf(state="MASTER", prio=150, extra="    smtp_alert", globals_="""
    notification_email {
        ops@example.com
    }
    notification_email_from ka@example.com
    smtp_server 192.0.2.200 25
    smtp_connect_timeout 1
""")
    line = "Timeout opening connection to remote SMTP server [192.0.2.200]:25."
    with differential([ka, py], conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: line in n.logs(), 20)
        for n in pair:
            assert "Timeout connecting SMTP server" not in n.logs()
