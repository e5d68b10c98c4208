"""Run-time misconfigurations, side by side with keepalived 2.2.7 (issue 12): what each logs, and
the outcome (FAULT, or the daemon's exit), for the same file."""

from __future__ import annotations

import os
import re
import time

import pytest

from pykeepalived.lab import Host, Lab
from tests.daemon.node import Node, differential, instance_conf, log_lines, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def test_unicast_src_ip_not_on_the_host_faults(oracle_lab: tuple[Lab, Host, Host]) -> None:
    """A unicast_src_ip the host does not have: keepalived's bind fails and the instance is held in
    FAULT; it never becomes MASTER, never adds the VIP and never advertises from that address."""
    _, ka, py = oracle_lab
    conf = instance_conf(state="MASTER", prio=150, extra="""    unicast_src_ip 192.0.2.77
    unicast_peer {
        192.0.2.2
    }""")
    wanted = re.compile(r"bind unicast_src|src address not configured|Entering .* STATE")
    with differential([ka, py], conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: "(VI_1) Entering FAULT STATE" in n.logs(), 20)
        time.sleep(4)  # > 3 advert intervals: long enough for a BACKUP to have become MASTER
        lines = {n.impl: log_lines(n, wanted) for n in pair}
        assert lines["py"] == lines["ka"] == [
            "bind unicast_src 192.0.2.77 failed 99 - Cannot assign requested address",
            "(VI_1): entering FAULT state (src address not configured)",
            "(VI_1) Entering FAULT STATE",
        ]
        for n in pair:
            assert not n.has("192.0.2.100")


def test_non_existent_interface_stops_the_daemon(oracle_lab: tuple[Lab, Host, Host]) -> None:
    """Without dynamic_interfaces, an instance on an interface the host lacks is a permanent CONFIG
    error: the VRRP child stops with keepalived's lines, the parent terminates with exit status 2
    and does not respawn it (a daemon running with no instance would look healthy)."""
    _, ka, py = oracle_lab
    wanted = re.compile(r"interface eth9|Non-existent|permanent error|Respawning|Startup complete")
    with differential([ka, py], instance_conf(iface="eth9")) as pair:
        for n in pair:
            n.start()
        codes = {}
        for n in pair:
            assert n.proc is not None
            codes[n.impl] = n.proc.wait(20)
        lines = {n.impl: [re.sub(r"pid \d+", "pid N", x).replace(str(n.dir), "DIR")
                          for x in log_lines(n, wanted)] for n in pair}
        assert codes == {"ka": 2, "py": 2}
        assert lines["py"] == lines["ka"]
        assert "Non-existent interface specified in configuration" in lines["py"]
        for n in pair:  # log alerts on keepalived's banners match both
            assert re.search(r": Starting Keepalived v2\.2\.7 \(01/16,2022\)", n.logs())
            assert re.search(r": Stopped Keepalived v2\.2\.7 \(01/16,2022\)", n.logs())


@pytest.mark.parametrize("which", ["-p", "-r"])
def test_pid_file_that_cannot_be_written(oracle_lab: tuple[Lab, Host, Host], which: str) -> None:
    """A pid file in a directory that does not exist: keepalived's pidfile_write line, no traceback,
    no directory created; for the parent's file the daemon ends with status 0, for the VRRP child's
    the child ends with status 0 (and is respawned, as keepalived's parent does)."""
    _, ka, py = oracle_lab
    with differential([ka, py], instance_conf()) as pair:
        for n in pair:
            n.extra = (which, str(n.dir / "missing" / "x.pid"))
            n.start()
        wanted = re.compile(r"pidfile|cannot write")
        for n in pair:
            assert n.proc is not None
            if which == "-p":
                assert n.proc.wait(20) == 0
            else:
                wait_for(lambda n=n: n.logs().count("VRRP child process: cannot write pidfile") >= 2, 20)
        lines = {n.impl: [x.replace(str(n.dir), "DIR") for x in log_lines(n, wanted)][:2] for n in pair}
        assert lines["py"] == lines["ka"]
        assert lines["py"][0] == "pidfile_write : Cannot open DIR/missing/x.pid pidfile"
        for n in pair:
            assert "Traceback" not in n.logs()
            assert not (n.dir / "missing").exists()


@pytest.mark.parametrize("impl", ["ka", "py"])
def test_unicast_peer_without_a_vrrp_daemon(lab: Lab, nodes: list[Node], impl: str) -> None:
    """A unicast peer whose host is up but runs no VRRP daemon answers every advert with ICMP
    protocol unreachable. keepalived logs nothing and keeps sending; pykeepalived's connected send
    socket used to report that ICMP on the next send, drop that advert and log `Cant send advert`
    each time: now every advert reaches the peer and nothing is logged, as with keepalived."""
    from tests.harness import Capture, vrrp_adverts

    n1, n2 = lab["n1"], lab["n2"]
    conf = instance_conf(state="MASTER", prio=150, extra=f"""    unicast_src_ip {n1.ipv4}
    unicast_peer {{
        {n2.ipv4}
    }}""")
    cap = Capture(n2, "ip proto 112 or icmp")
    try:
        node = Node(n1, conf, impl=impl)
        nodes.append(node.start())
        wait_for(lambda: node.has("192.0.2.100"), 20)
        time.sleep(4.5)
        stats = node.stats()["VI_1"]
        node.stop()
        nodes.remove(node)
        seen = [a for a in vrrp_adverts(cap.stop()) if a.dst == str(n2.ipv4)]
    finally:
        cap.cleanup()
    assert "Cant send advert" not in node.logs()
    assert len(seen) >= 5, seen
    assert len(seen) >= stats["advert_sent"]  # every advert counted as sent reached the peer
