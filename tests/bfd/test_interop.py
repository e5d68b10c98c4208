"""Interop: pykeepalived's BFD child against FRR's bfdd and against keepalived 2.2.7's BFD (real peers
in namespaces). Both ends reach Up; when our process stops the peer goes Down by detection timeout
(keepalived sends nothing on its way out either), and the other way round."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.bfd_proc import BfdProc, bfd_conf
from pykeepalived.lab.node import wait_for
from tests.bfd.frr_bfd import BfddNode, bfdd_available

pytestmark = [
    pytest.mark.netns,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]
TIMERS = ("min_rx 50", "min_tx 50", "multiplier 3")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(hosts=2) as lab:
        yield lab


FRR_CONF = """bfd
 peer 192.0.2.1 local-address 192.0.2.2
  receive-interval 50
  transmit-interval 50
  detect-multiplier 3
 !
 peer 2001:db8::1 local-address 2001:db8::2
  receive-interval 50
  transmit-interval 50
  detect-multiplier 3
 !
!
"""


@pytest.mark.skipif(bfdd_available() is not None, reason=str(bfdd_available()))
def test_frr_bfdd(lab: Lab) -> None:
    frr = BfddNode(lab["h2"], FRR_CONF).start()
    # IPv4 active; IPv6 passive (FRR opens it) with hop limit 255: FRR checks single-hop GTSM strictly
    # and keepalived's IPv6 default is 64
    a = BfdProc(lab["h1"], bfd_conf("F4", "192.0.2.2", "192.0.2.1", *TIMERS)
                + bfd_conf("F6", "2001:db8::2", "2001:db8::1", *TIMERS, "passive", "hoplimit 255"))
    try:
        a.wait_event("F4", True, 10)
        a.wait_event("F6", True, 10)
        wait_for(lambda: frr.peer_status("192.0.2.1") == "up" and frr.peer_status("2001:db8::1") == "up", 5)
        time.sleep(0.5)  # poll sequences done: the negotiated intervals are the configured ones
        p = frr.peer("192.0.2.1")
        assert (p["remote-receive-interval"], p["remote-transmit-interval"], p["remote-detect-multiplier"]) \
            == (50, 50, 3), p
        assert "(F6) Entering Up state" in a.text()
        # FRR administratively shut: it sends AdminDown -> our session is Down, but that is no event
        frr.vtysh("configure terminal", "bfd", "peer 192.0.2.1 local-address 192.0.2.2", "shutdown")
        # (FRR 8.4 sends AdminDown with diagnostic 0, so the remote diagnostic logged is No Diagnostic)
        wait_for(lambda: "(F4) Entering Down state (Local diagnostic - Neighbor Signaled Session Down, "
                         "Remote diagnostic - " in a.text(), 5, step=0.05)
        a.read_events(0.2)
        assert not [e for _, e in a.seen if e.name == "F4" and not e.up][1:]  # only the start-up DOWN
        frr.vtysh("configure terminal", "bfd", "peer 192.0.2.1 local-address 192.0.2.2", "no shutdown")
        a.wait_event("F4", True, 10)
        assert a.stop() == 0
        wait_for(lambda: {frr.peer_status("192.0.2.1"), frr.peer_status("2001:db8::1")} == {"down"}, 5)
        assert frr.peer("192.0.2.1")["diagnostic"] == "control detection time expired"
    finally:
        a.cleanup()
        frr.cleanup()


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived not installed")
def test_keepalived_bfd(lab: Lab) -> None:
    k = BfdProc(lab["h2"], bfd_conf("K4", "192.0.2.1", "192.0.2.2", *TIMERS)
                + bfd_conf("K6", "2001:db8::1", None, *TIMERS), impl="ka")
    a = BfdProc(lab["h1"], bfd_conf("K4", "192.0.2.2", "192.0.2.1", *TIMERS)
                + bfd_conf("K6", "2001:db8::2", None, *TIMERS, "passive"))
    try:
        a.wait_event("K4", True, 10)
        a.wait_event("K6", True, 10)
        wait_for(lambda: "(K4) Entering Up state" in k.text() and "(K6) Entering Up state" in k.text(), 5)
        time.sleep(0.5)
        a.signal(signal.SIGTERM)
        wait_for(lambda: "(K4) Entering Down state (Local diagnostic - Control Detection Time Expired, "
                         "Remote diagnostic - No Diagnostic)" in k.text(), 5, step=0.05)
        assert "(K4) Expired after " in k.text()
        a.cleanup()
        # the other way round: keepalived goes away (its BFD child, as on a crash), we time out
        a = BfdProc(lab["h1"], bfd_conf("K4", "192.0.2.2", "192.0.2.1", *TIMERS))
        a.wait_event("K4", True, 10)
        kpid = k.pid()
        assert kpid is not None
        k.stop()
        a.wait_event("K4", False, 5)
        assert "(K4) Expired after " in a.text()
    finally:
        a.cleanup()
        k.cleanup()
