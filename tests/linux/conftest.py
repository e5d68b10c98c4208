"""Fixtures for the Linux-layer tests: real namespaces, built by pykeepalived.lab."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

import pytest

from pykeepalived.lab import Lab

if os.geteuid() != 0:  # pragma: no cover - the CI runs as root
    pytest.skip("network namespace tests need root", allow_module_level=True)


@pytest.fixture
def lab2() -> Iterator[Lab]:
    with Lab(hosts=2) as lab:
        yield lab


@pytest.fixture
def lab1() -> Iterator[Lab]:
    with Lab(hosts=1) as lab:
        yield lab


def vrrp_pdu(
    vrid: int, prio: int, addrs: list[IPv4Address] | list[IPv6Address], adver_cs: int = 100
) -> bytes:
    """A minimal VRRPv3 advert (RFC 5798 §5.1), checksum left 0 (the tests check transport, not codec)."""
    body = b"".join(a.packed for a in addrs)
    return struct.pack("!BBBBHH", 0x31, vrid, prio, len(addrs), adver_cs & 0x0FFF, 0) + body


def ipv4_datagram(pdu: bytes, src: IPv4Address, dst: IPv4Address, ttl: int = 255) -> bytes:
    """IPv4 header as keepalived builds it (TOS 0xc0, proto 112); the kernel fills the checksum."""
    return (
        struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(pdu), 1, 0, ttl, 112, 0, src.packed, dst.packed)
        + pdu
    )


def garp_frame(mac: bytes, vip: IPv4Address) -> bytes:
    """keepalived's gratuitous ARP (keepalived.md §5.7): broadcast, op request, target = VIP."""
    bcast = b"\xff" * 6
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + vip.packed + bcast + vip.packed
    return bcast + mac + struct.pack("!H", 0x0806) + arp


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def na_frame(mac: bytes, vip: IPv6Address, router: bool = False) -> bytes:
    """Unsolicited NA to ff02::1 (RFC 4861 §7.2.6): Override set, target LL address option."""
    dst = IPv6Address("ff02::1")
    flags = 0x20000000 | (0x80000000 if router else 0)
    body = struct.pack("!BBHI", 136, 0, 0, flags) + vip.packed + struct.pack("!BB", 2, 1) + mac
    pseudo = vip.packed + dst.packed + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", _csum(pseudo + body)) + body[4:]
    ip6 = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + vip.packed + dst.packed
    return b"\x33\x33\x00\x00\x00\x01" + mac + struct.pack("!H", 0x86DD) + ip6 + body
