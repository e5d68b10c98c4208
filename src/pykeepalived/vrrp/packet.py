# Theory of operation
# -------------------
# Pure bytes in, pure bytes out. Three layers, each usable on its own:
#
#   * the VRRP PDU (RFC 3768 §5.1 for v2, RFC 5798 §5.1 for v3): `encode_advert` / `decode_advert`,
#     with the checksum rules of keepalived.md §5.10 (`vrrp_checksum`, `verify_checksum`);
#   * the IPv4 datagram keepalived builds itself with IP_HDRINCL (keepalived: vrrp.c:vrrp_build_ip4):
#     `build_ipv4_datagram` adds the IP header and, for `auth_type AH`, an IPSEC-AH header whose
#     HMAC-MD5-96 ICV covers the IP header with its mutable fields zeroed, the AH header and the PDU
#     (keepalived: vrrp.c:vrrp_update_pkt, RFC 2402 §3.3.3); `parse_ipv4_datagram` is the receive side
#     (keepalived: vrrp.c:vrrp_get_header);
#   * IPv6: the kernel builds the header and computes the checksum (IPV6_CHECKSUM offset 6); the
#     pseudo-header checksum is still provided for the simulator and the tests (RFC 8200 §8.1).
#
# Every parsing function raises PacketError (with a DropReason) and nothing else, for any input: the
# receive path (receive.py) and the fuzz tests rely on it. Encoding functions trust their caller and
# raise ValueError on programming errors (a field out of range).
"""VRRPv2/v3 advertisement codec (RFC 3768 §5, RFC 5798 §5, RFC 9568 §5)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from pykeepalived.vrrp.params import AuthType, ChecksumMode, IPAddress

VRRP_PROTO = 112
AH_PROTO = 51
VRRP_TTL = 255  # RFC 3768 §5.2.3 / RFC 5798 §5.1.1.3
VRRP_TYPE_ADVERTISEMENT = 1
VRRP_AUTH_LEN = 8  # v2 authentication data
VRRP_HEADER_LEN = 8
IPV4_HEADER_LEN = 20
AH_HEADER_LEN = 24  # next header, payload len, reserved, SPI, sequence, 12-byte ICV
AH_PAYLOAD_LEN = 4  # RFC 2402 §2.2: AH length in 32-bit words minus 2
HMAC_MD5_TRUNC = 12  # RFC 2403 §2: HMAC-MD5-96
IPTOS_INTERNET_CONTROL = 0xC0  # keepalived sets TOS 0xc0 (network control)
VRRP_MCAST_GROUP4 = IPv4Address("224.0.0.18")
VRRP_MCAST_GROUP6 = IPv6Address("ff02::12")
V3_ADVER_INT_MASK = 0x0FFF  # RFC 5798 §5.2.7: 12-bit interval, 4 reserved bits

_VRRP_HDR = struct.Struct("!BBBBBBH")  # vers_type, vrid, priority, naddr, auth/int_hi, int(_lo), checksum
_V3_HDR = struct.Struct("!BBBBHH")
_IPV4_HDR = struct.Struct("!BBHHHBBH4s4s")
_AH_HDR = struct.Struct("!BBHII12s")


class DropReason(enum.Enum):
    """Why the codec refused bytes. `counter` is keepalived's stats counter name where one exists."""

    TOO_SHORT = "too_short"  # fewer bytes than the headers / address list need
    BAD_LENGTH = "bad_length"  # a length field disagrees with the data
    BAD_FAMILY = "bad_family"  # neither IPv4 nor IPv6
    BAD_IP_HEADER = "bad_ip_header"  # IPv4 version / IHL invalid
    BAD_PROTOCOL = "bad_protocol"  # IPv4 protocol neither VRRP (112) nor AH (51)

    @property
    def counter(self) -> str | None:
        return _COUNTERS.get(self)


_COUNTERS: dict[DropReason, str] = {
    DropReason.TOO_SHORT: "packet_len_err",
    DropReason.BAD_LENGTH: "packet_len_err",
}


