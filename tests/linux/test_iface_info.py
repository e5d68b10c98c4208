"""InterfaceInfo's source-address picks (an instance's source address when none is configured)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

from pykeepalived.linux.iface import IFA_F_TENTATIVE, AddressInfo, InterfaceInfo


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
