"""How often repeated run-time warnings are logged, side by side with keepalived 2.2.7 (issue 12):
keepalived 2.2.7 rate-limits none of its per-advert warnings (vrrp.c vrrp_check_packet and the
state handlers log with a plain log_message for every packet, and no `once` flag exists there), so
a peer sending N bad adverts gets N lines of each kind, on both. A fixed number of crafted adverts
(not a time window) makes the counts exact."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import time

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import differential, instance_conf, wait_for
from pykeepalived.vrrp.packet import Advertisement, build_ipv4_datagram, encode_advert

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

N = 4
VIP, SRC, GROUP = (ipaddress.IPv4Address(a) for a in ("192.0.2.100", "192.0.2.2", "224.0.0.18"))
AUTH = "    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }"
PW = b"s3cret\0\0"


def _grams(adv: Advertisement, ttl: int = 255) -> list[bytes]:
    pdu = encode_advert(adv, src=SRC, dst=GROUP)
    return [build_ipv4_datagram(pdu, src=SRC, dst=GROUP, ttl=ttl, ident=i + 1) for i in range(N)]


# each kind of bad advert, N times, and the line keepalived logs for each one
KINDS = [
    (_grams(Advertisement(2, 51, 200, 1, (VIP,), 1, b"wrong\0\0\0")), "(VI_1) received an invalid passwd!"),
    (_grams(Advertisement(2, 51, 200, 2, (VIP,), 1, PW)),
     "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec"),
    (_grams(Advertisement(2, 51, 200, 1, (VIP, ipaddress.IPv4Address("192.0.2.200")), 1, PW)),
     "(VI_1) received an unexpected ip number count 2, expected 1!"),
    (_grams(Advertisement(2, 51, 200, 1, (VIP,), 1, PW), ttl=254),
     "(VI_1) invalid TTL/HL. Received 254 and expect 255"),
    (_grams(Advertisement(2, 99, 200, 1, (VIP,), 1, PW)),
     "Unknown VRID(99) received on interface(eth0). ignoring..."),
    (_grams(Advertisement(2, 51, 100, 1, (VIP,), 1, PW)),
     "(VI_1) Received advert from 192.0.2.2 with lower priority 100, ours 150, forcing new election"),
]


def _send(datagrams: list[bytes]) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0\0")
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        for d in datagrams:
            s.sendto(d, socket.MSG_DONTROUTE, (str(GROUP), 0))
            time.sleep(0.1)
    finally:
        s.close()


def test_repeated_warnings_as_often_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    lab, ka, py = oracle_lab
    conf = instance_conf(state="MASTER", prio=150, extra=AUTH, globals_="    log_unknown_vrids")
    senders = [lab.add_host(f"s{h.name}", [h.ifaces[0].lan]) for h in (ka, py)]
    assert all(str(s.ipv4) == str(SRC) for s in senders)
    with differential([ka, py], conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: "(VI_1) setting VIPs." in n.logs(), 30)
        for grams, _ in KINDS:
            for s in senders:
                s.call(_send, grams)
        time.sleep(1)
        counts = {n.impl: [len(re.findall(re.escape(line), n.logs())) for _, line in KINDS] for n in pair}
        assert counts["py"] == counts["ka"] == [N] * len(KINDS)