class PacketError(ValueError):
    """The only exception the decoder raises (fuzz invariant)."""

    def __init__(self, reason: DropReason, detail: str = "") -> None:
        super().__init__(f"{reason.name}: {detail}" if detail else reason.name)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Advertisement:
    """A decoded VRRP advertisement (the VRRP PDU, without IP/AH headers)."""

    version: int  # 2 or 3
    vrid: int
    priority: int
    adver_int: int  # raw field: v2 seconds (8 bit), v3 centiseconds (12 bit)
    addresses: tuple[IPAddress, ...]
    auth_type: int = 0  # v2 only (raw, may be invalid on receive)
    auth_data: bytes = b""  # v2: 8 bytes
    type: int = 1
    checksum: int = 0  # as received / as computed on encode

    @property
    def adver_int_us(self) -> int:
        """The advert interval in microseconds (v2 seconds, v3 centiseconds; keepalived TIMER_HZ)."""
        return self.adver_int * (1_000_000 if self.version == 2 else 10_000)


@dataclass(frozen=True, slots=True)
class RxPacket:
    """What the Linux layer (or the simulator's LAN) delivers for one received datagram.

    For IPv4 `data` is the whole IP datagram (IP header, optional AH, VRRP); for IPv6 it is the VRRP
    PDU (the kernel strips the header) and `ttl` is the hop limit from IPV6_HOPLIMIT ancillary data
    (-1 when the kernel gave none: keepalived then skips the TTL checks). For IPv4 `src`, `dst` and
    `ttl` are taken from the IP header by the receive check; the fields here are what recvmsg said.
    """

    ifindex: int
    family: int  # 4 or 6
    src: IPAddress
    dst: IPAddress
    ttl: int
    data: bytes


@dataclass(frozen=True, slots=True)
class AhHeader:
    """IPSEC-AH header as keepalived sends it (RFC 2402 §2)."""

    next_header: int
    payload_len: int
    reserved: int
    spi: int
    seq_number: int
    icv: bytes  # 12 bytes, HMAC-MD5-96


@dataclass(frozen=True, slots=True)
class Ipv4Datagram:
    """A received IPv4 datagram split into IP header, optional AH header and the VRRP part.

    `pdu` is everything after the IP (and AH) header, i.e. the VRRP PDU plus any trailing bytes;
    only the fixed 8-byte VRRP header is guaranteed to be present (keepalived: vrrp_get_header).
    """

    ihl: int  # header length in bytes
    tos: int
    tot_len: int
    ident: int
    frag_off: int
    ttl: int
    protocol: int
    check: int
    src: IPv4Address
    dst: IPv4Address
    ah: AhHeader | None
    vrrp_offset: int
    raw: bytes

    @property
    def pdu(self) -> bytes:
        return self.raw[self.vrrp_offset :]


# --- checksums ---------------------------------------------------------------------------------------


def internet_checksum(data: bytes, initial: bytes = b"") -> int:
    """RFC 1071 checksum of `initial` + `data` (each padded to an even length).

    Uses the identity that the one's-complement sum of 16-bit words is the big-endian integer
    modulo 0xffff (2**16 == 1 mod 0xffff), with 0xffff standing for a non-zero multiple.
    """
    total = 0
    for chunk in (initial, data):
        if not chunk:
            continue
        if len(chunk) & 1:
            chunk += b"\0"
        total += int.from_bytes(chunk, "big")
    folded = total % 0xFFFF
    if folded == 0 and total:
        folded = 0xFFFF
    return ~folded & 0xFFFF


def ipv4_pseudo_header(src: IPv4Address, dst: IPv4Address, length: int, proto: int = VRRP_PROTO) -> bytes:
    """RFC 5798 §5.2.8 / RFC 768: src, dst, zero, protocol, upper-layer length."""
    return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)


def ipv6_pseudo_header(
    src: IPv6Address, dst: IPv6Address, length: int, next_header: int = VRRP_PROTO
) -> bytes:
    """RFC 8200 §8.1: src, dst, 32-bit upper-layer length, 3 zero bytes, next header."""
    return src.packed + dst.packed + struct.pack("!I3xB", length, next_header)


def _v4(addr: IPAddress) -> IPv4Address:
    if not isinstance(addr, IPv4Address):
        raise ValueError(f"{addr} is not an IPv4 address")
    return addr


def _v6(addr: IPAddress) -> IPv6Address:
    if not isinstance(addr, IPv6Address):
        raise ValueError(f"{addr} is not an IPv6 address")
    return addr


