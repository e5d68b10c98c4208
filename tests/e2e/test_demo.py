"""`make demo` runs to the failover, and a Ctrl-C in the middle leaves nothing behind."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from pykeepalived.demo import PREFIX
from pykeepalived.lab import frr as frrlab
from pykeepalived.lab import list_netns

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


@pytest.fixture(autouse=True)
def one_demo_at_a_time() -> Iterator[None]:
    """The demo's namespaces have a fixed prefix and each run removes an earlier one's: the tests of
    this file (in parallel pytest-xdist workers) take turns."""
    with open(os.path.join(tempfile.gettempdir(), "pykeepalived-demo-test.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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


@pytest.mark.skipif(frrlab.why_not() is not None, reason="FRR bgpd/bfdd missing")
def test_demo_second_act_routed_with_bgp() -> None:
    """The whole demo, act two included: the VIP announced through FRR, the master killed with -9,
    the client served by the backup through the router's second path; nothing left behind."""
    proc = subprocess.run([sys.executable, "-u", "-m", "pykeepalived.demo"], capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    act2 = out[out.index("[7] Act 2"):]
    assert "client$ curl http://203.0.113.10/   ->  served by n1" in act2, act2
    assert "router: path via n1, AS path 65001 " in act2 and "metric 0" in act2, act2
    assert "router: path via n2, AS path 65002 65002 65002" in act2, act2
    after = act2[act2.index("[8]"):]
    assert "=> served by n2" in after and "path via n1" not in after, after
    assert "lab removed" in out
    assert not [ns for ns in list_netns() if ns.startswith(PREFIX)]
