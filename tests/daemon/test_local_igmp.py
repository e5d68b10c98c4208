"""disable_local_igmp: net.ipv4.igmp_link_local_mcast_reports of the daemon's namespace is 0 while
the VRRP process runs and back to 1 after it stopped; a reload changing the keyword is refused by
the parent with keepalived's line. keepalived 2.2.7 runs the same steps as the oracle."""

from __future__ import annotations

import signal

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for

pytestmark = pytest.mark.netns

KEY = "net/ipv4/igmp_link_local_mcast_reports"
REFUSED = "Cannot change disable_local_igmp at a reload - please restart keepalived"


def test_sysctl_set_for_the_lifetime_and_reload_refused(lab: Lab, nodes: list[Node]) -> None:
    pair = [Node(lab["n1"], instance_conf(state="MASTER", globals_="    disable_local_igmp"), impl="ka"),
            Node(lab["n2"], instance_conf(state="MASTER", globals_="    disable_local_igmp", vrid=52,
                                          vips=("192.0.2.101/24",)))]
    nodes.extend(pair)
    try:
        for n in pair:
            assert n.host.sysctl(KEY) == "1"
            n.start()
        for n in pair:
            wait_for(lambda n=n: n.vrrp_pid() is not None and "Entering BACKUP STATE" in n.logs(), 15)
            assert n.host.sysctl(KEY) == "0"
            n.conf.write_text(n.conf.read_text().replace("    disable_local_igmp\n", ""))
            n.signal(signal.SIGHUP)
        for n in pair:
            wait_for(lambda n=n: REFUSED in n.logs(), 10)
            assert n.host.sysctl(KEY) == "0"
            n.signal(signal.SIGTERM)
            n.stop()
            assert n.host.sysctl(KEY) == "1"
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(*pair)}") from exc


def test_left_alone_when_already_off(lab: Lab, nodes: list[Node]) -> None:
    n = Node(lab["n1"], instance_conf(globals_="    disable_local_igmp"))
    nodes.append(n)
    n.host.sysctl(KEY, 0)
    n.start()
    wait_for(lambda: "Entering BACKUP STATE" in n.logs(), 15)
    n.signal(signal.SIGTERM)
    n.stop()
    assert n.host.sysctl(KEY) == "0"  # it was 0 at start: nothing to restore