def checksum_prefix(
    *,
    family: int,
    version: int,
    src: IPAddress,
    dst: IPAddress,
    length: int,
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
    group: IPAddress = VRRP_MCAST_GROUP4,
) -> bytes:
    """The bytes summed before the PDU: a pseudo-header, or nothing (v2 IPv4, v3_checksum_as_v2)."""
    if family == 6:
        return ipv6_pseudo_header(_v6(src), _v6(dst), length)
    if version == 2 or checksum_mode is ChecksumMode.AS_V2:
        return b""
    if checksum_mode is ChecksumMode.OLD_UNICAST:
        # keepalived <= 1.3.6 put the multicast group in the pseudo-header even for unicast (§5.10)
        dst = group
    return ipv4_pseudo_header(_v4(src), _v4(dst), length)


def vrrp_checksum(
    pdu: bytes,
    *,
    family: int,
    version: int,
    src: IPAddress,
    dst: IPAddress,
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
    group: IPAddress = VRRP_MCAST_GROUP4,
) -> int:
    """Checksum for `pdu` (its checksum field must be zero, or the result is the verification sum)."""
    prefix = checksum_prefix(
        family=family,
        version=version,
        src=src,
        dst=dst,
        length=len(pdu),
        checksum_mode=checksum_mode,
        group=group,
    )
    return internet_checksum(pdu, prefix)


def verify_checksum(
    pdu: bytes,
    *,
    family: int,
    version: int,
    src: IPAddress,
    dst: IPAddress,
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
    group: IPAddress = VRRP_MCAST_GROUP4,
) -> bool:
    """True if the checksum carried in `pdu` (exactly the PDU, no trailing bytes) is right."""
    return (
        vrrp_checksum(
            pdu, family=family, version=version, src=src, dst=dst, checksum_mode=checksum_mode, group=group
        )
        == 0
    )


def pdu_length(version: int, naddr: int, family: int) -> int:
    """keepalived: vrrp.c:expected_vrrp_pkt_len (v2 auth data only over IPv4)."""
    if family == 4:
        return VRRP_HEADER_LEN + 4 * naddr + (VRRP_AUTH_LEN if version == 2 else 0)
    return VRRP_HEADER_LEN + 16 * naddr


# --- the VRRP PDU ------------------------------------------------------------------------------------


def encode_advert(
    adv: Advertisement,
    *,
    src: IPAddress,
    dst: IPAddress,
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
    group: IPAddress = VRRP_MCAST_GROUP4,
) -> bytes:
    """Return the VRRP PDU bytes with the checksum filled in (src/dst feed the v3 pseudo-header).

    keepalived: vrrp.c:vrrp_build_vrrp_v2 / vrrp_build_vrrp_v3. `adv.checksum` is ignored.
    """
    family = 6 if isinstance(src, IPv6Address) else 4
    naddr = len(adv.addresses)
    if not (0 <= naddr <= 255 and 0 <= adv.vrid <= 255 and 0 <= adv.priority <= 255):
        raise ValueError("vrid, priority and address count must fit in 8 bits")
    if not 0 <= adv.version <= 15 or not 0 <= adv.type <= 15:
        raise ValueError("version and type must fit in 4 bits")
    vers_type = adv.version << 4 | adv.type
    if adv.version == 2:
        if not 0 <= adv.adver_int <= 255 or not 0 <= adv.auth_type <= 255:
            raise ValueError("v2 advert interval and auth type must fit in 8 bits")
        head = _VRRP_HDR.pack(vers_type, adv.vrid, adv.priority, naddr, adv.auth_type, adv.adver_int, 0)
    else:
        if not 0 <= adv.adver_int <= V3_ADVER_INT_MASK:
            raise ValueError("v3 advert interval must fit in 12 bits")
        head = _V3_HDR.pack(vers_type, adv.vrid, adv.priority, naddr, adv.adver_int, 0)
    parts = [head]
    for addr in adv.addresses:
        if (family == 6) != isinstance(addr, IPv6Address):
            raise ValueError(f"address {addr} does not match the source address family")
        parts.append(addr.packed)
    if adv.version == 2 and family == 4:
        auth = adv.auth_data
        if len(auth) > VRRP_AUTH_LEN:
            raise ValueError("v2 authentication data is at most 8 bytes")
        parts.append(auth.ljust(VRRP_AUTH_LEN, b"\0"))
    pdu = b"".join(parts)
    csum = vrrp_checksum(
        pdu, family=family, version=adv.version, src=src, dst=dst, checksum_mode=checksum_mode, group=group
    )
    return pdu[:6] + csum.to_bytes(2, "big") + pdu[8:]


