"""`make demo` runs to the failover, and a Ctrl-C in the middle leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pykeepalived.demo import PREFIX
from pykeepalived.lab import list_netns

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def test_demo_fails_over_and_cleans_up_on_ctrl_c() -> None:
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pykeepalived.demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("[5]") or time.monotonic() > deadline:
                break
        during = [ns for ns in list_netns() if ns.startswith(PREFIX)]
        proc.send_signal(signal.SIGINT)  # Ctrl-C during the failback
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "\n".join(lines) + "\n" + rest
    assert "client$ curl http://192.0.2.1/   ->  served by node1" in out, out
    assert "=> VIP 192.0.2.100 is on node1;" in out, out
    # the failover timeline, as it happened
    for text in ("nginx killed", "check FAILED", "priority 101 -> 96", "-> MASTER, adds VIP",
                 "gratuitous ARP", "served by node2", "notify.sh INSTANCE VI_1 MASTER 100",
                 "=> VIP 192.0.2.100 is on node2;"):
        assert text in out, f"{text!r} missing:\n{out}"
    assert proc.returncode == 130, out
    assert "interrupted (SIGINT): cleaning up" in out
    assert "lab removed" in out
    assert len(during) == 4, during  # switch, node1, node2, client
    assert not [ns for ns in list_netns() if ns.startswith(PREFIX)]
    # nothing of the demo still runs (dead processes our ancestors have not reaped yet do not count)
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout.splitlines()
    left = [p for p in ps if ("nginx-node" in p or "pykeepalived-demo" in p) and not p.startswith("Z")]
    assert left == []
