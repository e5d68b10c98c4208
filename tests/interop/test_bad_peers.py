"""Bad peers: adverts that must be dropped, counted (keepalived.stats) and logged as keepalived 2.2.7
does, without a crash or a false election (keepalived.md §5.5). The victim is pykeepalived or, as the
oracle for counters and log texts, keepalived itself; the same assertions hold for both."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import IMPLS, STARTUP, Conf, Inst, master_entries, other, start, wait_log
from pykeepalived.vrrp.packet import Advertisement, build_ipv4_datagram, encode_advert
from tests.interop.conftest import INTEROP

pytestmark = INTEROP

VIP = "192.0.2.100"


def auth(pw: str) -> tuple[str, ...]:
    return ("authentication {", "    auth_type PASS", f"    auth_pass {pw}", "}")


def still_master(n: Node) -> bool:
    return n.has(VIP) and master_entries(n) == 1 and "Entering BACKUP STATE" not in n.logs().split(
        "Entering MASTER STATE", 1)[1]


def no_crash(n: Node) -> None:
    assert n.proc is not None and n.proc.poll() is None, n.logs()
    assert "Traceback" not in n.logs() and "internal error" not in n.logs(), n.logs()


@pytest.mark.parametrize("victim", IMPLS)
def test_mismatched_password(victim: str, nodes: list[Node]) -> None:
    with Lab(hosts=["n1", "n2"]) as lab:
        v = start(lab, nodes, "n1", victim, Conf([Inst(prio=100, lines=auth("s3cret"))]))
        wait_for(lambda: v.has(VIP), STARTUP)
        bad = start(lab, nodes, "n2", other(victim), Conf([Inst(prio=200, lines=auth("wrong"))]))
        wait_log(v, "(VI_1) received an invalid passwd!", STARTUP)
        time.sleep(1)
        assert still_master(v), v.logs()
        st = v.stats()["VI_1"]
        assert st["auth_failure"] >= 1 and st["advert_rcvd"] == 0, st
        no_crash(v)
        del bad


@pytest.mark.parametrize("victim", IMPLS)
def test_wrong_advert_interval_v2(victim: str, nodes: list[Node]) -> None:
    with Lab(hosts=["n1", "n2"]) as lab:
        v = start(lab, nodes, "n1", victim, Conf([Inst(prio=100, advert="1")]))
        wait_for(lambda: v.has(VIP), STARTUP)
        start(lab, nodes, "n2", other(victim), Conf([Inst(prio=200, advert="2")]))
        wait_log(v, "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec", STARTUP)
        time.sleep(2.5)
        assert still_master(v), v.logs()
        st = v.stats()["VI_1"]
        # a DROP, not a KO: keepalived 2.2.7 logs it but does not count it in advert_interval_err
        assert st["advert_interval_err"] == 0 and st["advert_rcvd"] == 0, st
        no_crash(v)


@pytest.mark.parametrize("victim", IMPLS)
def test_different_address_list(victim: str, nodes: list[Node]) -> None:
    """keepalived 2.2.7 rejects an advert whose address count differs (KO, counted in addr_list_err):
    a higher-priority peer with another address list never wins the election."""
    with Lab(hosts=["n1", "n2"]) as lab:
        v3 = {"advert": "0.1", "version": 3}
        v = start(lab, nodes, "n1", victim, Conf([Inst(prio=100, **v3)]))  # type: ignore[arg-type]
        wait_for(lambda: v.has(VIP), STARTUP)
        start(lab, nodes, "n2", other(victim),
              Conf([Inst(prio=200, vips=(f"{VIP}/24", "192.0.2.200/24"), **v3)]))  # type: ignore[arg-type]
        wait_log(v, "(VI_1) received an unexpected ip number count 2, expected 1!", STARTUP)
        time.sleep(1)
        assert still_master(v), v.logs()
        st = v.stats()["VI_1"]
        assert st["addr_list_err"] >= 1 and st["advert_rcvd"] == 0, st
        no_crash(v)


def _send_raw(datagrams: list[bytes], dst: str, interval: float) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0\0")
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        for d in datagrams:
            s.sendto(d, socket.MSG_DONTROUTE, (dst, 0))
            time.sleep(interval)
    finally:
        s.close()


@pytest.mark.parametrize("victim", IMPLS)
def test_multicast_ttl_below_255(victim: str, nodes: list[Node]) -> None:
    """A multicast advert with TTL 254 (it crossed a router) must be rejected (RFC 5798 §7.1)."""
    with Lab(hosts=["n1", "n2"]) as lab:
        v = start(lab, nodes, "n1", victim, Conf([Inst(prio=100, advert="0.1", version=3)]))
        wait_for(lambda: v.has(VIP), STARTUP)
        src, dst = ipaddress.IPv4Address("192.0.2.2"), ipaddress.IPv4Address("224.0.0.18")
        adv = Advertisement(3, 51, 200, 10, (ipaddress.IPv4Address(VIP),))
        pdu = encode_advert(adv, src=src, dst=dst)
        grams = [build_ipv4_datagram(pdu, src=src, dst=dst, ttl=254, ident=i + 1) for i in range(10)]
        lab["n2"].call(_send_raw, grams, str(dst), 0.05)
        wait_log(v, "(VI_1) invalid TTL/HL. Received 254 and expect 255", 3)
        time.sleep(0.5)
        assert still_master(v), v.logs()
        st = v.stats()["VI_1"]
        assert st["ip_ttl_err"] == 10 and st["advert_rcvd"] == 0, st
        no_crash(v)


@pytest.mark.parametrize("victim", IMPLS)
def test_unicast_ttl_through_a_router(victim: str, nodes: list[Node]) -> None:
    """A unicast peer two hops away (through a router namespace) arrives with TTL 254; with
    `min_ttl 255` on the peer the advert is dropped and counted, and the victim stays master."""
    with Lab(hosts=["n1"]) as lab:
        lan0 = lab.lans[0]
        lan1 = lab.add_lan()
        r = lab.add_host("r", [lan0, lan1], forwarding=True)
        far = lab.add_host("far", [lan1])
        lab["n1"].ip("route", "add", str(lan1.ipv4), "via", str(r.iface("lan0").ipv4.ip))
        far.ip("route", "add", str(lan0.ipv4), "via", str(r.iface("lan1").ipv4.ip))
        me, peer = str(lab["n1"].ipv4), str(far.ipv4)
        uni = lambda src, dst, extra="": (  # noqa: E731
            f"unicast_src_ip {src}", "unicast_peer {", f"    {dst}{extra}", "}")
        ttl_range = uni(me, peer, " min_ttl 255 max_ttl 255")
        v = start(lab, nodes, "n1", victim, Conf([Inst(prio=100, advert="0.1", version=3, lines=ttl_range)]))
        wait_for(lambda: v.has(VIP), STARTUP)
        f = start(lab, nodes, "far", other(victim),
                  Conf([Inst(prio=200, advert="0.1", version=3, iface="eth0", vips=(f"{VIP}/24",),
                             lines=uni(peer, me))]))
        wait_log(v, "(VI_1) TTL/HL 254 not in range 255 - 255", STARTUP)
        time.sleep(0.5)
        assert still_master(v), v.logs()
        st = v.stats()["VI_1"]
        # the per-peer TTL range is checked after advert_rcvd is counted (keepalived.md §5.5, #16)
        assert st["advert_rcvd"] >= 1 and st["become_master"] == 1 and st["release_master"] == 0, st
        no_crash(v)
        del f
