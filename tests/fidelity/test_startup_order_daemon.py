"""Start-up lines in keepalived 2.2.7's order, parent and VRRP child, side by side.

keepalived's parent logs "Startup complete" when every child has told it that it read its
configuration (config_notify.c). The VRRP child does that in start_vrrp() right after vrrp_complete_init
and the GARP/NDISC channels ("Registering gratuitous ARP shared channel" with -D), before the start-up
VIP removal ("(VI_1) removing VIPs.", -D), the socket pool and "Entering BACKUP STATE (init)". In a
plain run the parent's line lands anywhere after that point, as the two processes are scheduled; so
each daemon runs under lab/gate.py, which holds the VRRP child at the write of its first line after
that point: "Startup complete" must come while the child is held, right after the child's earlier
lines. Then the child goes on, and each process's own start-up lines (parent, VRRP child) must be
keepalived's, in keepalived's order (pids, temp dirs, link-local addresses and fds masked).

The checker child tells the parent once its LVS table is set, before it activates its checkers
(check_daemon.c start_check: notify_config_read, then register_checkers_thread): with a
virtual_server, the checker child is held at its first "Activating healthchecker" line instead. Its
other lines differ (keepalived's "Initializing ipvs" is pykeepalived's data plane line), so only that
point is compared; keepalived's checker child stops without IPVS, so on a kernel without it only
pykeepalived runs that case, against the point read in keepalived's source.

The BFD child tells the parent before its dispatcher opens the BFD sockets (bfd_daemon.c start_bfd):
with UDP port 3784 already taken on the host, it is held at its "bind() error" line and "Startup
complete" comes meanwhile in both, before the child stops the daemon (permanent FATAL).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, differential, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

SCRIPT = 'vrrp_script chk {\n    script "/bin/true"\n    interval 1\n}\n'
CHECKER = """virtual_server 192.0.2.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.2 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
"""
ONE = instance_conf(prio=150)
CASES = {  # configuration, -D, the VRRP child's first line after its notification to the parent
    "one-D": (ONE, True, r"\(VI_1\) removing VIPs\."),
    "one": (ONE, False, r"\(VI_1\) Entering BACKUP STATE"),
    "script-D": (SCRIPT + instance_conf(prio=150, extra="    track_script {\n        chk\n    }\n"), True,
                 r"\(VI_1\) removing VIPs\."),
    "checker-D": (ONE + CHECKER, True, r"Activating healthchecker"),
    # tracks mv0, a macvlan left down: the instance starts in FAULT; a vrrp_script nobody tracks
    # (vrrp_complete_init's lines: the fault lines, then "Warning - script chk is not used")
    "fault-D": (SCRIPT + instance_conf(prio=150, extra="    track_interface {\n        mv0\n    }\n"), True,
                r"\(VI_1\) removing VIPs\."),
}
# the parent's lines; every other line of the start-up is the VRRP (or checker) child's
PARENT = re.compile(r"Starting Keepalived|Running on|Command line|Opening file|Configuration file|NOTICE|"
                    r"Starting \w+ child process|Startup complete")
BANNER = re.compile(r"^(Starting Keepalived|Running on|Command line).*")  # pykeepalived's own suffixes
OURS_ONLY = re.compile(r"^Control socket ")  # pykeepalived's extension (control socket path)


def gated(node: Node, stop_at: str) -> Path:
    """Run the node's daemon under lab/gate.py, holding its VRRP child at `stop_at`; the gate's report."""
    report = node.dir / "gate.report"
    plain = node.argv
    node.argv = lambda: [sys.executable, "-m", "pykeepalived.lab.gate",  # type: ignore[method-assign]
                         "--stop-at", stop_at, "--report", str(report), "--", *plain()]
    return report


def lines(node: Node) -> list[str]:
    """The log's lines without time stamps or continuation lines, masked, pykeepalived-only lines out."""
    out = []
    for line in node.logs().splitlines():
        if ": " not in line or line.split(": ", 1)[1].startswith(" "):
            continue
        msg = BANNER.sub(r"\1", line.split(": ", 1)[1].replace(str(node.dir), "DIR"))
        msg = re.sub(r"fe80::[0-9a-f:]+", "fe80::X", re.sub(r"pid=\d+", "pid=N", msg))
        if not OURS_ONLY.match(msg):
            out.append(re.sub(r"fd\(\d+,\d+\)", "fd(N,N)", msg))
    return out


