# Theory of operation
# -------------------
# Pure bytes in, pure bytes out: the BFD Control packet of RFC 5880 §4.1 (a 24-byte mandatory section,
# no Authentication Section). `encode` builds one from a `ControlPacket`; `decode` applies every
# reception check of RFC 5880 §6.8.6 that needs no session state, plus the extra sanity checks
# keepalived 2.2.7 makes (bfd.c bfd_check_packet): the Length field must equal the datagram length,
# Poll and Final must not both be set (§6.5 "MUST NOT"), the Diagnostic must be a defined code (0..8).
#
# Authentication (§6.7) is not implemented, as in keepalived (it has no configuration keyword for it):
# a packet with the A bit set is refused (§6.8.6: "If the A bit is set and no authentication is in
# use ... the packet MUST be discarded"). The Echo function is not implemented either: we always send
# Required Min Echo RX Interval 0 (§6.8.9), and ignore the field on receipt.
#
# `decode` raises BfdPacketError (with a DropReason naming the failed check) and nothing else, for any
# input; the fuzz tests rely on it. `encode` trusts its caller and raises ValueError on a field out of
# range (a programming error).
"""BFD Control packet codec (RFC 5880 §4.1, §6.8.6)."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

BFD_VERSION = 1  # RFC 5880 §4.1
CONTROL_LEN = 24  # mandatory section, no authentication
SINGLE_HOP_PORT = 3784  # RFC 5881 §4
MULTIHOP_PORT = 4784  # RFC 5883 §5
SOURCE_PORT_MIN = 49152  # RFC 5881 §4: source port in 49152..65535
SOURCE_PORT_MAX = 65535
SINGLE_HOP_TTL = 255  # RFC 5881 §5 (GTSM, RFC 5082)

_HDR = struct.Struct("!BBBBIIIII")

# flag bits in the second byte (RFC 5880 §4.1: Sta(2) P F C A D M)
_P, _F, _C, _A, _D, _M = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01


class State(enum.IntEnum):
    """bfd.SessionState values (RFC 5880 §4.1 "State (Sta)")."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    @property
    def text(self) -> str:
        """As keepalived writes it in its logs (bfd.h BFD_STATE_STR)."""
        return _STATE_TEXT[self]


_STATE_TEXT = {State.ADMIN_DOWN: "AdminDown", State.DOWN: "Down", State.INIT: "Init", State.UP: "Up"}


class Diag(enum.IntEnum):
    """Diagnostic codes (RFC 5880 §4.1 "Diagnostic (Diag)")."""

    NO_DIAGNOSTIC = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8

    @property
    def text(self) -> str:
        """As keepalived writes it in its logs (bfd.h BFD_DIAG_STR)."""
        return _DIAG_TEXT[self]


_DIAG_TEXT = {
    Diag.NO_DIAGNOSTIC: "No Diagnostic",
    Diag.CONTROL_DETECTION_TIME_EXPIRED: "Control Detection Time Expired",
    Diag.ECHO_FUNCTION_FAILED: "Echo Function Failed",
    Diag.NEIGHBOR_SIGNALED_SESSION_DOWN: "Neighbor Signaled Session Down",
    Diag.FORWARDING_PLANE_RESET: "Forwarding Plane Reset",
    Diag.PATH_DOWN: "Path Down",
    Diag.CONCATENATED_PATH_DOWN: "Concatenated Path Down",
    Diag.ADMINISTRATIVELY_DOWN: "Administratively Down",
    Diag.REVERSE_CONCATENATED_PATH_DOWN: "Reverse Concatenated Path Down",
}


class DropReason(enum.Enum):
    """Which reception check refused the bytes (RFC 5880 §6.8.6 unless noted)."""

    TOO_SHORT = "too_short"  # fewer than 24 bytes
    BAD_LENGTH = "bad_length"  # Length field != datagram length (keepalived: must be equal)
    BAD_VERSION = "bad_version"  # Version != 1
    ZERO_MULTIPLIER = "zero_multiplier"  # Detect Mult == 0
    MULTIPOINT = "multipoint"  # M bit set
    ZERO_MY_DISCRIMINATOR = "zero_my_discriminator"  # My Discriminator == 0
    ZERO_YOUR_DISCRIMINATOR = "zero_your_discriminator"  # Your Discr 0 and State not Down/AdminDown
    POLL_AND_FINAL = "poll_and_final"  # §6.5: P and F both set
    BAD_DIAGNOSTIC = "bad_diagnostic"  # Diag > 8 (keepalived check)
    AUTHENTICATION = "authentication"  # A bit set: no authentication in use (§6.7)


