"""The send path's prebuilt IPv4 advert (Ipv4AdvertTemplate) is byte for byte build_ipv4_datagram."""

from __future__ import annotations

from ipaddress import IPv4Address

from hypothesis import given, settings
from hypothesis import strategies as st

from pykeepalived.vrrp.packet import (
    Advertisement,
    Ipv4AdvertTemplate,
    build_ipv4_datagram,
    encode_advert,
    next_ip_id,
    parse_ipv4_datagram,
)

ip4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))


def _pdu(src: IPv4Address, dst: IPv4Address, prio: int, naddr: int) -> bytes:
    adv = Advertisement(3, 51, prio, 100, tuple(IPv4Address(0xC0000200 + k) for k in range(naddr)))
    return encode_advert(adv, src=src, dst=dst)


def test_every_ip_id_matches_the_codec() -> None:
    """All 65,535 identifications of one advert, in keepalived's order (1, 2, ... 65535, 1)."""
    src, dst = IPv4Address("192.0.2.1"), IPv4Address("224.0.0.18")
    pdu = _pdu(src, dst, 200, 1)
    tpl = Ipv4AdvertTemplate(pdu, src=src, dst=dst, ttl=255)
    ident = 0
    for _ in range(0xFFFF + 1):
        ident = next_ip_id(ident)
        assert bytes(tpl.datagram(ident)) == build_ipv4_datagram(pdu, src=src, dst=dst, ttl=255, ident=ident)


@settings(max_examples=300, deadline=None)
@given(ip4, ip4, st.integers(0, 255), st.integers(0, 255), st.integers(0, 20), st.integers(1, 0xFFFF))
def test_template_equals_build(src: IPv4Address, dst: IPv4Address, ttl: int, prio: int, naddr: int,
                               ident: int) -> None:
    pdu = _pdu(src, dst, prio, naddr)
    tpl = Ipv4AdvertTemplate(pdu, src=src, dst=dst, ttl=ttl)
    got = bytes(tpl.datagram(ident))
    assert got == build_ipv4_datagram(pdu, src=src, dst=dst, ttl=ttl, ident=ident)
    dg = parse_ipv4_datagram(got)
    assert (dg.ident, dg.ttl, dg.src, dg.dst, dg.pdu) == (ident, ttl, src, dst, pdu)
