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