def started(node: Node, detail: bool) -> bool:
    text = node.logs()
    return ("Entering BACKUP STATE" in text or "entering FAULT state" in text) and (
        not detail or "VRRP sockpool" in text)


def run(node: Node, case: str) -> tuple[list[str], list[str], list[str]]:
    """Start under the gate; the lines while the VRRP child is held, then the parent's and the
    children's start-up lines once it has gone on."""
    _, detail, stop_at = CASES[case]
    if not detail:
        node.argv = lambda: [a for a in Node.argv(node) if a != "-D"]  # type: ignore[method-assign]
    report = gated(node, stop_at)
    node.start()
    wait_for(lambda: report.exists() and "held" in report.read_text(), 30)
    held_line = report.read_text()
    wait_for(lambda: "Startup complete" in node.logs(), 20)  # fails if the parent waits for the held line
    at_hold = lines(node)
    assert re.search(stop_at, held_line) and not re.search(stop_at, node.logs()), (held_line, at_hold)
    assert node.proc is not None
    node.proc.send_signal(signal.SIGUSR1)  # the gate lets the child go on
    wait_for(lambda: started(node, detail), 20)
    everything = lines(node)
    end = max(i for i, x in enumerate(everything)
              if "Entering BACKUP STATE" in x or "entering FAULT state" in x or "VRRP sockpool" in x)
    return (at_hold, [x for x in everything[:end + 1] if PARENT.match(x)],
            [x for x in everything[:end + 1] if not PARENT.match(x)])


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("checker")])
def test_startup_lines_in_keepalived_order(oracle_lab: tuple[Lab, Host, Host], case: str) -> None:
    _, *hosts = oracle_lab
    if case == "fault-D":
        for h in hosts:
            h.run("ip link add mv0 link eth0 type macvlan")
    with differential(hosts, CASES[case][0]) as pair:
        got = {n.impl: run(n, case) for n in pair}
        for impl, (at_hold, _, _) in got.items():
            # the parent's line came once the child had told it, while the child is held at its next line
            assert at_hold[-1] == "Startup complete", (impl, at_hold)
        assert got["py"][1] == got["ka"][1], "parent's start-up lines"
        assert got["py"][2] == got["ka"][2], "VRRP child's start-up lines"


def test_checker_child_tells_before_its_checkers(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, *hosts = oracle_lab
    with differential(hosts, CASES["checker-D"][0]) as pair:
        for n in pair if os.path.exists("/proc/net/ip_vs") else pair[1:]:  # keepalived needs IPVS
            at_hold, _, _ = run(n, "checker-D")
            assert "Startup complete" in at_hold, (n.impl, at_hold)


BFD = "bfd_instance RT {\n    neighbor_ip 192.0.2.9\n}\n" + instance_conf(
    prio=150, extra="    track_bfd {\n        RT\n    }\n")
TAKE_BFD_PORT = ("import socket, time\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
                 "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\ns.bind(('::', 3784))\n"
                 "print('bound', flush=True)\ntime.sleep(120)\n")


def test_bfd_child_tells_before_it_binds(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, *hosts = oracle_lab
    holders = [h.popen([sys.executable, "-c", TAKE_BFD_PORT], stdout=subprocess.PIPE) for h in hosts]
    try:
        for p in holders:
            assert p.stdout is not None and p.stdout.readline() == b"bound\n"
        with differential(hosts, BFD) as pair:
            for n in pair:
                report = gated(n, r"bind\(\) error")
                n.start()
                wait_for(lambda n=n, report=report: report.exists() and "held" in report.read_text(), 30)
                wait_for(lambda n=n: "Startup complete" in n.logs(), 20)  # the BFD child told before binding
                assert "bind() error" not in n.logs(), n.logs()
                assert n.proc is not None
                n.proc.send_signal(signal.SIGUSR1)
                assert n.proc.wait(20) == 1, n.logs()  # keepalived's permanent FATAL: the parent stops
                n.proc = None
                assert "Unable to open listening socket" in n.logs()
    finally:
        for p in holders:
            p.kill()
            p.wait()
