"""Wireshark (tshark) decodes every packet pykeepalived sends, without malformed packets or expert
errors, with good checksums: VRRPv2 (no auth, PASS, AH), VRRPv3 over IPv4 (both checksum forms),
unicast v3, VRRPv3 over IPv6, priority-0 adverts at shutdown, gratuitous ARP and unsolicited NA."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.capture import Capture
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import STARTUP, Conf, Inst, graceful_stop, start
from tests.interop.conftest import INTEROP

pytestmark = [*INTEROP, pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")]

PASS = ("authentication {", "    auth_type PASS", "    auth_pass s3cret", "}")
AH = ("authentication {", "    auth_type AH", "    auth_pass s3cret", "}")
AS_V2_VRID = 56
V3 = {"version": 3, "advert": "0.1"}


def conf() -> Conf:
    return Conf([
        Inst("V2", 51, 200, vips=("192.0.2.100/24",)),
        Inst("V2PASS", 52, 200, vips=("192.0.2.101/24", "192.0.2.102/24"), lines=PASS),
        Inst("V2AH", 53, 200, vips=("192.0.2.103/24",), lines=AH),
        Inst("V3", 54, 200, vips=("192.0.2.104/24",), **V3),  # type: ignore[arg-type]
        Inst("V3UNI", 55, 200, vips=("192.0.2.105/24",),
             lines=("unicast_src_ip 192.0.2.1", "unicast_peer {", "    192.0.2.2", "}"), **V3),  # type: ignore[arg-type]
        Inst("V3ASV2", AS_V2_VRID, 200, vips=("192.0.2.106/24",), lines=("v3_checksum_as_v2",), **V3),  # type: ignore[arg-type]
        Inst("V6", 57, 200, vips=("fe80::100/64", "2001:db8::100/64"), **V3),  # type: ignore[arg-type]
    ])


FIELDS = [
    "frame.number", "frame.protocols", "_ws.malformed", "_ws.expert.severity", "_ws.expert.message",
    "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.version", "vrrp.checksum.status", "vrrp.auth_type",
    "arp.opcode", "arp.isgratuitous", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "arp.dst.hw_mac",
    "icmpv6.type", "icmpv6.checksum.status", "icmpv6.nd.na.flag.o",
    "icmpv6.nd.na.target_address", "ip.checksum.status",
]


def tshark(pcap: Path, display: str, *prefs: str) -> list[dict[str, str]]:
    argv = ["tshark", "-n", "-r", str(pcap), "-Y", display, "-T", "fields", "-E", "separator=\t",
            "-o", "ip.check_checksum:TRUE"]
    for p in prefs:
        argv += ["-o", p]
    for f in FIELDS:
        argv += ["-e", f]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, f"tshark failed: {proc.stderr}"
    out = proc.stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=False)) for line in out.splitlines() if line]


def test_tshark_decodes_everything_pykeepalived_sends(nodes: list[Node]) -> None:
    with Lab(hosts=["n1", "n2"]) as lab:
        mac = lab["n1"].run(["cat", "/sys/class/net/eth0/address"]).strip()
        cap = Capture(lab["n2"], f"ether src {mac} and (ip proto 112 or ip proto 51 or ip6 proto 112 or arp "
                                 "or (icmp6 and ip6[40] == 136))")
        try:
            py = start(lab, nodes, "n1", "py", conf())
            wait_for(lambda: all(py.has(v) for v in ("192.0.2.100", "192.0.2.106", "2001:db8::100")), STARTUP)
            time.sleep(1.5)
            graceful_stop(py)
            time.sleep(0.3)
            pcap = cap.stop()
            rows = tshark(pcap, f"not vrrp.virt_rtr_id == {AS_V2_VRID}")
            as_v2 = tshark(pcap, f"vrrp.virt_rtr_id == {AS_V2_VRID}", "vrrp.v3_checksum_as_in_v2:TRUE")
        finally:
            cap.cleanup()
    assert rows and as_v2
    for r in rows + as_v2:
        assert not r["_ws.malformed"], r
        assert "error" not in r["_ws.expert.severity"].lower() and not r["_ws.expert.message"], r
        assert r["ip.checksum.status"] in ("", "1"), r
    vrrp = [r for r in rows + as_v2 if r["vrrp.virt_rtr_id"]]
    seen = {(int(r["vrrp.virt_rtr_id"]), r["vrrp.version"]) for r in vrrp}
    assert seen == {(51, "2"), (52, "2"), (53, "2"), (54, "3"), (55, "3"), (56, "3"), (57, "3")}, seen
    for r in vrrp:
        # Wireshark's checksum status: 1 = good (v2, v3 IPv4 pseudo-header / as-v2 forms, IPv6)
        assert r["vrrp.checksum.status"] == "1", r
    assert {r["vrrp.auth_type"] for r in vrrp if r["vrrp.virt_rtr_id"] == "52"} == {"1"}
    # priority-0 adverts at shutdown, from every instance
    assert {int(r["vrrp.virt_rtr_id"]) for r in vrrp if r["vrrp.prio"] == "0"} == set(range(51, 58))
    # gratuitous ARP (keepalived.md §5.7: request, sender IP = target IP = VIP); the kernel's own ARP
    # requests (resolving the unicast peer) are left aside
    garp = [r for r in rows if r["arp.opcode"] and r["arp.src.proto_ipv4"] == r["arp.dst.proto_ipv4"]]
    assert {r["arp.src.proto_ipv4"] for r in garp} == {f"192.0.2.{k}" for k in range(100, 107)}, garp
    assert all(r["arp.opcode"] == "1" and r["arp.isgratuitous"] in ("1", "True") for r in garp), garp
    na = [r for r in rows if r["icmpv6.type"] == "136"]
    assert {r["icmpv6.nd.na.target_address"] for r in na} == {"fe80::100", "2001:db8::100"}, na
    assert all(r["icmpv6.checksum.status"] == "1" and r["icmpv6.nd.na.flag.o"] == "1" for r in na), na
