"""PING_CHECK probe: one ICMP / ICMPv6 echo (RFC 792, RFC 4443 §4.1).

Uses an unprivileged ICMP datagram socket when ping_group_range allows it (the kernel then owns the
identifier and the checksum), else a raw socket.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct

from pykeepalived.check.probes import ProbeResult, Target, make_socket


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(v6: bool, ident: int, seq: int, payload: bytes) -> bytes:
    typ = 128 if v6 else 8
    hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    if v6:  # raw ICMPv6 sockets compute the checksum in the kernel
        return hdr + payload
    csum = checksum(hdr + payload)
    return struct.pack("!BBHHH", typ, 0, csum, ident, seq) + payload


async def probe_ping(t: Target, timeout: float) -> ProbeResult:
    chk = t.fmt()
    v6 = ":" in t.host
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    loop = asyncio.get_running_loop()
    raw = False
    try:
        s = make_socket(t, socket.SOCK_DGRAM, proto)
    except OSError:
        try:
            s = make_socket(t, socket.SOCK_RAW, proto)
            raw = True
        except OSError as e:
            return ProbeResult(False, f"PING_CHECK ({chk}) socket error: {e.strerror}")
    ident = os.getpid() & 0xFFFF
    seq = int.from_bytes(os.urandom(2), "big")
    payload = os.urandom(16)
    reply_type = 129 if v6 else 0
    try:
        addr = (t.host, 0, 0, t.sockaddr()[3]) if v6 else (t.host, 0)  # type: ignore[misc]
        async with asyncio.timeout(timeout):
            s.connect(addr)  # ICMP sockets connect at once (no handshake)
            await loop.sock_sendall(s, echo_request(v6, ident, seq, payload))
            while True:
                data = await loop.sock_recv(s, 65536)
                if raw and not v6:
                    data = data[(data[0] & 0x0F) * 4:]  # strip the IPv4 header
                if (len(data) >= 8 and data[0] == reply_type and struct.unpack("!H", data[6:8])[0] == seq
                        and data[8:] == payload):
                    return ProbeResult(True)
    except TimeoutError:
        return ProbeResult(False, f"PING_CHECK ({chk}) timeout")
    except OSError as e:
        return ProbeResult(False, f"PING_CHECK ({chk}) failed: {e.strerror}")
    finally:
        s.close()
