"""Two pykeepalived BFD children in namespaces: Up, link loss / address loss -> Down, events on a pipe,
SIGHUP/SIGUSR1, and what tshark makes of the packets."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.bfd_proc import BfdProc, bfd_conf
from pykeepalived.lab.capture import Capture
from pykeepalived.lab.node import wait_for

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]

FAST = ("min_rx 20", "min_tx 20", "multiplier 3")


@pytest.fixture
def procs() -> Iterator[list[BfdProc]]:
    started: list[BfdProc] = []
    yield started
    for p in started:
        p.cleanup()


def test_two_children_up_then_down_on_link_and_address_loss(procs: list[BfdProc]) -> None:
    with Lab(hosts=2) as lab:
        h1, h2 = lab["h1"], lab["h2"]
        cap = Capture(h1, "udp port 3784")
        try:
            a = BfdProc(h1, bfd_conf("B1", "192.0.2.2", "192.0.2.1", *FAST)
                        + bfd_conf("B6", "2001:db8::2", None, *FAST, "vrrp"), checker_pipe=True)
            procs.append(a)
            b = BfdProc(h2, bfd_conf("B1", "192.0.2.1", "192.0.2.2", *FAST)
                        + bfd_conf("B6", "2001:db8::1", None, *FAST))
            procs.append(b)
            a.wait_event("B1", False, 10)  # the initial state is reported at start
            a.wait_event("B1", True, 10)
            a.wait_event("B6", True, 10)
            b.wait_event("B1", True, 10)
            time.sleep(0.3)  # let the poll sequences finish: fast timers in use
        finally:
            pcap = cap.stop()
        assert "(B1) Entering Up state" in a.text()
        assert "Detection time is 60000 us" in a.text()
        # `vrrp` only: B6 never reaches the checker pipe; B1 (no flag) goes to both
        assert a.crfd is not None
        got = os.read(a.crfd, 4096).decode()
        assert "B1 UP\n" in got and "B6" not in got

        check_tshark(pcap)
        cap.cleanup()

        # pull the cable: Down after multiplier x interval, diag 1
        lab.set_port(h2, lab.lans[0], False)
        a.wait_event("B1", False, 5)
        a.wait_event("B6", False, 5)
        wait_for(lambda: "(B1) Entering Down state (Local diagnostic - Control Detection Time Expired, "
                         "Remote diagnostic - No Diagnostic)" in a.text(), 5)
        assert "(B1) Expired after " in a.text()
        lab.set_port(h2, lab.lans[0], True)
        a.wait_event("B1", True, 10)

        # the peer's address goes away: same outcome
        h2.run("ip addr del 192.0.2.2/24 dev eth0")
        a.wait_event("B1", False, 5)
        h2.run("ip addr add 192.0.2.2/24 dev eth0")
        a.wait_event("B1", True, 10)  # and back, on the same sockets

        # SIGUSR1: state dump; SIGHUP: every session's state is reported again
        a.signal(signal.SIGUSR1)
        wait_for(lambda: (a.dir / "keepalived_bfd.data").exists(), 5)
        data = (a.dir / "keepalived_bfd.data").read_text()
        assert " BFD Instance = B6" in data and "local state = Up" in data
        a.skip_events()
        a.signal(signal.SIGHUP)
        a.wait_event("B6", True, 5)
        assert "Reloading" in a.text()
        assert a.stop() == 0
        assert "Stopped" in a.text()
        # b sees a go silent: keepalived sends nothing when it stops, the peer times out
        b.wait_event("B6", False, 5)


def check_tshark(pcap: os.PathLike[str]) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    proc = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "json", "-Y", "bfd"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    frames = [f["_source"]["layers"] for f in json.loads(proc.stdout)]
    assert frames
    seen: set[int] = set()
    tx: set[str] = set()
    polls = finals = 0
    for ly in frames:
        assert "_ws.malformed" not in ly and "_ws.expert" not in json.dumps(ly.get("bfd", {}))
        bfd, udp = ly["bfd"], ly["udp"]
        assert bfd["bfd.version"] == "1"
        assert udp["udp.dstport"] == "3784" and 49152 <= int(udp["udp.srcport"]) <= 65535
        ttl = ly["ip"]["ip.ttl"] if "ip" in ly else ly["ipv6"]["ipv6.hlim"]
        assert ttl == ("255" if "ip" in ly else "64")
        assert int(bfd["bfd.detect_time_multiplier"]) == 3
        assert int(bfd["bfd.my_discriminator"], 0) != 0
        assert bfd["bfd.message_length"] == "24"
        seen.add(int(bfd["bfd.sta"], 0))
        tx.add(bfd["bfd.desired_min_tx_interval"])
        flags = bfd["bfd.flags_tree"]
        polls += flags["bfd.flags.p"] == "1"
        finals += flags["bfd.flags.f"] == "1"
        assert flags["bfd.flags.a"] == flags["bfd.flags.m"] == "0"
    assert {1, 3} <= seen  # Down then Up on the wire (Init may come from the other side only)
    assert tx == {"1000000", "20000"}  # idle_tx while not Up (RFC 5880 §6.8.3), then min_tx
    assert polls and finals  # the poll sequence announcing min_tx, and the peer's Final


def test_full_event_pipe_and_missing_source_address(procs: list[BfdProc]) -> None:
    """A VRRP reader that does not read never holds BFD up (the checker pipe still gets UP, the peer
    stays Up); a source_ip that is not configured puts that session in AdminDown, as keepalived does."""
    with Lab(hosts=2) as lab:
        a = BfdProc(lab["h1"], bfd_conf("B1", "192.0.2.2", "192.0.2.1", *FAST)
                    + bfd_conf("BX", "198.51.100.2", "198.51.100.1", *FAST), checker_pipe=True,
                    fill_vrrp_pipe=True)
        procs.append(a)
        b = BfdProc(lab["h2"], bfd_conf("B1", "192.0.2.1", "192.0.2.2", *FAST))
        procs.append(b)
        b.wait_event("B1", True, 10)
        assert a.crfd is not None
        buf = b""
        deadline = time.monotonic() + 5
        while b"B1 UP\n" not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([a.crfd], [], [], 0.1)
            if r:
                buf += os.read(a.crfd, 4096)
        assert b"B1 UP\n" in buf
        time.sleep(0.5)  # many detection times with the VRRP pipe still full
        assert "(B1) Entering Down state" not in b.text()
        # now the VRRP reader drains the pipe: the pending state arrives
        a.wait_event("B1", True, 5)
        text = a.text()
        assert "(BX) Unable to open output socket, disabling instance" in text
        assert "(BX) Entering AdminDown state" in text
