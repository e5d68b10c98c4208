"""garp_extra_if, promote_secondaries, unicast_fault_no_peer and track_src_ip in a running daemon,
with keepalived 2.2.7 as the oracle: both run the same configuration side by side, each host on its
own three LANs, and their log lines, sysctls, addresses and ARP frames are compared."""

from __future__ import annotations

import ipaddress
import json
import re
import time

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.capture import Capture, read_pcap
from pykeepalived.lab.node import Node, dump_logs, wait_for

pytestmark = pytest.mark.netns

CONF = """global_defs {
    router_id kw2
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 250
    advert_int 1
    garp_master_repeat 1
    garp_master_delay 0
    promote_secondaries
    garp_extra_if all 1
    virtual_ipaddress {
        192.0.2.100/24
        198.51.100.100/24 dev eth1
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 250
    advert_int 1
    unicast_fault_no_peer
    virtual_ipaddress {
        192.0.2.102/24
    }
}
vrrp_instance VI_3 {
    interface eth2
    virtual_router_id 53
    priority 250
    advert_int 1
    unicast_src_ip 203.0.113.1
    track_src_ip
    unicast_peer {
        203.0.113.254
    }
    virtual_ipaddress {
        198.51.100.103/32 dev eth2
    }
}
"""

EXTRA = "(VI_1) Sending/queueing gratuitous ARPs on eth1 for 198.51.100.100"
PROMOTE = "net/ipv4/conf/eth0/promote_secondaries"


def lines(node: Node, iname: str) -> list[str]:
    return re.findall(rf"\({iname}\)[^\n]*", node.logs())


def garps(cap: Capture, addr: str) -> int:
    """Gratuitous ARP requests (sender = target = `addr`) in a capture."""
    ip = ipaddress.IPv4Address(addr).packed
    return sum(1 for _t, f in read_pcap(cap.stop()) if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01"
               and f[28:32] == ip == f[38:42])


def test_extra_if_garps_promote_secondaries_fault_no_peer_track_src_ip() -> None:
    with Lab() as lab:
        hosts = [lab.add_host(name, [lab.add_lan(ipv4=net) for net in
                                     ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")])
                 for name in ("ka", "py")]
        nodes = [Node(h, CONF, impl=h.name) for h in hosts]
        caps = [Capture(h, "arp", iface="eth1") for h in hosts]
        try:
            for n in nodes:
                n.start()
            for n in nodes:
                wait_for(lambda n=n: n.has("192.0.2.100"), 20)
            # the burst on becoming MASTER (1 round, no delayed one) then one GARP per second on eth1
            for n in nodes:
                wait_for(lambda n=n: n.logs().count(EXTRA) >= 3, 10)
            for h in hosts:
                assert h.sysctl(PROMOTE) == "1"
            # VI_2: unicast_fault_no_peer without peers: FAULT, never MASTER, same lines as keepalived
            assert all(not n.has("192.0.2.102") for n in nodes)
            ka2, py2 = (lines(n, "VI_2") for n in nodes)
            assert "(VI_2) Cannot use unicast without any peers - going to fault state" in ka2
            assert py2 == ka2
            # VI_3: 2.2.7's track_src_ip never downs the instance (its address check compares the
            # sockaddr, not the address): the instance stays MASTER when its source goes away
            for h, n in zip(hosts, nodes, strict=True):
                wait_for(lambda n=n: n.has("198.51.100.103", "eth2"), 10)
                h.ip("addr", "del", "203.0.113.1/24", "dev", "eth2")
            time.sleep(1.5)
            for n in nodes:
                assert not [x for x in lines(n, "VI_3") if "FAULT" in x]
                assert n.has("198.51.100.103", "eth2")
            for n in nodes:
                n.stop()
            for h in hosts:
                assert h.sysctl(PROMOTE) == "0"  # put back at shutdown, as keepalived does
            # every extra-interface GARP logged was sent: 1 at becoming MASTER + one per interval
            for n, cap in zip(nodes, caps, strict=True):
                assert garps(cap, "198.51.100.100") == n.logs().count(EXTRA) >= 3
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
        finally:
            for c in caps:
                c.cleanup()
            for n in nodes:
                n.kill()


VMAC_ADDR = """global_defs {
    router_id kw2
    vmac_addr_prefix vad
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 250
    advert_int 1
    use_vmac
    use_vmac_addr
    garp_extra_if 1
    virtual_ipaddress {
        192.0.2.100/24
        198.51.100.100/24 dev eth1
    }
    virtual_ipaddress_excluded {
        2001:db8::100/64
    }
}
"""


def links(host: Host) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (parent, MAC, global addresses) of the macvlans in a host."""
    data = json.loads(host.run(["ip", "-j", "-d", "addr", "show"]))
    return {d["ifname"]: (d.get("link", ""), d["address"],
                          sorted(a["local"] for a in d.get("addr_info", []) if a.get("scope") == "global"))
            for d in data if d.get("linkinfo", {}).get("info_kind") == "macvlan"}


def test_use_vmac_addr_as_keepalived() -> None:
    with Lab() as lab:
        hosts = [lab.add_host(name, [lab.add_lan(ipv4=net) for net in ("192.0.2.0/24", "198.51.100.0/24")])
                 for name in ("ka", "py")]
        nodes = [Node(h, VMAC_ADDR, impl=h.name) for h in hosts]
        try:
            for n in nodes:
                n.start()
            # address VMACs named with vmac_addr_prefix; the periodic GARP/NA goes on them only
            for n in nodes:
                wait_for(lambda n=n: n.logs().count("Unsolicited Neighbour Adverts on vad6.51") >= 3, 20)
            ka, py = (links(h) for h in hosts)
            assert ka == {
                "vrrp.51": ("eth0", "00:00:5e:00:01:33", ["192.0.2.100"]),
                "vad.51": ("eth1", "00:00:5e:00:01:33", ["198.51.100.100"]),
                "vad6.51": ("eth0", "00:00:5e:00:02:33", ["2001:db8::100"]),
            }
            assert py == ka
            ka_lines, py_lines = (set(lines(n, "VI_1")) for n in nodes)
            assert "(VI_1) Sending/queueing gratuitous ARPs on vad.51 for 198.51.100.100" in ka_lines
            assert py_lines == ka_lines
            # vrrp.51 has the master's two rounds (at MASTER, then vrrp_garp_master_delay 5 s later),
            # never the periodic one: counted once past the delayed round (the NA rounds on vad6.51:
            # one at MASTER, one a second, the delayed one: an 8th is at least 6 s after MASTER)
            for n in nodes:
                wait_for(lambda n=n: n.logs().count("Unsolicited Neighbour Adverts on vad6.51") >= 8, 30)
            assert [n.logs().count("gratuitous ARPs on vrrp.51") for n in nodes] == [2, 2]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
        finally:
            for n in nodes:
                n.kill()
