"""DNS_CHECK probe: one query over UDP, success = a matching NOERROR answer (RFC 1035 §4.1)."""

from __future__ import annotations

import asyncio
import random
import socket
import struct

from pykeepalived.check.probes import ProbeResult, Target, make_socket

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "RRSIG": 46, "DNSKEY": 48}


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        if label:
            raw = label.encode("idna")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(qid: int, qtype: str, name: str) -> bytes:
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD, one question
    return header + encode_name(name) + struct.pack("!HH", QTYPES[qtype.upper()], 1)


def check_reply(data: bytes, qid: int) -> str | None:
    """None if `data` answers query `qid` with NOERROR and at least one answer, else the reason."""
    if len(data) < 12:
        return "truncated reply"
    rid, flags, _qd, an, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if rid != qid or not flags & 0x8000:
        return "ID/QR mismatch"
    if flags & 0x000F:
        return f"RCODE {flags & 0x000F}"
    if an == 0:
        return "ANCOUNT=0"
    return None


async def probe_dns(t: Target, timeout: float, qtype: str, name: str) -> ProbeResult:
    chk = t.fmt()
    qid = random.getrandbits(16)
    loop = asyncio.get_running_loop()
    try:
        s = make_socket(t, socket.SOCK_DGRAM)
    except OSError as e:
        return ProbeResult(False, f"DNS_CHECK ({chk}) socket error: {e.strerror}")
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(s, t.sockaddr())
            await loop.sock_sendall(s, build_query(qid, qtype, name))
            while True:
                data = await loop.sock_recv(s, 4096)
                if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == qid:
                    break
    except TimeoutError:
        return ProbeResult(False, f"DNS_CHECK ({chk}) timeout")
    except OSError as e:
        return ProbeResult(False, f"DNS_CHECK ({chk}) {e.strerror}")
    finally:
        s.close()
    why = check_reply(data, qid)
    if why:
        return ProbeResult(False, f"DNS_CHECK ({chk}) failed: {why}")
    return ProbeResult(True)
