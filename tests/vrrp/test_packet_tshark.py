"""Wireshark's dissectors as an independent oracle: our frames decode cleanly with good checksums."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from vrrp_pcap import write_pcap

from pykeepalived.vrrp.frames import ETH_P_IP, ETH_P_IPV6, build_garp, build_unsolicited_na, ethernet_header
from pykeepalived.vrrp.packet import Advertisement, build_ipv4_datagram, encode_advert
from pykeepalived.vrrp.params import AuthType, ChecksumMode

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

MAC = bytes.fromhex("02005e100001")
SRC4, GROUP4, PEER4 = IPv4Address("192.0.2.1"), IPv4Address("224.0.0.18"), IPv4Address("192.0.2.2")
SRC6, GROUP6 = IPv6Address("fe80::1"), IPv6Address("ff02::12")
VIPS4 = (IPv4Address("192.0.2.10"), IPv4Address("198.51.100.10"))
VIPS6 = (IPv6Address("2001:db8::10"),)


def eth4(dst: IPv4Address, datagram: bytes) -> bytes:
    mac = b"\x01\x00\x5e\x00\x00\x12" if dst.is_multicast else b"\x02\x00\x5e\x10\x00\x02"
    return ethernet_header(mac, MAC, ETH_P_IP) + datagram


def eth6(pdu: bytes, src: IPv6Address = SRC6, dst: IPv6Address = GROUP6) -> bytes:
    ip6 = (
        (0x6C000000).to_bytes(4, "big")
        + len(pdu).to_bytes(2, "big")
        + bytes([112, 255])
        + src.packed
        + dst.packed
    )
    return ethernet_header(b"\x33\x33\x00\x00\x00\x12", MAC, ETH_P_IPV6) + ip6 + pdu


def v4_frame(
    adv: Advertisement,
    dst: IPv4Address = GROUP4,
    mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
    auth: AuthType = AuthType.NONE,
) -> bytes:
    pdu = encode_advert(adv, src=SRC4, dst=dst, checksum_mode=mode)
    return eth4(
        dst,
        build_ipv4_datagram(
            pdu, src=SRC4, dst=dst, ttl=255, ident=42, auth_type=auth, auth_key=b"k", ah_seq=9
        ),
    )


def our_frames() -> list[bytes]:
    return [
        v4_frame(Advertisement(2, 51, 100, 1, VIPS4)),
        v4_frame(Advertisement(2, 52, 200, 3, VIPS4[:1], 1, b"secret")),
        v4_frame(Advertisement(2, 53, 0, 1, VIPS4, 2), auth=AuthType.AH),
        v4_frame(Advertisement(3, 54, 254, 100, VIPS4)),
        v4_frame(Advertisement(3, 55, 100, 4095, VIPS4), dst=PEER4),
        eth6(encode_advert(Advertisement(3, 56, 150, 25, VIPS6), src=SRC6, dst=GROUP6)),
        build_garp(VIPS4[0], MAC),
        build_unsolicited_na(VIPS6[0], MAC),
        build_unsolicited_na(VIPS6[0], MAC, router=True),
    ]


FIELDS = [
    "frame.number",
    "_ws.malformed",
    "_ws.expert.severity",
    "vrrp.checksum.status",
    "ip.checksum.status",
    "icmpv6.checksum.status",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "ah.sequence",
    "arp.isgratuitous",
    "icmpv6.nd.na.flag.o",
    "icmpv6.nd.na.flag.r",
]


def tshark(tmp_path: Path, frames: list[bytes], *prefs: str) -> list[dict[str, str]]:
    pcap = tmp_path / "frames.pcap"
    pcap.write_bytes(write_pcap(frames))
    cmd = [
        "tshark",
        "-n",
        "-r",
        str(pcap),
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-E",
        "separator=|",
    ]
    for p in prefs:
        cmd += ["-o", p]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    return [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]


def test_tshark_decodes_our_frames_with_good_checksums(tmp_path: Path) -> None:
    rows = tshark(tmp_path, our_frames())
    assert len(rows) == 9
    for row in rows:
        assert row["_ws.malformed"] == "", row
        assert row["_ws.expert.severity"] in ("", "2097152"), row  # at most "chat" level notes
    for row in rows[:6]:
        assert row["vrrp.checksum.status"] == "1", row  # 1 = good
    for row in rows[:5]:
        assert row["ip.checksum.status"] == "1", row
    assert [r["vrrp.virt_rtr_id"] for r in rows[:6]] == ["51", "52", "53", "54", "55", "56"]
    assert rows[2]["vrrp.prio"] == "0" and rows[2]["ah.sequence"] == "9"
    assert rows[6]["arp.isgratuitous"] in ("1", "True")
    for row in rows[7:]:
        assert row["icmpv6.checksum.status"] == "1" and row["icmpv6.nd.na.flag.o"] in ("1", "True"), row
    assert rows[7]["icmpv6.nd.na.flag.r"] in ("0", "False") and rows[8]["icmpv6.nd.na.flag.r"] in (
        "1",
        "True",
    )


def test_tshark_flags_a_corrupted_checksum(tmp_path: Path) -> None:
    frame = bytearray(v4_frame(Advertisement(3, 54, 254, 100, VIPS4)))
    frame[14 + 20 + 6] ^= 0xFF
    rows = tshark(tmp_path, [bytes(frame)])
    assert rows[0]["vrrp.checksum.status"] == "0"  # 0 = bad: the oracle can say no


def test_tshark_as_v2_checksum_mode(tmp_path: Path) -> None:
    frame = v4_frame(Advertisement(3, 57, 100, 100, VIPS4), mode=ChecksumMode.AS_V2)
    assert tshark(tmp_path, [frame])[0]["vrrp.checksum.status"] == "0"
    assert tshark(tmp_path, [frame], "vrrp.v3_checksum_as_in_v2:TRUE")[0]["vrrp.checksum.status"] == "1"
