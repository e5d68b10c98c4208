"""Minimal libpcap file reader/writer (Ethernet link type) for the codec tests."""

from __future__ import annotations

import struct

LINKTYPE_ETHERNET = 1


def write_pcap(frames: list[bytes], linktype: int = LINKTYPE_ETHERNET) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def read_pcap(data: bytes) -> list[tuple[float, bytes]]:
    magic = struct.unpack_from("<I", data)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise ValueError("not a pcap file")
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    off = 24
    frames = []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", data, off)
        off += 16
        frames.append((sec + frac / (1e9 if nano else 1e6), data[off : off + incl]))
        off += incl
    return frames
