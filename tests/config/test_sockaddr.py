"""Addresses read as keepalived's inet_stosockaddr reads them: a `/mask` or `-range` suffix on
unicast_src_ip, mcast_src_ip, mcast_dst_ip and unicast_peer is ignored, not an error (issue 12: a
real-world `unicast_src_ip 192.168.0.92/24` made pykeepalived fall back to multicast)."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

from pykeepalived.config import load_config
from pykeepalived.config.types import sockaddr_ip

CORPUS = Path(__file__).parent / "corpus"


def test_sockaddr_ip_cuts_mask_and_range() -> None:
    assert sockaddr_ip("192.0.2.1/24") == ip_address("192.0.2.1")
    assert sockaddr_ip("192.0.2.3-9") == ip_address("192.0.2.3")
    assert sockaddr_ip("2001:db8::1/64") == ip_address("2001:db8::1")
    assert sockaddr_ip("192.0.2.1") == ip_address("192.0.2.1")
    assert sockaddr_ip("/24") is None and sockaddr_ip("nonsense/24") is None


def test_masked_unicast_addresses_give_a_unicast_instance() -> None:
    model, diags = load_config(str(CORPUS / "good_unicast_masked.conf"))
    assert not [d for d in diags if d.loc.line], diags
    (inst,) = model.vrrp_instances
    assert inst.unicast_src_ip == ip_address("192.0.2.1")
    assert [p[0] for p in inst.unicast_peers] == [ip_address("192.0.2.2"), ip_address("192.0.2.3")]
