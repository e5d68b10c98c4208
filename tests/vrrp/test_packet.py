"""Round-trip and checksum properties of the VRRP codec (Hypothesis)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykeepalived.vrrp.packet import (
    Advertisement,
    DropReason,
    PacketError,
    build_ipv4_datagram,
    decode_advert,
    encode_advert,
    internet_checksum,
    ipv4_header_checksum,
    next_ip_id,
    parse_ipv4_datagram,
    verify_checksum,
)
from pykeepalived.vrrp.params import AuthType, ChecksumMode

ip4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
ip6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
u8 = st.integers(0, 255)
MODES = list(ChecksumMode)


def reference_checksum(data: bytes) -> int:
    """RFC 1071 the slow, obvious way."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@settings(max_examples=3000)
@given(st.binary(max_size=200), st.binary(max_size=40))
def test_internet_checksum_matches_reference(data: bytes, prefix: bytes) -> None:
    padded = prefix + (b"\0" if len(prefix) % 2 else b"")
    assert internet_checksum(data, prefix) == reference_checksum(padded + data)


def test_internet_checksum_known_vector() -> None:
    # RFC 1071 §3 example bytes
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF
    assert internet_checksum(b"") == 0xFFFF


@st.composite
def adverts(draw: st.DrawFn, family: int | None = None) -> tuple[Advertisement, object, object]:
    fam = draw(st.sampled_from([4, 6])) if family is None else family
    version = 3 if fam == 6 else draw(st.sampled_from([2, 3]))
    addrs = tuple(draw(st.lists(ip4 if fam == 4 else ip6, max_size=20)))
    if version == 2:
        adv = Advertisement(
            2,
            draw(u8),
            draw(u8),
            draw(u8),
            addrs,
            draw(st.sampled_from([0, 1, 2])),
            draw(st.binary(min_size=8, max_size=8)) if fam == 4 else b"",
        )
    else:
        adv = Advertisement(3, draw(u8), draw(u8), draw(st.integers(0, 4095)), addrs)
    src, dst = (draw(ip4), draw(ip4)) if fam == 4 else (draw(ip6), draw(ip6))
    return adv, src, dst


@settings(max_examples=3000)
@given(adverts(), st.sampled_from(MODES))
def test_encode_decode_round_trip(case: tuple[Advertisement, object, object], mode: ChecksumMode) -> None:
    adv, src, dst = case
    pdu = encode_advert(adv, src=src, dst=dst, checksum_mode=mode)  # type: ignore[arg-type]
    fam = 6 if isinstance(src, IPv6Address) else 4
    back = decode_advert(pdu, fam)
    assert back == Advertisement(
        adv.version,
        adv.vrid,
        adv.priority,
        adv.adver_int,
        adv.addresses,
        adv.auth_type,
        adv.auth_data,
        1,
        int.from_bytes(pdu[6:8], "big"),
    )
    assert verify_checksum(pdu, family=fam, version=adv.version, src=src, dst=dst, checksum_mode=mode)  # type: ignore[arg-type]
    assert decode_advert(pdu + b"\0" * 6, fam) == back  # padding is ignored by the decoder
    with pytest.raises(PacketError) as exc:
        decode_advert(pdu[:-1], fam)
    assert exc.value.reason is DropReason.TOO_SHORT and exc.value.reason.counter == "packet_len_err"


@settings(max_examples=1500)
@given(
    adverts(family=4),
    st.integers(1, 65535),
    u8,
    st.booleans(),
    st.binary(max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_ipv4_datagram_round_trip(
    case: tuple[Advertisement, IPv4Address, IPv4Address], ident: int, ttl: int, ah: bool, key: bytes, seq: int
) -> None:
    adv, src, dst = case
    pdu = encode_advert(adv, src=src, dst=dst)
    data = build_ipv4_datagram(
        pdu,
        src=src,
        dst=dst,
        ttl=ttl,
        ident=ident,
        auth_type=AuthType.AH if ah else AuthType.NONE,
        auth_key=key,
        ah_seq=seq,
    )
    ip = parse_ipv4_datagram(data)
    assert (ip.src, ip.dst, ip.ttl, ip.ident, ip.tos, ip.frag_off, ip.tot_len) == (
        src,
        dst,
        ttl,
        ident,
        0xC0,
        0,
        len(data),
    )
    assert ip.protocol == (51 if ah else 112) and ip.pdu == pdu
    assert ipv4_header_checksum(data[:20]) == ip.check and internet_checksum(data[:20]) == 0
    if ah:
        assert (
            ip.ah is not None and ip.ah.spi == int(src) and ip.ah.seq_number == seq and ip.ah.payload_len == 4
        )


def test_checksum_modes_differ_where_they_should() -> None:
    src, group, peer = IPv4Address("192.0.2.1"), IPv4Address("224.0.0.18"), IPv4Address("192.0.2.2")
    adv = Advertisement(3, 1, 100, 100, (IPv4Address("192.0.2.10"),))
    pseudo = encode_advert(adv, src=src, dst=peer)
    old = encode_advert(adv, src=src, dst=peer, checksum_mode=ChecksumMode.OLD_UNICAST)
    as_v2 = encode_advert(adv, src=src, dst=peer, checksum_mode=ChecksumMode.AS_V2)
    assert len({pseudo, old, as_v2}) == 3
    assert old == encode_advert(adv, src=src, dst=group)  # old scheme == multicast checksum
    assert internet_checksum(as_v2) == 0
    v2 = encode_advert(Advertisement(2, 1, 100, 1, (IPv4Address("192.0.2.10"),), 1, b"pw"), src=src, dst=peer)
    assert internet_checksum(v2) == 0 and v2.endswith(b"pw\0\0\0\0\0\0")


def test_next_ip_id_skips_zero() -> None:
    assert next_ip_id(1) == 2 and next_ip_id(0xFFFE) == 0xFFFF and next_ip_id(0xFFFF) == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", DropReason.TOO_SHORT),
        (bytes(19), DropReason.TOO_SHORT),
        (b"\x44" + bytes(19), DropReason.BAD_IP_HEADER),
        (b"\x45" + bytes(8) + b"\x11" + bytes(20), DropReason.BAD_PROTOCOL),
        (b"\x45" + bytes(8) + b"\x33" + bytes(20), DropReason.TOO_SHORT),
    ],
)
def test_parse_errors(data: bytes, reason: DropReason) -> None:
    with pytest.raises(PacketError) as exc:
        parse_ipv4_datagram(data)
    assert exc.value.reason is reason


def test_decode_rejects_unknown_family() -> None:
    with pytest.raises(PacketError) as exc:
        decode_advert(bytes(8), 5)
    assert exc.value.reason is DropReason.BAD_FAMILY


def test_encode_rejects_programming_errors() -> None:
    with pytest.raises(ValueError):
        encode_advert(
            Advertisement(3, 1, 100, 5000, ()), src=IPv4Address("192.0.2.1"), dst=IPv4Address("224.0.0.18")
        )
    with pytest.raises(ValueError):
        build_ipv4_datagram(
            b"", src=IPv4Address("192.0.2.1"), dst=IPv4Address("224.0.0.18"), ttl=255, ident=0
        )
