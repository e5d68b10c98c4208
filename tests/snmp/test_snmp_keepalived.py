"""SNMP beside keepalived 2.2.7: one configuration, keepalived against one private snmpd and
pykeepalived against another (each in its own namespace, prefix p16); snmpwalk and snmpbulkwalk
of KEEPALIVED-MIB (global, vrrp), VRRP-MIB and VRRPV3-MIB give the same OIDs and values, and the
traps snmptrapd receives from start to stop are the same.

Masks (each value that cannot be equal between two runs):
- the interfaces' MAC addresses (vrrpOperVirtualMacAddr, vrrpv3OperationsVirtualMacAddr): each
  namespace's eth0 has its own random MAC; replaced by `<mac>` when it is the host's eth0 MAC;
- vrrpOperVirtualRouterUpTime and vrrpv3OperationsUpTime: times (centiseconds since start);
- sysUpTime.0 in traps: snmpd's uptime.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from pykeepalived.lab import Host, Lab
from tests.daemon.node import Node, discard, dump_logs, wait_for
from tests.snmp.snmpd import PrivateSnmpd

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/snmpd"),
                                reason="Debian's snmpd is not installed")

SUBTREES = (".1.3.6.1.4.1.9586.100.5.1", ".1.3.6.1.4.1.9586.100.5.2", ".1.3.6.1.2.1.68", ".1.3.6.1.2.1.207")
UPTIMES = (".1.3.6.1.2.1.68.1.3.1.13.", ".1.3.6.1.2.1.207.1.1.1.1.12.")


def conf(socket: str) -> str:
    return f"""global_defs {{
    router_id snmp_node
    enable_snmp_vrrp
    enable_snmp_rfcv2
    enable_snmp_rfcv3
    enable_traps
    snmp_socket unix:{socket}
    notification_email {{
        root@example.org
        ops@example.org
    }}
    notification_email_from keepalived@example.org
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    notify_master "/bin/true master"
    virtual_ipaddress {{
        192.0.2.100/24
        192.0.2.101/24 dev eth0 label eth0:vip
    }}
    virtual_ipaddress_excluded {{
        198.51.100.7/32
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    version 3
    advert_int 0.5
    nopreempt
    virtual_ipaddress {{
        192.0.2.102/24
    }}
}}
"""


@pytest.fixture
def sides() -> Iterator[list[tuple[Host, PrivateSnmpd]]]:
    with Lab(prefix=f"p16{os.getpid() % 100000}-") as lab:
        out = []
        for name in ("ka", "py"):
            lan = lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64")
            h = lab.add_host(name, [lan])
            out.append((h, PrivateSnmpd(h)))
        try:
            for _, s in out:
                s.start()
            yield out
        finally:
            for _, s in out:
                s.close()


def _mac(host: Host) -> str:
    mac = host.run(["cat", "/sys/class/net/eth0/address"]).strip()
    return " ".join(b.upper() for b in mac.split(":")) + " "


def masked(lines: list[str], host: Host) -> list[str]:
    mac = _mac(host)
    out = []
    for line in lines:
        if line.startswith(UPTIMES):
            line = re.sub(r"Timeticks: .*", "Timeticks: <uptime>", line)
        out.append(line.replace(mac, "<mac>"))
    return out


def test_walks_and_traps_match_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    nodes = [Node(h, conf(str(s.socket)), impl=impl)
             for (h, s), impl in zip(sides, ("ka", "py"), strict=True)]
    try:
        for n in nodes:
            n.start()
        for n in nodes:  # both instances MASTER (VI_2 alone on its LAN takes over after its down timer)
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102"), 30)
        wait_for(lambda: all(len(s.traps()) >= 5 for _, s in sides), 10)
        for oid in SUBTREES:
            walks = [masked(s.walk(oid), h) for h, s in sides]
            assert walks[0], f"keepalived served nothing under {oid}"
            assert walks[1] == walks[0], oid
            bulk = [masked(s.walk(oid, bulk=True), h) for h, s in sides]
            assert bulk[1] == bulk[0] == walks[0], oid
        for n in nodes:
            assert n.stop() == 0
        wait_for(lambda: all(len(s.traps()) >= 7 for _, s in sides), 10)
        traps = [s.traps() for _, s in sides]
        assert traps[1] == traps[0]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
    finally:
        discard(*nodes)
