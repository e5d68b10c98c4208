"""linkbeat_interfaces: the link state of a listed interface comes from polling the NIC (ethtool
ETHTOOL_GLINK on a veth, MII being unsupported there), once a second, not from netlink; keepalived
2.2.7 runs the same steps on its own LAN as the oracle: the same lines, start-up ones included."""

from __future__ import annotations

import re

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import differential, instance_conf, log_lines, wait_for

pytestmark = pytest.mark.netns

CONF = """linkbeat_interfaces {
    eth0 MII
    lo
}
""" + instance_conf(state="MASTER")
WANTED = re.compile(r"[Ll]inkbeat|polling thread|Netlink reports|Entering (FAULT|MASTER|BACKUP) STATE")


def test_polled_link_state_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    lab, *hosts = oracle_lab
    with differential(hosts, CONF) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: n.has("192.0.2.100"), 15)
        for up in (False, True):
            for h in hosts:
                lab.set_port(h, h.ifaces[0].lan, up)
            for n in pair:
                wait_for(lambda n=n, up=up: f"Linkbeat reports eth0 {'up' if up else 'down'}" in n.logs(), 5)
        ka, py = (log_lines(n, WANTED) for n in pair)
        assert ka[:3] == ["Turning off linkbeat for lo since not used for tracking",
                          "(eth0): Configured linkbeat type MII not supported, using ETHTOOL",
                          "Using MII-BMSR/ETHTOOL NIC polling thread(s)..."]
        assert not any("Netlink" in x for x in ka)
        assert py == ka