def decode_advert(pdu: bytes, family: int) -> Advertisement:
    """Parse a VRRP PDU leniently (no semantic checks); raise only PacketError.

    The layout follows the version nibble: version 2 has the auth type / 8-bit interval and, over IPv4,
    8 bytes of authentication data; any other version is read with the v3 layout. Trailing bytes (for
    example Ethernet padding) are ignored.
    """
    if family not in (4, 6):
        raise PacketError(DropReason.BAD_FAMILY, f"family {family!r}")
    if len(pdu) < VRRP_HEADER_LEN:
        raise PacketError(DropReason.TOO_SHORT, f"VRRP header needs 8 bytes, got {len(pdu)}")
    vers_type, vrid, priority, naddr, b4, b5, checksum = _VRRP_HDR.unpack_from(pdu)
    version = vers_type >> 4
    need = pdu_length(version, naddr, family)
    if len(pdu) < need:
        raise PacketError(DropReason.TOO_SHORT, f"{naddr} addresses need {need} bytes, got {len(pdu)}")
    addresses: tuple[IPAddress, ...]
    if family == 4:
        addresses = tuple(IPv4Address(pdu[8 + 4 * i : 12 + 4 * i]) for i in range(naddr))
    else:
        addresses = tuple(IPv6Address(pdu[8 + 16 * i : 24 + 16 * i]) for i in range(naddr))
    if version == 2:
        auth_data = pdu[need - VRRP_AUTH_LEN : need] if family == 4 else b""
        return Advertisement(2, vrid, priority, b5, addresses, b4, auth_data, vers_type & 0x0F, checksum)
    adver_int = (b4 << 8 | b5) & V3_ADVER_INT_MASK
    return Advertisement(version, vrid, priority, adver_int, addresses, 0, b"", vers_type & 0x0F, checksum)


# --- IPv4 datagram and IPSEC-AH ----------------------------------------------------------------------


def next_ip_id(ident: int) -> int:
    """keepalived: vrrp_update_pkt increments the IP ID per advert, skipping 0 (the kernel fills 0)."""
    ident = (ident + 1) & 0xFFFF
    return ident or 1


def ah_icv(ip_header: bytes, ah_and_pdu: bytes, key: bytes, *, unicast: bool) -> bytes:
    """HMAC-MD5-96 ICV as keepalived computes it (keepalived: vrrp.c:vrrp_in_chk_ipsecah).

    `ip_header` is the IPv4 header as sent/received; TOS, fragment offset and the header checksum are
    zeroed (and TTL for unicast instances). `ah_and_pdu` starts with the AH header, whose ICV field is
    zeroed here. The key is the 8-byte zero-padded auth_pass.
    """
    hdr = bytearray(ip_header)
    hdr[1] = 0  # TOS
    hdr[6:8] = b"\0\0"  # flags + fragment offset
    hdr[10:12] = b"\0\0"  # header checksum
    if unicast:
        hdr[8] = 0  # TTL
    body = bytearray(ah_and_pdu)
    body[12:24] = bytes(HMAC_MD5_TRUNC)
    mac = hmac.new(key.ljust(VRRP_AUTH_LEN, b"\0")[:VRRP_AUTH_LEN], bytes(hdr) + bytes(body), hashlib.md5)
    return mac.digest()[:HMAC_MD5_TRUNC]


def ipv4_header_checksum(header: bytes) -> int:
    return internet_checksum(header[:10] + b"\0\0" + header[12:])


def build_ipv4_datagram(
    pdu: bytes,
    *,
    src: IPAddress,
    dst: IPAddress,
    ttl: int,
    ident: int,
    auth_type: AuthType = AuthType.NONE,
    auth_key: bytes = b"",
    ah_seq: int = 0,
    unicast: bool = False,
) -> bytes:
    """Wrap a PDU in keepalived's IPv4 header (TOS 0xc0, DF clear), adding IPSEC-AH when asked.

    keepalived: vrrp.c:vrrp_build_ip4, vrrp_build_ipsecah, vrrp_update_pkt. `ident` must not be 0
    (use `next_ip_id`); `unicast` zeroes the TTL in the AH ICV as keepalived does for unicast peers.
    The header checksum is filled in here (on Linux the kernel recomputes it for IP_HDRINCL sockets).
    """
    if not 1 <= ident <= 0xFFFF:
        raise ValueError("IP identification must be 1..65535 (keepalived never sends 0)")
    if not 0 <= ttl <= 255:
        raise ValueError("TTL must be 0..255")
    s, d = _v4(src), _v4(dst)
    use_ah = auth_type is AuthType.AH
    total = IPV4_HEADER_LEN + (AH_HEADER_LEN if use_ah else 0) + len(pdu)
    if total > 0xFFFF:
        raise ValueError("datagram too long")
    proto = AH_PROTO if use_ah else VRRP_PROTO
    header = _IPV4_HDR.pack(0x45, IPTOS_INTERNET_CONTROL, total, ident, 0, ttl, proto, 0, s.packed, d.packed)
    body = pdu
    if use_ah:
        if not 0 <= ah_seq <= 0xFFFFFFFF:
            raise ValueError("AH sequence number must fit in 32 bits")
        # SPI = source address (keepalived: vrrp_build_ipsecah, draft-paridaens-xcast-sec-framework)
        ah = _AH_HDR.pack(VRRP_PROTO, AH_PAYLOAD_LEN, 0, int(s), ah_seq, bytes(HMAC_MD5_TRUNC))
        icv = ah_icv(header, ah + pdu, auth_key, unicast=unicast)
        body = ah[:12] + icv + pdu
    csum = ipv4_header_checksum(header)
    return header[:10] + csum.to_bytes(2, "big") + header[12:] + body


