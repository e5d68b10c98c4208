"""Real keepalived 2.2.7 as the oracle for the receive checks' verdicts and log texts.

keepalived runs (VRRP child only) in one network namespace; the test injects crafted datagrams
from a second namespace through a raw IP_HDRINCL socket, then requires that for every datagram the
log line our `check_packet` produces appears in keepalived's log (keepalived logs only the first
failing check, so the same line also means the same check fired first). Checks 1 (AH header vs
auth type: keepalived has one socket per IP protocol, so the datagram never reaches an instance of the
other kind), 9 (tot_len: the kernel rewrites and validates it) and 12 (multicast vs unicast
destination: the receive sockets are bound to the group or the unicast address) cannot be reached
through the kernel and are left to the unit tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from vrrp_pkt import Pkt, params, peer

from pykeepalived.vrrp.params import AuthType, ChecksumMode, InstanceParams
from pykeepalived.vrrp.receive import RxResult, RxState, check_packet

pytestmark = [
    pytest.mark.netns,
    pytest.mark.interop,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("keepalived") is None, reason="needs root and keepalived"
    ),
]

KA = IPv4Address("192.0.2.1")
INJ = IPv4Address("192.0.2.2")
VIP = IPv4Address("192.0.2.100")
CONFIG = """
vrrp_instance NONE {
    interface va
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance PASS {
    interface va
    virtual_router_id 52
    priority 100
    authentication {
        auth_type PASS
        auth_pass pw
    }
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance AH {
    interface va
    virtual_router_id 53
    priority 100
    authentication {
        auth_type AH
        auth_pass ahkey
    }
    virtual_ipaddress {
        192.0.2.100
    }
}
vrrp_instance UNI {
    interface va
    version 3
    virtual_router_id 55
    priority 100
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2 min_ttl 60 max_ttl 70
    }
    virtual_ipaddress {
        192.0.2.100
    }
}
"""
INSTANCES: dict[str, InstanceParams] = {
    "NONE": params(name="NONE", vrid=51, vips=(VIP,)),
    "PASS": params(name="PASS", vrid=52, vips=(VIP,), auth_type=AuthType.PASS, auth_pass=b"pw"),
    "AH": params(name="AH", vrid=53, vips=(VIP,), auth_type=AuthType.AH, auth_pass=b"ahkey"),
    "UNI": params(
        name="UNI",
        vrid=55,
        version=3,
        vips=(VIP,),
        unicast_peers=(peer("192.0.2.2", 60, 70),),
        check_unicast_src=True,
    ),
}
NONE = Pkt(vrid=51, src=INJ, priority=254)
PASS = Pkt(vrid=52, src=INJ, priority=254, auth_type=1, auth_data=b"pw")
AH = Pkt(vrid=53, src=INJ, priority=254, auth_type=2, ah=True, ah_key=b"ahkey", ah_seq=100)
UNI = Pkt(vrid=55, version=3, adver_int=100, src=INJ, dst=KA, ttl=65, priority=254)

# (instance, datagram); valid ones first keep keepalived in BACKUP while the bad ones arrive
CASES: list[tuple[str, Pkt]] = [
    ("NONE", NONE),
    ("PASS", PASS),
    ("AH", AH),
    ("UNI", UNI),
    ("NONE", NONE.replace(extra=b"\0" * 4)),
    ("NONE", NONE.replace(ttl=254)),
    ("NONE", NONE.replace(version=3, adver_int=100)),
    ("NONE", NONE.replace(auth_type=9)),
    ("NONE", NONE.replace(auth_type=1, auth_data=b"pw")),
    ("PASS", PASS.replace(auth_data=b"Pw")),
    ("NONE", NONE.replace(adver_int=4)),
    ("NONE", NONE.replace(type=2)),
    ("NONE", NONE.replace(addresses=(VIP, IPv4Address("192.0.2.101")))),
    ("NONE", NONE.replace(csum_xor=0x10)),
    ("NONE", NONE.replace(addresses=(IPv4Address("192.0.2.101"),))),
    ("AH", AH.replace(ah_key=b"wrong")),
    ("AH", AH),  # replay of sequence 100
    ("AH", AH.replace(ah_spi=int(IPv4Address("192.0.2.9")), ah_seq=101)),
    ("UNI", UNI.replace(csum_xor=0x0100)),
    ("UNI", UNI.replace(ttl=90)),
    ("UNI", UNI.replace(src=IPv4Address("192.0.2.3"))),
    ("UNI", UNI.replace(checksum_mode=ChecksumMode.OLD_UNICAST)),
]

INJECTOR = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for line in sys.stdin.read().split():
    dst, hexdata = line.split(",")
    s.sendto(bytes.fromhex(hexdata), (dst, 0))
    time.sleep(0.06)
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:6]
    a, b = f"pkrxka-{tag}", f"pkrxinj-{tag}"
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b)
        sh("ip", "-n", a, "addr", "add", f"{KA}/24", "dev", "va")
        sh("ip", "-n", b, "addr", "add", f"{INJ}/24", "dev", "vb")
        for ns, dev in ((a, "va"), (b, "vb")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", b, "route", "add", "224.0.0.0/4", "dev", "vb")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_keepalived_logs_what_check_packet_says(namespaces: tuple[str, str], tmp_path: Path) -> None:
    ns_ka, ns_inj = namespaces
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONFIG)
    log = tmp_path / "ka.log"
    with log.open("w") as out:
        ka = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns_ka,
                "keepalived",
                "-n",
                "-l",
                "-P",
                "-f",
                str(conf),
                "-p",
                str(tmp_path / "k.pid"),
                "-r",
                str(tmp_path / "v.pid"),
                "--no-syslog",
                "--log-console",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while "Entering BACKUP STATE" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        expected: list[tuple[int, str]] = []
        states = {name: RxState() for name in INSTANCES}
        lines = []
        for i, (name, pkt) in enumerate(CASES):
            rx = pkt.rx()
            v = check_packet(
                INSTANCES[name], states[name], rx, own_src=KA, is_master=False, current_master=None
            )
            if i < 4:
                assert v.result is RxResult.OK, (name, v)
            else:
                assert v.logs, (i, name, v)
            expected += [(i, text) for _, text in v.logs]
            lines.append(f"{pkt.dst},{rx.data.hex()}")
        subprocess.run(
            ["ip", "netns", "exec", ns_inj, sys.executable, "-c", INJECTOR],
            input="\n".join(lines),
            text=True,
            check=True,
            timeout=60,
        )
        time.sleep(0.5)
    finally:
        ka.terminate()
        ka.wait(10)
    got = [line.split(": ", 1)[-1] for line in log.read_text().splitlines()]
    missing = [(i, text) for i, text in expected if text not in got]
    assert not missing, "\n".join(got)
    assert len(expected) >= 16
