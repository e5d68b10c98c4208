"""pyroute2's rtnetlink client. Import it from here (not `from pyroute2 import AsyncIPRoute`): the
package pykeepalived.linux made `pyroute2` lazy (see its __init__), and the top-level name would load
all of pyroute2.

Also the little a few requests made without pyroute2 share (a netlink socket, the message header):
where pyroute2's ~0.1-0.3 ms of Python to encode a request or decode a message, multiplied by
hundreds of addresses, made most of a VRRP child's start (linux/addresses.py del_addresses,
linux/iface.py dump_addresses; issue 15)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from pyroute2.iproute.linux import AsyncIPRoute

__all__ = ["AsyncIPRoute"]

NLMSGHDR = struct.Struct("=IHHII")  # struct nlmsghdr: length, type, flags, sequence, port id
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR = 0x1, 0x4, 0x300, 0x10
IFADDRMSG = struct.Struct("=BBBBI")  # struct ifaddrmsg: family, prefix length, flags, scope, index
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_FLAGS = 1, 2, 3, 8


def raw_socket() -> socket.socket:
    """A blocking NETLINK_ROUTE socket in this thread's network namespace (5 s timeout)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    s.settimeout(5.0)
    return s


def request(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags | NLM_F_REQUEST, seq, 0) + body


def messages(data: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(type, flags, sequence, payload start, payload end) of each message of a datagram."""
    pos = 0
    while pos + NLMSGHDR.size <= len(data):
        size, kind, flags, seq, _ = NLMSGHDR.unpack_from(data, pos)
        yield kind, flags, seq, pos + NLMSGHDR.size, pos + max(size, NLMSGHDR.size)
        pos += max((size + 3) & ~3, NLMSGHDR.size)


def error_code(data: bytes, start: int) -> int:
    """The errno of an NLMSG_ERROR message (0: an ack)."""
    return -int(struct.unpack_from("=i", data, start)[0])
