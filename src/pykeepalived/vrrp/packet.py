# Theory of operation
# -------------------
# CONTRACT STUB, to be replaced by the codec implementation. The signatures below are what the
# state machine (instance.py) and the Linux layer code against; the implementation may add helpers
# but must keep these names and meanings.
"""VRRPv2/v3 advertisement codec (RFC 3768 §5, RFC 5798 §5, RFC 9568 §5)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pykeepalived.vrrp.params import AuthType, ChecksumMode, IPAddress

VRRP_PROTO = 112
AH_PROTO = 51


class DropReason(enum.Enum):
    """Why a datagram was refused; values are keepalived's stats counter names where one exists."""

    TOO_SHORT = "packet_len_err"
    BAD_LENGTH = "packet_len_err"


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


@dataclass(frozen=True, slots=True)
class RxPacket:
    """What the Linux layer (or the simulator's LAN) delivers for one received datagram.

    For IPv4 `data` is the whole IP datagram (IP header, optional AH, VRRP); for IPv6 it is the VRRP
    PDU (the kernel strips the header) and `ttl` is the hop limit from IPV6_HOPLIMIT ancillary data.
    """

    ifindex: int
    family: int  # 4 or 6
    src: IPAddress
    dst: IPAddress
    ttl: int
    data: bytes


def encode_advert(
    adv: Advertisement,
    *,
    src: IPAddress,
    dst: IPAddress,
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
) -> bytes:
    """Return the VRRP PDU bytes with the checksum filled in (src/dst feed the v3 pseudo-header)."""
    raise NotImplementedError


def decode_advert(pdu: bytes, family: int) -> Advertisement:
    """Parse a VRRP PDU leniently (no semantic checks); raise only PacketError."""
    raise NotImplementedError


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
) -> bytes:
    """Wrap a PDU in keepalived's IPv4 header (TOS 0xc0, DF clear), adding IPSEC-AH when asked."""
    raise NotImplementedError
