# Theory of operation
# -------------------
# A MASTER of many instances sends a burst of adverts at each wake-up: with 1,000 instances at
# 100 ms, 10,000 datagrams a second, 250 of them at a time on each interface's connected send
# socket (vrrp_socket.VrrpSocket.sender). sendmmsg(2) hands the kernel all the datagrams queued
# for one socket in one system call: the per-call entry/exit, descriptor lookup and Python argument
# handling are paid once per burst instead of once per datagram (about a tenth of a send's cost).
# Python's socket module has no sendmmsg, so it is called through ctypes on prebuilt arrays: an
# advert's bytes are an immutable `bytes` object reused every interval, so the array for a burst is
# built once and reused while the same datagrams go out in the same order (the steady state).
# Errors stay per datagram: when sendmmsg stops at a datagram that fails, the failure is reported
# for that datagram and sending resumes after it, so each error is seen exactly as with send(2).
"""sendmmsg(2) for bursts of datagrams on connected sockets."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),  # struct iovec * (an address: no ctypes pointer object kept)
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def _load() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.sendmmsg
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_sendmmsg = _load()
AVAILABLE = _sendmmsg is not None
_MSIZE = ctypes.sizeof(_Mmsghdr)


class _Burst:
    """The arrays for one list of datagrams (kept alive with them)."""

    __slots__ = ("addr", "datas", "iovs", "msgs")

    def __init__(self, datas: list[bytes]) -> None:
        n = len(datas)
        self.datas = datas
        self.iovs = (_Iovec * n)()
        self.msgs = (_Mmsghdr * n)()
        iov0, isize = ctypes.addressof(self.iovs), ctypes.sizeof(_Iovec)
        for i, data in enumerate(datas):  # `datas` keeps the buffers alive
            iov = self.iovs[i]
            iov.iov_base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
            iov.iov_len = len(data)
            hdr = self.msgs[i].msg_hdr
            hdr.msg_iov = iov0 + i * isize
            hdr.msg_iovlen = 1
        self.addr = ctypes.addressof(self.msgs)


Failure = Callable[[int, OSError], None]
"""Called with the index of the datagram (in the order queued) and its error."""


def send_burst(fd: int, datas: list[bytes], cache: dict[int, _Burst], on_error: Failure) -> None:
    """Send `datas` in order on the connected socket `fd`; `cache` keeps the arrays per socket."""
    burst = cache.get(fd)
    if burst is None or burst.datas != datas:  # list equality: identity first, so cheap when reused
        burst = cache[fd] = _Burst(datas)
    n, off = len(datas), 0
    while off < n:
        sent = _sendmmsg(fd, burst.addr + off * _MSIZE, n - off, 0)
        if sent > 0:
            off += sent
            continue
        err = ctypes.get_errno() if sent < 0 else 0
        on_error(off, OSError(err, os.strerror(err)) if err else OSError("sendmmsg sent nothing"))
        off += 1