class Ipv4AdvertTemplate:
    """One advert's IPv4 datagram with only the IP identification (and so the header checksum) left to
    fill: the bytes `build_ipv4_datagram` returns for the same arguments without AH, built once.

    An advert's content changes only with its priority, source or checksum form, so the VRRP child
    keeps one template per (Transmit, checksum mode) and sends `datagram(ident)` every interval: two
    16-bit stores and an incremental RFC 1071 sum (RFC 1624) instead of re-encoding the PDU.
    """

    __slots__ = ("_buf", "_sum")

    def __init__(self, pdu: bytes, *, src: IPAddress, dst: IPAddress, ttl: int) -> None:
        data = build_ipv4_datagram(pdu, src=src, dst=dst, ttl=ttl, ident=1)
        self._buf = bytearray(data)
        self._buf[4:6] = b"\0\0"
        self._buf[10:12] = b"\0\0"
        # one's-complement sum of the header with identification and checksum zeroed
        self._sum = sum(_H10.unpack_from(self._buf))

    def datagram(self, ident: int) -> bytearray:
        """The datagram with IP ID `ident` (1..65535) and its header checksum (a shared buffer: send it
        before asking for the next one)."""
        total = self._sum + ident
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        csum = ~total & 0xFFFF
        buf = self._buf
        buf[4] = ident >> 8
        buf[5] = ident & 0xFF
        buf[10] = csum >> 8
        buf[11] = csum & 0xFF
        return buf


_H10 = struct.Struct("!10H")


def parse_ipv4_datagram(data: bytes) -> Ipv4Datagram:
    """Split a received IPv4 datagram (keepalived: vrrp.c:vrrp_get_header); raise only PacketError.

    Requires the IP header, the AH header when the protocol is AH, and the 8-byte VRRP header.
    """
    n = len(data)
    if n < IPV4_HEADER_LEN:
        raise PacketError(DropReason.TOO_SHORT, f"IPv4 VRRP packet too short - {n} bytes")
    vihl, tos, tot_len, ident, frag_off, ttl, proto, check, s, d = _IPV4_HDR.unpack_from(data)
    if vihl >> 4 != 4 or (vihl & 0x0F) < 5:
        raise PacketError(DropReason.BAD_IP_HEADER, f"version/IHL byte 0x{vihl:02x}")
    ihl = (vihl & 0x0F) << 2
    ah: AhHeader | None = None
    if proto == AH_PROTO:
        if n < ihl + AH_HEADER_LEN + VRRP_HEADER_LEN:
            raise PacketError(DropReason.TOO_SHORT, f"IPv4 VRRP packet with AH too short - {n} bytes")
        ah = AhHeader(*_AH_HDR.unpack_from(data, ihl))
        offset = ihl + AH_HEADER_LEN
    elif proto == VRRP_PROTO:
        if n < ihl + VRRP_HEADER_LEN:
            raise PacketError(DropReason.TOO_SHORT, f"IPv4 VRRP packet too short - {n} bytes")
        offset = ihl
    else:
        raise PacketError(DropReason.BAD_PROTOCOL, f"IP protocol {proto}")
    return Ipv4Datagram(
        ihl,
        tos,
        tot_len,
        ident,
        frag_off,
        ttl,
        proto,
        check,
        IPv4Address(s),
        IPv4Address(d),
        ah,
        offset,
        data,
    )
