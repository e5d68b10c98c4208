"""SMTP_CHECK probe: 220 banner, HELO → 250, QUIT (RFC 5321 §4.2, §4.3.2), keepalived's failure texts."""

from __future__ import annotations

import asyncio

from pykeepalived.check.probes import ProbeResult, Target, tcp_connect


async def _reply(reader: asyncio.StreamReader) -> int:
    """Read one (possibly multi-line, RFC 5321 §4.2.1) reply; return its code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if not line[:3].isdigit():
            return 0  # not a reply code: never the one expected
        if line[3:4] != b"-":
            return int(line[:3])


async def probe_smtp(t: Target, timeout: float, helo_name: str) -> ProbeResult:
    """keepalived's check_smtp.c dialogue and failure texts (FMT_SMTP_RS: `[IP]:PORT`): a 220 banner,
    HELO answered 250, then QUIT whose reply, whatever it is, ends the check successfully."""
    srv = f"[{t.host}]:{t.port}"
    try:
        sock = await tcp_connect(t, timeout)
    except TimeoutError:
        return ProbeResult(False, f"SMTP_CHECK Connection timeout to server {srv}")
    except OSError:
        return ProbeResult(False, f"SMTP_CHECK Error connecting to server {srv}")
    step = "Read timeout from"
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(sock=sock)
            try:
                steps = ((None, 220, "Bad greeting banner"), ("HELO", 250, "Bad HELO response"),
                         ("QUIT", None, ""))
                for send, want, bad in steps:
                    if send:
                        step = "Write timeout to"
                        writer.write(f"{send} {helo_name}\r\n".encode() if send == "HELO" else b"QUIT\r\n")
                        await writer.drain()
                    step = "Read timeout from"
                    code = await _reply(reader)
                    if want is not None and code != want:
                        return ProbeResult(False, f"SMTP_CHECK {bad} from server {srv}")
            finally:
                writer.close()
    except TimeoutError:
        return ProbeResult(False, f"SMTP_CHECK {step} server {srv}")
    except OSError:
        what = "Write failure to" if step.startswith("Write") else "Read failure from"
        return ProbeResult(False, f"SMTP_CHECK {what} server {srv}")
    finally:
        sock.close()
    return ProbeResult(True)
