"""UDP_CHECK probe: send the payload; fail on an ICMP error, or, with require_reply, on no matching reply."""

from __future__ import annotations

import asyncio
import os
import socket

from pykeepalived.check.model import UdpCheckSpec
from pykeepalived.check.probes import ProbeResult, Target, make_socket


def reply_matches(pattern: str | None, data: bytes) -> bool:
    """Compare `data` against a hex pattern in which an X/x nibble matches anything."""
    if not pattern:
        return True
    want = pattern.replace(" ", "")
    got = data.hex()
    if len(got) < len(want):
        return False
    return all(w in "xX" or w.lower() == g for w, g in zip(want, got, strict=False))


async def probe_udp(spec: UdpCheckSpec, t: Target, timeout: float) -> ProbeResult:
    chk = t.fmt()
    loop = asyncio.get_running_loop()
    payload = spec.payload if spec.payload is not None else os.urandom(16)
    try:
        s = make_socket(t, socket.SOCK_DGRAM)
    except OSError as e:
        return ProbeResult(False, f"UDP_CHECK ({chk}) socket error: {e.strerror}")
    try:
        await loop.sock_connect(s, t.sockaddr())
        await loop.sock_sendall(s, payload)
        try:
            async with asyncio.timeout(timeout):
                data = await loop.sock_recv(s, 65536)
        except TimeoutError:
            if spec.require_reply:
                return ProbeResult(False, f"UDP_CHECK ({chk}) no reply")
            return ProbeResult(True)  # silence is success: failure is signalled by ICMP errors
    except OSError as e:  # ECONNREFUSED etc. from an ICMP error
        return ProbeResult(False, f"UDP_CHECK ({chk}) failed: {e.strerror}")
    finally:
        s.close()
    if spec.require_reply:
        if not spec.min_reply_length <= len(data) <= (spec.max_reply_length or 65535):
            return ProbeResult(False, f"UDP_CHECK ({chk}) reply length {len(data)} out of range")
        if not reply_matches(spec.reply_pattern, data):
            return ProbeResult(False, f"UDP_CHECK ({chk}) reply does not match")
    return ProbeResult(True)
