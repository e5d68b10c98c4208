"""Shared test/bench tooling: packet captures in lab hosts and a minimal pcap reader.

The daemon harness (Node, wait_for, instance_conf) lives in src/pykeepalived/lab/node.py; this module adds
what the interop tests and bench/bench_interop.py need to look at the wire: `Capture` runs tcpdump
inside a lab host, `read_pcap` returns (timestamp, frame) pairs, `vrrp_adverts` decodes the VRRP
adverts in a capture (IPv4 with or without AH, IPv6) with their arrival times.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pykeepalived.lab.netns import Host


class Capture:
    """tcpdump -i IFACE -w FILE in a lab host (packet-buffered so nothing is lost at stop)."""

    def __init__(self, host: Host, filter_: str = "", iface: str = "eth0", snaplen: int = 256) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyka-cap-{host.name}-"))
        self.path = self.dir / "cap.pcap"
        argv = ["tcpdump", "-i", iface, "-s", str(snaplen), "-U", "--immediate-mode", "-n"]
        argv += ["-w", str(self.path)]
        if filter_:
            argv.append(filter_)
        self.proc = host.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on ..." once the socket is bound
        deadline = time.monotonic() + 10
        assert self.proc.stderr is not None
        os.set_blocking(self.proc.stderr.fileno(), False)
        buf = b""
        while b"listening on" not in buf:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"tcpdump did not start: {buf!r}")
            chunk = self.proc.stderr.read() or b""
            buf += chunk
            time.sleep(0.02)

    def stop(self) -> Path:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.path

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def read_pcap(path: Path) -> list[tuple[float, bytes]]:
    """Frames of a classic little/big-endian pcap file (µs or ns timestamps) as (time, bytes)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    endian, scale = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }[magic]
    rec = struct.Struct(endian + "IIII")
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += 16
        out.append((sec + frac * scale, data[off : off + incl]))
        off += incl
    return out


@dataclass(frozen=True)
class Seen:
    """One VRRP advert on the wire."""

    t: float
    src: str
    dst: str
    ttl: int
    version: int
    vrid: int
    priority: int
    ah: bool


def vrrp_adverts(path: Path) -> list[Seen]:
    """Every VRRP advert (Ethernet frames) in a capture."""
    out = []
    for t, f in read_pcap(path):
        if len(f) < 14:
            continue
        etype = struct.unpack_from("!H", f, 12)[0]
        p = f[14:]
        if etype == 0x0800 and len(p) >= 20:
            ihl = (p[0] & 0x0F) * 4
            proto, ttl = p[9], p[8]
            src, dst = str(ipaddress.IPv4Address(p[12:16])), str(ipaddress.IPv4Address(p[16:20]))
            body = p[ihl:]
            ah = proto == 51
            if ah:
                body = body[(body[1] + 2) * 4 :] if len(body) > 2 else b""
            elif proto != 112:
                continue
        elif etype == 0x86DD and len(p) >= 40 and p[6] == 112:
            ttl, ah = p[7], False
            src, dst = str(ipaddress.IPv6Address(p[8:24])), str(ipaddress.IPv6Address(p[24:40]))
            body = p[40:]
        else:
            continue
        if len(body) < 4:
            continue
        out.append(Seen(t, src, dst, ttl, body[0] >> 4, body[1], body[2], ah))
    return out
