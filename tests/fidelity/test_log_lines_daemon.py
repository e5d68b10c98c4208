"""The log lines an operator greps for, as keepalived 2.2.7 prints them, with and without -D.

The same config runs under keepalived ("ka") and pykeepalived ("py") with the same assertions:
start-up lines of the VRRP child (netlink channels, interface addresses, GARP/NDISC channels,
start-up VIP removal, socket pool, "Startup complete"), VIP/eVIP set and removal, one
"Sending/queueing" line per address and burst plus one line per frame, and the stop lines with the
CPU times. Without -D only "Startup complete", the state lines and a bare "Stopped" remain.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

CONF = instance_conf(
    prio=150,
    extra="    garp_master_delay 0\n"
          "    virtual_ipaddress_excluded {\n        2001:db8::100/64\n    }\n",
)

# lines keepalived 2.2.7 prints only with -D (regex, how many times in this run)
DETAIL_LINES: list[tuple[str, int]] = [
    (r"Registering Kernel netlink reflector", 1),
    (r"Registering Kernel netlink command channel", 1),
    (r"Assigned address 192\.0\.2\.\d+ for interface eth0", 1),
    (r"Assigned address fe80::[0-9a-f:]+ for interface eth0", 1),
    (r"Registering gratuitous ARP shared channel", 1),
    (r"Registering gratuitous NDISC shared channel", 1),
    (r"VRRP sockpool: \[ifindex\(\s*\d+\), family\(IPv4\), proto\(112\), fd\(\d+,\d+\) multicast, "
     r"address\(224\.0\.0\.18\)\]", 1),
    (r"\(VI_1\) removing VIPs\.", 2),  # at start-up and at stop
    (r"\(VI_1\) removing E-VIPs\.", 2),
    (r"\(VI_1\) setting VIPs\.", 1),
    (r"\(VI_1\) setting E-VIPs\.", 1),
    (r"\(VI_1\) Sending/queueing gratuitous ARPs on eth0 for 192\.0\.2\.100", 1),
    (r"\(VI_1\) Sending/queueing Unsolicited Neighbour Adverts on eth0 for 2001:db8::100", 1),
    (r"Sending gratuitous ARP on eth0 for 192\.0\.2\.100", 5),
    (r"Sending unsolicited Neighbour Advert on eth0 for 2001:db8::100", 5),
    (r"\(VI_1\) sent 0 priority", 1),
    (r"Stopped - used (\(self/children\) )?\d+\.\d{6}(/\d+\.\d{6})? user time, "
     r"\d+\.\d{6}(/\d+\.\d{6})? system time", 1),
    (r"CPU usage \(self/children\) user: \d+\.\d{6}/\d+\.\d{6} system: \d+\.\d{6}/\d+\.\d{6}", 1),
]
ALWAYS = [r"Startup complete", r"\(VI_1\) Entering BACKUP STATE \(init\)", r"\(VI_1\) Entering MASTER STATE"]


def messages(node: Node) -> list[str]:
    """Console lines without their `%c: ` time stamp."""
    return [line.split(": ", 1)[1] for line in node.logs().splitlines() if ": " in line and line[0] != " "]


def count(pattern: str, lines: list[str]) -> int:
    return sum(1 for line in lines if re.fullmatch(pattern, line))


@pytest.mark.parametrize("detail", [True, False], ids=["D", "noD"])
@pytest.mark.parametrize("impl", ["py", "ka"])
def test_log_lines(lab: Lab, nodes: list[Node], impl: str, detail: bool) -> None:
    node = Node(lab["n1"], CONF, impl=impl)
    if not detail:
        node.argv = lambda: [a for a in Node.argv(node) if a != "-D"]  # type: ignore[method-assign]
    nodes.append(node)
    node.start()
    wait_for(lambda: node.has("192.0.2.100") and node.has("2001:db8::100"), 15)
    if detail:
        wait_for(lambda: count(DETAIL_LINES[14][0], messages(node)) >= 5, 5)
    node.stop()
    lines = messages(node)
    where = "\n".join(lines)
    for pattern in ALWAYS:
        assert count(pattern, lines) == 1, (pattern, where)
    for pattern, n in DETAIL_LINES:
        assert count(pattern, lines) == (n if detail else 0), (pattern, where)
    assert count("Stopped", lines) == (0 if detail else 1), where
    if detail:
        # each burst line is followed by the first frame for its address (keepalived vrrp_send_update)
        i = lines.index("(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.100")
        assert lines[i + 1] == "Sending gratuitous ARP on eth0 for 192.0.2.100", where
        j = lines.index("(VI_1) Sending/queueing Unsolicited Neighbour Adverts on eth0 for 2001:db8::100")
        assert lines[j + 1] == "Sending unsolicited Neighbour Advert on eth0 for 2001:db8::100", where
        assert i < j, where


RELOAD_V6 = """vrrp_instance VI_5 {
    state MASTER
    interface eth0
    virtual_router_id 55
    priority 200
    version 3
    virtual_ipaddress {
        fe80::62/64
        2001:db8::62/64
    }
}
vrrp_instance VI_6 {
    interface eth0
    virtual_router_id 56
    priority 100
    version 3
    virtual_ipaddress {
        2001:db8::66/64
    }
}
"""


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_assigned_address_after_reload_is_the_interface_own(lab: Lab, nodes: list[Node], impl: str) -> None:
    """A reload (-D) logs each interface's addresses again (keepalived add_vrrp_to_interface): with a
    link-local VIP (fe80::62) already on eth0, the IPv6 line is eth0's own link-local address, never
    an address the daemon added (keepalived: ignore_address_if_ours_or_link_local)."""
    host = lab["n1"]
    node = Node(host, RELOAD_V6, impl=impl)
    nodes.append(node)
    node.start()
    wait_for(lambda: node.has("fe80::62") and node.has("2001:db8::66"), 20)
    node.signal(signal.SIGHUP)
    wait_for(lambda: "Reload complete" in node.logs() or "Reload finished" in node.logs(), 15)
    line = r"Assigned address fe80::[0-9a-f:]+ for interface eth0"
    wait_for(lambda: count(line, messages(node)) >= 2, 10)
    addrs = host.run(["ip", "-6", "addr", "show", "dev", "eth0"])
    own = [a for a in re.findall(r"inet6 (fe80::[0-9a-f:]+)/64", addrs) if a != "fe80::62"]
    assigned = [m for m in messages(node) if re.fullmatch(line, m)]
    assert assigned == [f"Assigned address {own[0]} for interface eth0"] * 2, (own, node.logs()[-4000:])
