"""Test helper: build (possibly deliberately broken) VRRP datagrams field by field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from pykeepalived.vrrp.packet import (
    AH_HEADER_LEN,
    Advertisement,
    ah_icv,
    build_ipv4_datagram,
    encode_advert,
    ipv4_header_checksum,
)
from pykeepalived.vrrp.params import AuthType, ChecksumMode, InstanceParams, IPAddress, UnicastPeer
from pykeepalived.vrrp.receive import RxPacket

SRC4 = IPv4Address("192.0.2.2")
OWN4 = IPv4Address("192.0.2.1")
GROUP4 = IPv4Address("224.0.0.18")
VIP4 = IPv4Address("192.0.2.100")
SRC6 = IPv6Address("fe80::2")
GROUP6 = IPv6Address("ff02::12")
VIP6 = IPv6Address("2001:db8::100")


def params(**kw: object) -> InstanceParams:
    base: dict[str, object] = dict(
        name="VI_1",
        vrid=51,
        family=4,
        version=2,
        base_priority=100,
        interface="eth0",
        adver_int_us=1_000_000,
        vips=(VIP4,),
    )
    base.update(kw)
    return InstanceParams(**base)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Pkt:
    """Every field of an IPv4 VRRP datagram a receive check looks at."""

    version: int = 2
    type: int = 1
    vrid: int = 51
    priority: int = 150
    adver_int: int = 1
    auth_type: int = 0
    auth_data: bytes = b""
    addresses: tuple[IPAddress, ...] = (VIP4,)
    src: IPAddress = SRC4
    dst: IPAddress = GROUP4
    ttl: int = 255
    ident: int = 7
    ah: bool = False
    ah_key: bytes = b""
    ah_seq: int = 1
    ah_spi: int | None = None
    ah_next_header: int = 112
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER
    extra: bytes = b""  # trailing bytes after the PDU (counted in tot_len)
    tot_len_delta: int = 0
    csum_xor: int = 0  # flips checksum bits
    unicast_icv: bool = False

    @property
    def family6(self) -> bool:
        return isinstance(self.src, IPv6Address)

    def replace(self, **kw: object) -> Pkt:
        return dataclasses.replace(self, **kw)  # type: ignore[arg-type]

    def pdu(self) -> bytes:
        adv = Advertisement(
            self.version,
            self.vrid,
            self.priority,
            self.adver_int,
            self.addresses,
            self.auth_type,
            self.auth_data,
            self.type,
        )
        pdu = encode_advert(adv, src=self.src, dst=self.dst, checksum_mode=self.checksum_mode)
        if self.csum_xor:
            csum = int.from_bytes(pdu[6:8], "big") ^ self.csum_xor
            pdu = pdu[:6] + csum.to_bytes(2, "big") + pdu[8:]
        return pdu + self.extra

    def datagram(self) -> bytes:
        if isinstance(self.src, IPv6Address):
            return self.pdu()
        d = bytearray(
            build_ipv4_datagram(
                self.pdu(),
                src=self.src,
                dst=self.dst,
                ttl=self.ttl,
                ident=self.ident,
                auth_type=AuthType.AH if self.ah else AuthType.NONE,
                auth_key=self.ah_key,
                ah_seq=self.ah_seq,
                unicast=self.unicast_icv,
            )
        )
        if self.tot_len_delta:
            d[2:4] = (int.from_bytes(d[2:4], "big") + self.tot_len_delta).to_bytes(2, "big")
        if self.ah:
            if self.ah_spi is not None:
                d[24:28] = self.ah_spi.to_bytes(4, "big")
            d[20] = self.ah_next_header
            d[32 : 32 + 12] = ah_icv(bytes(d[:20]), bytes(d[20:]), self.ah_key, unicast=self.unicast_icv)
            assert AH_HEADER_LEN == 24
        d[10:12] = ipv4_header_checksum(bytes(d)).to_bytes(2, "big")
        return bytes(d)

    def rx(self, hop_limit: int | None = None) -> RxPacket:
        family = 6 if isinstance(self.src, IPv6Address) else 4
        ttl = self.ttl if hop_limit is None else hop_limit
        return RxPacket(ifindex=2, family=family, src=self.src, dst=self.dst, ttl=ttl, data=self.datagram())


def peer(addr: str, min_ttl: int | None = None, max_ttl: int | None = None) -> UnicastPeer:
    return UnicastPeer(ip_address(addr), min_ttl, max_ttl)
