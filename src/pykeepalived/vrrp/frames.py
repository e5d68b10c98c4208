# Theory of operation
# -------------------
# The link-layer announcements a new MASTER sends for its addresses (keepalived.md §5.7), as whole
# Ethernet frames ready for a packet socket (the Linux layer) or a simulated LAN:
#
#   * gratuitous ARP (RFC 5227 §3 "ARP Announcement", RFC 5798 §6.4.2): ARP *request* with sender and
#     target protocol address both the VIP, target hardware address broadcast
#     (keepalived: vrrp_arp.c:send_gratuitous_arp_immediate);
#   * unsolicited neighbour advertisement (RFC 4861 §7.2.6): from the VIP to ff02::1, hop limit 255,
#     Override flag (+ Router flag when the interface forwards), Target Link-Layer Address option
#     (keepalived: vrrp_ndisc.c:ndisc_send_unsolicited_na_immediate).
#
# Both are pinned byte for byte to frames captured from keepalived 2.2.7 (tests/vrrp/golden).
"""Gratuitous ARP and unsolicited neighbour advertisement frames (pure bytes)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from pykeepalived.vrrp.packet import internet_checksum, ipv6_pseudo_header

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_ADVERT = 136
ND_NA_FLAG_ROUTER = 0x80000000
ND_NA_FLAG_SOLICITED = 0x40000000
ND_NA_FLAG_OVERRIDE = 0x20000000
ND_OPT_TARGET_LINKADDR = 2
BROADCAST_MAC = b"\xff" * 6
ALL_NODES6 = IPv6Address("ff02::1")
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"  # RFC 2464 §7: 33:33 + low 32 bits of ff02::1

_ARP = struct.Struct("!HHBBH6s4s6s4s")


def hwaddr_to_bytes(text: str) -> bytes:
    """A link-layer address as netlink and iproute2 print it ("02:00:5e:00:01:33"), any length; "" is b""."""
    if not text:
        return b""
    try:
        return bytes(int(part, 16) for part in text.split(":"))
    except ValueError as exc:
        raise ValueError(f"invalid MAC address {text!r}") from exc


def mac_to_bytes(mac: str | bytes) -> bytes:
    """Accept "02:00:5e:00:01:33" or 6 raw bytes."""
    raw = mac if isinstance(mac, bytes) else hwaddr_to_bytes(mac)
    if len(raw) != 6:
        raise ValueError(f"invalid MAC address {mac!r}")
    return raw


def ethernet_header(dst: bytes, src: bytes, ethertype: int) -> bytes:
    return dst + src + struct.pack("!H", ethertype)


def build_garp(vip: IPv4Address, mac: str | bytes) -> bytes:
    """Gratuitous ARP frame for `vip` from interface MAC `mac` (42 bytes, no padding)."""
    hw = mac_to_bytes(mac)
    arp = _ARP.pack(ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST, hw, vip.packed, BROADCAST_MAC, vip.packed)
    return ethernet_header(BROADCAST_MAC, hw, ETH_P_ARP) + arp


def build_unsolicited_na(vip: IPv6Address, mac: str | bytes, *, router: bool = False) -> bytes:
    """Unsolicited neighbour advertisement frame for `vip` (86 bytes).

    `router` sets the R flag (keepalived sets it when IPv6 forwarding is enabled on the interface).
    """
    hw = mac_to_bytes(mac)
    flags = ND_NA_FLAG_OVERRIDE | (ND_NA_FLAG_ROUTER if router else 0)
    option = struct.pack("!BB6s", ND_OPT_TARGET_LINKADDR, 1, hw)
    icmp = struct.pack("!BBHI", ND_NEIGHBOR_ADVERT, 0, 0, flags) + vip.packed + option
    csum = internet_checksum(icmp, ipv6_pseudo_header(vip, ALL_NODES6, len(icmp), IPPROTO_ICMPV6))
    icmp = icmp[:2] + csum.to_bytes(2, "big") + icmp[4:]
    # version 6, traffic class 0, flow label 0; payload length; next header ICMPv6; hop limit 255
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), IPPROTO_ICMPV6, 255) + vip.packed + ALL_NODES6.packed
    return ethernet_header(ALL_NODES_MAC, hw, ETH_P_IPV6) + ip6 + icmp
