# Theory of operation
# -------------------
# AgentX (RFC 2741) is the protocol keepalived's SNMP support speaks: keepalived is a *subagent*
# of net-snmp's snmpd (`master agentx` in snmpd.conf), connected over a unix or TCP stream. The
# master sends Get/GetNext/GetBulk/TestSet... for the subtrees the subagent registered and relays
# the subagent's Notify PDUs as SNMPv2 traps. This module is the wire format only: bytes in,
# typed PDUs out and back, no sockets (the asyncio transport is daemon/snmp_agent.py).
#
# Why our own: PyPI has no maintained asyncio AgentX implementation. pyagentx/pyagentx2/pyagentx3
# run the session in a thread with blocking sockets and have no GetBulk; netsnmpagent binds
# libnetsnmp through ctypes (a C library driving its own select loop, which would sit on the VRRP
# timer path); pysnmp speaks SNMP, not AgentX. The PDU format is small and fully specified, so it
# is written here as a pure codec, tested against snmpd itself (tests/snmp/).
#
# Every PDU is a 20-byte header (version 1, type, flags, session/transaction/packet ids, payload
# length) and a payload whose integers follow the header's NETWORK_BYTE_ORDER flag: we always send
# big-endian and read either. An OID is n_subid, prefix (1.3.6.1.<prefix> compressed), include, then
# 32-bit sub-identifiers; an octet string is a 32-bit length and the bytes padded to 4.
"""AgentX (RFC 2741) PDU encoding and decoding: pure, no I/O."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

OID = tuple[int, ...]

HEADER_LEN = 20
INTERNET = (1, 3, 6, 1)


class PduType(enum.IntEnum):
    OPEN = 1
    CLOSE = 2
    REGISTER = 3
    UNREGISTER = 4
    GET = 5
    GETNEXT = 6
    GETBULK = 7
    TESTSET = 8
    COMMITSET = 9
    UNDOSET = 10
    CLEANUPSET = 11
    NOTIFY = 12
    PING = 13
    INDEX_ALLOCATE = 14
    INDEX_DEALLOCATE = 15
    ADD_AGENT_CAPS = 16
    REMOVE_AGENT_CAPS = 17
    RESPONSE = 18


class Flag(enum.IntFlag):
    INSTANCE_REGISTRATION = 0x01
    NEW_INDEX = 0x02
    ANY_INDEX = 0x04
    NON_DEFAULT_CONTEXT = 0x08
    NETWORK_BYTE_ORDER = 0x10


class VType(enum.IntEnum):
    INTEGER = 2
    OCTET_STRING = 4
    NULL = 5
    OBJECT_IDENTIFIER = 6
    IP_ADDRESS = 64
    COUNTER32 = 65
    GAUGE32 = 66
    TIME_TICKS = 67
    OPAQUE = 68
    COUNTER64 = 70
    NO_SUCH_OBJECT = 128
    NO_SUCH_INSTANCE = 129
    END_OF_MIB_VIEW = 130


class Error(enum.IntEnum):
    NO_ERROR = 0
    GEN_ERR = 5
    NO_ACCESS = 6
    WRONG_TYPE = 7
    WRONG_VALUE = 10
    NOT_WRITABLE = 17
    OPEN_FAILED = 256
    NOT_OPEN = 257
    DUPLICATE_REGISTRATION = 263
    UNKNOWN_REGISTRATION = 264
    PARSE_ERROR = 266
    REQUEST_DENIED = 267
    PROCESSING_ERROR = 268


class CloseReason(enum.IntEnum):
    OTHER = 1
    PARSE_ERROR = 2
    PROTOCOL_ERROR = 3
    TIMEOUTS = 4
    SHUTDOWN = 5
    BY_MANAGER = 6


class ParseError(ValueError):
    """A PDU that does not follow RFC 2741's encoding."""


@dataclass(frozen=True)
class Value:
    """A typed SNMP value: `data` is int for the integer types, bytes for strings and addresses,
    an OID tuple for OBJECT_IDENTIFIER, None for NULL and the exceptions."""

    type: VType
    data: int | bytes | OID | None = None


def integer(v: int) -> Value:
    return Value(VType.INTEGER, v)


def octets(v: str | bytes) -> Value:
    return Value(VType.OCTET_STRING, v.encode() if isinstance(v, str) else v)


def gauge(v: int) -> Value:
    return Value(VType.GAUGE32, v & 0xFFFFFFFF)


def counter(v: int) -> Value:
    return Value(VType.COUNTER32, v & 0xFFFFFFFF)


def counter64(v: int) -> Value:
    return Value(VType.COUNTER64, v & 0xFFFFFFFFFFFFFFFF)


def timeticks(v: int) -> Value:
    return Value(VType.TIME_TICKS, v & 0xFFFFFFFF)


def ipaddress(v: bytes) -> Value:
    return Value(VType.IP_ADDRESS, v)