class BfdPacketError(ValueError):
    """The only exception `decode` raises."""

    def __init__(self, reason: DropReason, detail: str = "") -> None:
        super().__init__(f"{reason.name}: {detail}" if detail else reason.name)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ControlPacket:
    """The fields of one BFD Control packet; intervals in microseconds, as on the wire."""

    state: State
    diag: Diag = Diag.NO_DIAGNOSTIC
    detect_mult: int = 3
    my_discriminator: int = 0
    your_discriminator: int = 0
    desired_min_tx_us: int = 1_000_000
    required_min_rx_us: int = 1_000_000
    required_min_echo_rx_us: int = 0
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    demand: bool = False
    authentication: bool = False
    multipoint: bool = False
    version: int = BFD_VERSION
    length: int = CONTROL_LEN


def encode(p: ControlPacket) -> bytes:
    """The 24 bytes of `p` (its `length` field is written as given, for tests of bad packets)."""
    if not 0 <= p.version <= 7 or not 0 <= p.diag <= 31 or not 0 <= p.detect_mult <= 255:
        raise ValueError(f"field out of range in {p}")
    flags = (int(p.state) << 6) | (_P if p.poll else 0) | (_F if p.final else 0)
    flags |= (_C if p.control_plane_independent else 0) | (_A if p.authentication else 0)
    flags |= (_D if p.demand else 0) | (_M if p.multipoint else 0)
    try:
        return _HDR.pack(
            (p.version << 5) | int(p.diag), flags, p.detect_mult, p.length, p.my_discriminator,
            p.your_discriminator, p.desired_min_tx_us, p.required_min_rx_us, p.required_min_echo_rx_us,
        )
    except struct.error as exc:
        raise ValueError(str(exc)) from None


def decode(data: bytes) -> ControlPacket:
    """Parse and check one received datagram (RFC 5880 §6.8.6, the checks needing no session)."""
    if len(data) < CONTROL_LEN:
        raise BfdPacketError(DropReason.TOO_SHORT, f"{len(data)} bytes")
    vd, flags, mult, length, mine, yours, tx, rx, echo = _HDR.unpack_from(data)
    version, diag = vd >> 5, vd & 0x1F
    if length != len(data):
        raise BfdPacketError(DropReason.BAD_LENGTH, f"length field {length}, datagram {len(data)} bytes")
    if version != BFD_VERSION:
        raise BfdPacketError(DropReason.BAD_VERSION, str(version))
    if mult == 0:
        raise BfdPacketError(DropReason.ZERO_MULTIPLIER)
    if flags & _M:
        raise BfdPacketError(DropReason.MULTIPOINT)
    if mine == 0:
        raise BfdPacketError(DropReason.ZERO_MY_DISCRIMINATOR)
    state = State(flags >> 6)
    if yours == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise BfdPacketError(DropReason.ZERO_YOUR_DISCRIMINATOR, state.text)
    if flags & _P and flags & _F:
        raise BfdPacketError(DropReason.POLL_AND_FINAL)
    if diag > max(Diag):
        raise BfdPacketError(DropReason.BAD_DIAGNOSTIC, str(diag))
    if flags & _A:
        raise BfdPacketError(DropReason.AUTHENTICATION)
    return ControlPacket(
        state=state, diag=Diag(diag), detect_mult=mult, my_discriminator=mine, your_discriminator=yours,
        desired_min_tx_us=tx, required_min_rx_us=rx, required_min_echo_rx_us=echo,
        poll=bool(flags & _P), final=bool(flags & _F), control_plane_independent=bool(flags & _C),
        demand=bool(flags & _D), authentication=False, multipoint=False, version=version, length=length,
    )
