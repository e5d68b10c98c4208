# Theory of operation
# -------------------
# Link state by polling the NIC, as keepalived 2.2.7's linkbeat (vrrp_if.c if_mii_probe,
# if_ethtool_probe, if_ioctl_flags) does, on an AF_INET datagram socket with ioctl(2):
#   * MII: SIOCGMIIPHY for the PHY address, then SIOCGMIIREG of BMCR and BMSR (read twice: the link
#     bit latches low) -- up if either BMSR read has BMSR_LSTATUS;
#   * ETHTOOL: SIOCETHTOOL with ETHTOOL_GLINK, the driver's link (carrier) state;
#   * IOCTL: SIOCGIFFLAGS, up when IFF_UP and IFF_RUNNING (ENODEV: down, other errors: up).
# The probe order is MII -> ETHTOOL -> IOCTL unless a type is configured (falling back the same way);
# a link found up by MII/ETHTOOL is confirmed by the interface flags.
"""MII / ethtool / interface-flags link probes (linkbeat)."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCETHTOOL = 0x8946
SIOCGMIIPHY = 0x8947
SIOCGMIIREG = 0x8948
ETHTOOL_GLINK = 0x0000000A
MII_BMCR, MII_BMSR = 0x00, 0x01
BMSR_LSTATUS = 0x0004
IFF_UP, IFF_RUNNING = 0x1, 0x40
IFNAMSIZ = 16
IFREQ_SIZE = 40
LB_MII, LB_ETHTOOL, LB_IOCTL = "MII", "ETHTOOL", "IOCTL"


def _ifreq(ifname: str, data: bytes = b"") -> bytearray:
    req = bytearray(IFREQ_SIZE)
    name = ifname.encode()[:IFNAMSIZ - 1]
    req[:len(name)] = name
    req[IFNAMSIZ:IFNAMSIZ + len(data)] = data
    return req


def ioctl_flags(fd: int, ifname: str) -> bool:
    """SIOCGIFFLAGS: IFF_UP and IFF_RUNNING (keepalived if_ioctl_flags)."""
    req = _ifreq(ifname)
    try:
        fcntl.ioctl(fd, SIOCGIFFLAGS, req)
    except OSError as e:
        return e.errno != errno.ENODEV
    flags = int(struct.unpack_from("H", req, IFNAMSIZ)[0])
    return flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING


def ethtool_link(fd: int, ifname: str) -> int:
    """ETHTOOL_GLINK: 1 up, 0 down, -1 not supported."""
    edata = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GLINK, 0), 8)
    req = _ifreq(ifname, struct.pack("P", ctypes.addressof(edata)))
    try:
        fcntl.ioctl(fd, SIOCETHTOOL, req)
    except OSError:
        return -1
    return 1 if struct.unpack("II", edata.raw)[1] else 0


def _mii_read(fd: int, ifname: str, phy_id: int, reg: int) -> int | None:
    req = _ifreq(ifname, struct.pack("HHHH", phy_id, reg, 0, 0))
    try:
        fcntl.ioctl(fd, SIOCGMIIREG, req)
    except OSError:
        return None
    return int(struct.unpack_from("HHHH", req, IFNAMSIZ)[3])


def mii_link(fd: int, ifname: str) -> int:
    """MII BMSR link status: 1 up, 0 down, -1 no MII transceiver / not supported."""
    req = _ifreq(ifname)
    try:
        fcntl.ioctl(fd, SIOCGMIIPHY, req)
    except OSError:
        return -1
    phy_id = struct.unpack_from("H", req, IFNAMSIZ)[0]
    if _mii_read(fd, ifname, phy_id, MII_BMSR) is None:
        return -1
    if _mii_read(fd, ifname, phy_id, MII_BMCR) is None:
        return -1
    bmsr = _mii_read(fd, ifname, phy_id, MII_BMSR)
    if not bmsr:
        return -1
    again = _mii_read(fd, ifname, phy_id, MII_BMSR) or 0
    return 1 if (bmsr | again) & BMSR_LSTATUS else 0


class LinkProbe:
    """One socket for the probes of every polled interface."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def close(self) -> None:
        self.sock.close()

    def init_type(self, ifname: str, configured: str | None) -> tuple[str, bool]:
        """keepalived init_linkbeat_status: the probe type that works and the link state."""
        fd = self.sock.fileno()
        lb, up = None, False
        if configured in (None, LB_MII) and (st := mii_link(fd, ifname)) >= 0:
            lb, up = LB_MII, bool(st)
        if lb is None and configured != LB_IOCTL:  # a configured MII that fails falls back too
            if (st := ethtool_link(fd, ifname)) >= 0:
                lb, up = LB_ETHTOOL, bool(st)
            elif configured == LB_ETHTOOL and (st := mii_link(fd, ifname)) >= 0:
                lb, up = LB_MII, bool(st)
        if lb is None:
            lb, up = LB_IOCTL, True
        return lb, up and ioctl_flags(fd, ifname)

    def probe(self, ifname: str, lb: str) -> bool:
        """A refresh: the type's link state confirmed by the interface flags."""
        fd = self.sock.fileno()
        up = True  # as keepalived, a probe failing now (-1) counts as up: the flags decide
        if lb == LB_MII:
            up = mii_link(fd, ifname) != 0
        elif lb == LB_ETHTOOL:
            up = ethtool_link(fd, ifname) != 0
        return up and ioctl_flags(fd, ifname)