def objectid(v: OID) -> Value:
    return Value(VType.OBJECT_IDENTIFIER, v)


NULL = Value(VType.NULL)
NO_SUCH_OBJECT = Value(VType.NO_SUCH_OBJECT)
NO_SUCH_INSTANCE = Value(VType.NO_SUCH_INSTANCE)
END_OF_MIB_VIEW = Value(VType.END_OF_MIB_VIEW)


@dataclass(frozen=True)
class VarBind:
    name: OID
    value: Value


@dataclass(frozen=True)
class SearchRange:
    start: OID
    end: OID  # () = no upper bound
    include: bool = False


@dataclass
class Header:
    type: PduType
    flags: int = Flag.NETWORK_BYTE_ORDER
    session_id: int = 0
    transaction_id: int = 0
    packet_id: int = 0


@dataclass
class Pdu:
    """One AgentX PDU; only the fields of its type are meaningful."""

    header: Header
    context: bytes | None = None
    # Open
    timeout: int = 0
    oid: OID = ()
    descr: bytes = b""
    # Close
    reason: CloseReason = CloseReason.OTHER
    # Register / Unregister
    priority: int = 127
    range_subid: int = 0
    upper_bound: int = 0
    # Get / GetNext / GetBulk
    ranges: list[SearchRange] = field(default_factory=list)
    non_repeaters: int = 0
    max_repetitions: int = 0
    # Response / TestSet / Notify / AddAgentCaps (oid, descr)
    sys_uptime: int = 0
    error: int = 0
    index: int = 0
    varbinds: list[VarBind] = field(default_factory=list)


# ---------------------------------------------------------------------- encoding
def _oid(o: OID, include: bool = False) -> bytes:
    prefix = 0
    subs = o
    if len(o) > 4 and o[:4] == INTERNET and 0 < o[4] < 256:
        prefix, subs = o[4], o[5:]
    return struct.pack("!BBBx", len(subs), prefix, int(include)) + b"".join(
        struct.pack("!I", s & 0xFFFFFFFF) for s in subs)


def _octets(b: bytes) -> bytes:
    pad = (-len(b)) % 4
    return struct.pack("!I", len(b)) + b + b"\0" * pad


def _value(v: Value) -> bytes:
    t, d = v.type, v.data
    if t in (VType.INTEGER, VType.COUNTER32, VType.GAUGE32, VType.TIME_TICKS):
        assert isinstance(d, int)
        return struct.pack("!I", d & 0xFFFFFFFF)
    if t == VType.COUNTER64:
        assert isinstance(d, int)
        return struct.pack("!Q", d)
    if t in (VType.OCTET_STRING, VType.IP_ADDRESS, VType.OPAQUE):
        assert isinstance(d, bytes)
        return _octets(d)
    if t == VType.OBJECT_IDENTIFIER:
        assert isinstance(d, tuple)
        return _oid(d)
    return b""


def _varbind(vb: VarBind) -> bytes:
    return struct.pack("!Hxx", vb.value.type) + _oid(vb.name) + _value(vb.value)


def encode(p: Pdu) -> bytes:
    h = p.header
    t = h.type
    flags = (h.flags | Flag.NETWORK_BYTE_ORDER) & ~Flag.NON_DEFAULT_CONTEXT
    body = b""
    if p.context is not None and t in (PduType.REGISTER, PduType.UNREGISTER, PduType.GET, PduType.GETNEXT,
                                       PduType.GETBULK, PduType.TESTSET, PduType.NOTIFY, PduType.PING,
                                       PduType.ADD_AGENT_CAPS, PduType.REMOVE_AGENT_CAPS):
        flags |= Flag.NON_DEFAULT_CONTEXT
        body += _octets(p.context)
    if t == PduType.OPEN:
        body += struct.pack("!Bxxx", p.timeout) + _oid(p.oid) + _octets(p.descr)
    elif t == PduType.CLOSE:
        body += struct.pack("!Bxxx", p.reason)
    elif t in (PduType.REGISTER, PduType.UNREGISTER):
        body += struct.pack("!BBBx", p.timeout if t == PduType.REGISTER else 0, p.priority, p.range_subid)
        body += _oid(p.oid)
        if p.range_subid:
            body += struct.pack("!I", p.upper_bound)
    elif t in (PduType.GET, PduType.GETNEXT, PduType.GETBULK):
        if t == PduType.GETBULK:
            body += struct.pack("!HH", p.non_repeaters, p.max_repetitions)
        for r in p.ranges:
            body += _oid(r.start, r.include) + _oid(r.end)
    elif t in (PduType.TESTSET, PduType.NOTIFY):
        body += b"".join(_varbind(vb) for vb in p.varbinds)
    elif t == PduType.ADD_AGENT_CAPS:
        body += _oid(p.oid) + _octets(p.descr)
    elif t == PduType.REMOVE_AGENT_CAPS:
        body += _oid(p.oid)
    elif t == PduType.RESPONSE:
        body += struct.pack("!IHH", p.sys_uptime, p.error, p.index)
        body += b"".join(_varbind(vb) for vb in p.varbinds)
    head = struct.pack("!BBBxIIII", 1, t, flags, h.session_id, h.transaction_id, h.packet_id, len(body))
    return head + body


