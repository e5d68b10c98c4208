"""InterfaceInfo's source-address picks (an instance's source address when none is configured)."""

from __future__ import annotations

import os
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.lab import Lab
from pykeepalived.linux.iface import (
    IFA_F_TENTATIVE,
    AddressInfo,
    InterfaceInfo,
    dump_addresses,
    list_addresses,
)


def _addr(text: str, flags: int = 0) -> AddressInfo:
    return AddressInfo(ip_address(text), 64, 2, 0, flags)


def test_link_local_pick_skips_globals_tentative_and_excluded_in_kernel_order() -> None:
    vips = [_addr(f"2001:db8::{k:x}") for k in range(1, 300)]  # what a killed child left
    info = InterfaceInfo("eth0", 2, b"\0" * 6, 0, 1500, addresses=(
        *vips, _addr("fe80::1", IFA_F_TENTATIVE), _addr("fe80::2"), _addr("192.0.2.1"), _addr("fe80::3")))
    assert info.link_local_ipv6() == ip_address("fe80::2")
    assert info.link_local_ipv6({ip_address("fe80::2")}) == ip_address("fe80::3")
    assert info.global_ipv6() == ip_address("2001:db8::1")
    assert replace(info, addresses=info.addresses[-2:]).link_local_ipv6() == ip_address("fe80::3")
    assert InterfaceInfo("lo", 1, b"", 0, 65536).link_local_ipv6() is None
    assert info == replace(info)  # the picked ones are derived, not compared


@pytest.mark.netns
def test_address_dump_parsed_here_reads_what_pyroute2_reads(tmp_path: Path) -> None:
    """dump_addresses (the VRRP child's one dump at start) against list_addresses through pyroute2,
    on a namespace with labels, a peer, IPv6 (tentative and not), several interfaces and enough
    addresses to span several datagrams of the dump."""
    with Lab(hosts=1, prefix=f"su{os.getpid()}d-") as lab:
        h = lab["h1"]
        h.run(["ip", "link", "add", "eth9", "type", "veth", "peer", "name", "eth10"])
        cmds = [f"addr add 198.51.100.{k}/32 dev eth0" for k in range(1, 200)]
        cmds += [f"addr add 2001:db8:1::{k:x}/128 dev eth9" for k in range(1, 200)]
        cmds += ["addr add 203.0.113.5/24 dev eth0 label eth0:vip",
                 "addr add 203.0.113.6 peer 203.0.113.7 dev eth0",
                 "addr add 2001:db8::5/64 dev eth0 nodad", "addr add 2001:db8::6/64 dev eth0"]
        h.sysctl("net/ipv6/conf/eth0/accept_dad", 1)  # the lab turns DAD off
        h.sysctl("net/ipv6/conf/eth0/dad_transmits", 100)  # 2001:db8::6 stays tentative
        batch = tmp_path / "batch"
        batch.write_text("\n".join(cmds) + "\n")
        h.run(["ip", "-batch", str(batch)])

        async def both() -> tuple[list[AddressInfo], list[AddressInfo]]:
            async with AsyncIPRoute() as ipr:
                return dump_addresses(), await list_addresses(ipr)

        mine, theirs = h.run_async(both)
        assert len(mine) > 400
        assert mine == theirs
        assert any(a.label == "eth0:vip" for a in mine) and any(a.tentative for a in mine)
