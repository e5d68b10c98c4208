# Theory of operation
# -------------------
# Receive buffer sizes of the daemon's sockets, from global_defs (keepalived.md §1.2):
# * `{vrrp,lvs}_netlink_{cmd,monitor}_rcv_bufs N` and `..._force`: SO_RCVBUF (SO_RCVBUFFORCE with
#   force, which passes net.core.rmem_max and needs CAP_NET_ADMIN) on the rtnetlink command channel
#   and on the monitoring (reflector) socket of the VRRP child, resp. the checker child. keepalived
#   sets 64 KiB when N is 0 or unset; pykeepalived keeps its own larger default (4 MiB on the monitor)
#   unless the keyword is given, since a Python reader drains a burst more slowly than keepalived.
# * `process_monitor_rcv_bufs N` and `_force`: the proc connector socket of vrrp_track_process.
# * VRRP receive sockets (keepalived vrrp_scheduler.c): each instance on a socket adds its
#   `kernel_rx_buf_size`, else the `vrrp_rx_bufs_policy` size, else (policy ADVERT) multiplier x the
#   advert length, else (policy MTU) multiplier x the interface MTU (multiplier default 3); with no
#   policy and no kernel_rx_buf_size the kernel default stays. The kernel stores (and getsockopt
#   reports) twice the value asked for.
"""SO_RCVBUF / SO_RCVBUFFORCE settings of netlink and VRRP sockets."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("pykeepalived")

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
IPV4_HEADER = 20
AH_HEADER = 24
VRRP_HEADER = 8
VRRP_AUTH_LEN = 8
IF_DEFAULT_BUFSIZE = 64 * 1024  # keepalived's netlink receive buffer for `NAME_rcv_bufs 0` / unset


def set_rcvbuf(sock: socket.socket | Any, size: int, force: bool = False, what: str = "") -> bool:
    """setsockopt SO_RCVBUF(FORCE); keepalived's messages when the kernel refuses."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE if force else socket.SO_RCVBUF, size)
        return True
    except OSError as e:
        if what == "process":
            log.info("Cannot set process monitor SO_RCVBUF%s option. errno=%d (%s)",
                     "FORCE" if force else "", e.errno or 0, e.strerror)
        elif force:
            log.info("cant set SO_RCVBUFFORCE IP option. errno=%d (%s)", e.errno or 0, e.strerror)
        else:
            log.info("Cannot set SO_RCVBUF IP option. errno=%d (%s)", e.errno or 0, e.strerror)
        return False


def apply_netlink_bufs(sock: Any, bufs: tuple[int, bool] | None, name: str) -> bool:
    """Set NAME's configured (size, force) (GlobalDefs.rcv_bufs, typed by config/bag_fields.py) on
    sock, keepalived's 64 KiB for a size of 0 (force alone); False (nothing done) when not configured."""
    if bufs is None:
        return False
    what = "process" if name == "process_monitor" else ""
    return set_rcvbuf(sock, bufs[0] or IF_DEFAULT_BUFSIZE, bufs[1], what)


def advert_len(family: int, version: int, n_vips: int, ah: bool = False) -> int:
    """keepalived vrrp_adv_len(): the IPv4 header (and AH) + VRRP header + auth data + addresses."""
    if family == 4:
        n = VRRP_HEADER + (VRRP_AUTH_LEN if version == 2 else 0) + 4 * n_vips + IPV4_HEADER
        return n + (AH_HEADER if ah else 0)
    return VRRP_HEADER + 16 * n_vips


def instance_rx_buf(policy: tuple[str | None, int, int], kernel_rx_buf_size: int, adv_len: int,
                    mtu: int | None) -> int:
    """What one instance adds to its socket's receive buffer (0: nothing)."""
    kind, size, mult = policy
    if kernel_rx_buf_size:
        return kernel_rx_buf_size
    if kind == "SIZE":
        return size
    if kind == "ADVERT":
        return mult * adv_len
    if kind == "MTU" and mtu:
        return mult * mtu
    return 0


class SocketRxBufs:
    """The per-socket sum of the instances' contributions, re-applied as instances join."""

    def __init__(self) -> None:
        self.parts: dict[int, dict[str, int]] = {}

    def attach(self, sock: Any, instance: str, size: int) -> int:
        parts = self.parts.setdefault(id(sock), {})
        if parts.get(instance) == size:
            return sum(parts.values())
        parts[instance] = size
        total = sum(parts.values())
        if total:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, total)
            except OSError as e:
                log.info("vrrp set receive socket buffer size error %d", e.errno or 0)
        return total

    def forget(self, socks: Iterable[Any]) -> None:
        live = {id(s) for s in socks}
        for k in [k for k in self.parts if k not in live]:
            del self.parts[k]