# ---------------------------------------------------------------------- decoding
class _Reader:
    def __init__(self, data: bytes, big: bool) -> None:
        self.d = data
        self.i = 0
        self.e = "!" if big else "<"

    def take(self, n: int) -> bytes:
        if self.i + n > len(self.d):
            raise ParseError("truncated PDU")
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(self.e + "H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(self.e + "I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(self.e + "Q", self.take(8))[0])

    def oid(self) -> tuple[OID, bool]:
        n, prefix, include = self.u8(), self.u8(), self.u8()
        self.take(1)
        if n > 128:
            raise ParseError(f"OID of {n} sub-identifiers")
        subs = tuple(self.u32() for _ in range(n))
        if prefix:
            subs = (*INTERNET, prefix, *subs)
        return subs, bool(include)

    def octets(self) -> bytes:
        n = self.u32()
        b = self.take(n)
        self.take((-n) % 4)
        return b

    def value(self, t: int) -> Value:
        try:
            vt = VType(t)
        except ValueError:
            raise ParseError(f"unknown value type {t}") from None
        if vt in (VType.INTEGER, VType.COUNTER32, VType.GAUGE32, VType.TIME_TICKS):
            v = self.u32()
            if vt == VType.INTEGER and v >= 1 << 31:
                v -= 1 << 32
            return Value(vt, v)
        if vt == VType.COUNTER64:
            return Value(vt, self.u64())
        if vt in (VType.OCTET_STRING, VType.IP_ADDRESS, VType.OPAQUE):
            return Value(vt, self.octets())
        if vt == VType.OBJECT_IDENTIFIER:
            return Value(vt, self.oid()[0])
        return Value(vt)

    def varbinds(self) -> list[VarBind]:
        out = []
        while self.i < len(self.d):
            t = self.u16()
            self.take(2)
            name, _ = self.oid()
            out.append(VarBind(name, self.value(t)))
        return out


def pdu_length(head: bytes) -> int:
    """Total length of the PDU whose first HEADER_LEN bytes are `head`."""
    big = bool(head[2] & Flag.NETWORK_BYTE_ORDER)
    (n,) = struct.unpack("!I" if big else "<I", head[16:20])
    return HEADER_LEN + int(n)


def decode(data: bytes) -> Pdu:
    if len(data) < HEADER_LEN:
        raise ParseError("short header")
    version, t, flags = data[0], data[1], data[2]
    if version != 1:
        raise ParseError(f"AgentX version {version}")
    big = bool(flags & Flag.NETWORK_BYTE_ORDER)
    r = _Reader(data[4:HEADER_LEN], big)
    sid, tid, pid, n = r.u32(), r.u32(), r.u32(), r.u32()
    try:
        ptype = PduType(t)
    except ValueError:
        raise ParseError(f"unknown PDU type {t}") from None
    if len(data) < HEADER_LEN + n:
        raise ParseError("truncated payload")
    p = Pdu(Header(ptype, flags, sid, tid, pid))
    r = _Reader(data[HEADER_LEN:HEADER_LEN + n], big)
    if flags & Flag.NON_DEFAULT_CONTEXT:
        p.context = r.octets()
    if ptype == PduType.OPEN:
        p.timeout = r.u8()
        r.take(3)
        p.oid, _ = r.oid()
        p.descr = r.octets()
    elif ptype == PduType.CLOSE:
        p.reason = CloseReason(r.u8())
    elif ptype in (PduType.REGISTER, PduType.UNREGISTER):
        p.timeout, p.priority, p.range_subid = r.u8(), r.u8(), r.u8()
        r.take(1)
        p.oid, _ = r.oid()
        if p.range_subid:
            p.upper_bound = r.u32()
    elif ptype in (PduType.GET, PduType.GETNEXT, PduType.GETBULK):
        if ptype == PduType.GETBULK:
            p.non_repeaters, p.max_repetitions = r.u16(), r.u16()
        while r.i < len(r.d):
            start, inc = r.oid()
            end, _ = r.oid()
            p.ranges.append(SearchRange(start, end, inc))
    elif ptype in (PduType.TESTSET, PduType.NOTIFY):
        p.varbinds = r.varbinds()
    elif ptype == PduType.ADD_AGENT_CAPS:
        p.oid, _ = r.oid()
        p.descr = r.octets()
    elif ptype == PduType.REMOVE_AGENT_CAPS:
        p.oid, _ = r.oid()
    elif ptype == PduType.RESPONSE:
        p.sys_uptime, p.error, p.index = r.u32(), r.u16(), r.u16()
        p.varbinds = r.varbinds()
    return p
