"""SMTP_CHECK probe: 220 banner, HELO → 250, QUIT → 221 (RFC 5321 §4.2, §4.3.2)."""

from __future__ import annotations

import asyncio

from pykeepalived.check.probes import ProbeResult, Target, tcp_connect


async def _reply(reader: asyncio.StreamReader) -> int:
    """Read one (possibly multi-line, RFC 5321 §4.2.1) reply; return its code."""
    while True:
        line = await reader.readline()
        if len(line) < 3 or not line[:3].isdigit():
            raise ConnectionError("bad SMTP reply")
        if line[3:4] != b"-":
            return int(line[:3])


async def probe_smtp(t: Target, timeout: float, helo_name: str) -> ProbeResult:
    chk = t.fmt()
    try:
        sock = await tcp_connect(t, timeout)
    except TimeoutError:
        return ProbeResult(False, f"Connection timeout to server {chk}")
    except OSError:
        return ProbeResult(False, f"Error connecting to server {chk}")
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(sock=sock)
            try:
                for send, want in ((None, 220), (f"HELO {helo_name}\r\n", 250), ("QUIT\r\n", 221)):
                    if send:
                        writer.write(send.encode())
                        await writer.drain()
                    code = await _reply(reader)
                    if code != want:
                        return ProbeResult(False, f"SMTP_CHECK {chk} bad reply {code}, expected {want}")
            finally:
                writer.close()
    except TimeoutError:
        return ProbeResult(False, f"Timeout reading data to server {chk}")
    except OSError:
        return ProbeResult(False, f"Error reading data from server {chk}")
    finally:
        sock.close()
    return ProbeResult(True)
