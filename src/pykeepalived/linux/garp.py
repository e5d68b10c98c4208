# Theory of operation
# -------------------
# Gratuitous ARP (RFC 5227 §3 "ARP Announcement", RFC 5798 §8.1.2 / RFC 3768 §8.1.2) and unsolicited
# neighbour advertisements (RFC 4861 §7.2.6) go out as whole Ethernet frames on AF_PACKET sockets:
# the caller (the GARP scheduler, frames built by the codec's frames.py, keepalived.md §5.7) hands
# complete frames; this module only owns one non-blocking packet socket per interface and writes
# them. keepalived skips interfaces flagged NOARP: `PacketSender.open` refuses them so the caller
# can log and move on. Send errors are returned, never raised.
"""AF_PACKET senders for gratuitous ARP and unsolicited NA frames."""

from __future__ import annotations

import contextlib
import logging
import socket

from pykeepalived.linux.iface import IFF_NOARP, interface_flags

log = logging.getLogger("pykeepalived.linux")


class NoArpInterface(OSError):
    """The interface has IFF_NOARP: keepalived sends no GARP/NA on it."""


class PacketSender:
    """One AF_PACKET socket bound to an interface; `send(frame)` writes a complete Ethernet frame."""

    def __init__(self, ifname: str, *, check_noarp: bool = True) -> None:
        if check_noarp and interface_flags(ifname) & IFF_NOARP:
            raise NoArpInterface(f"{ifname} is NOARP")
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.sent = 0
        self.errors = 0
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: send only
        try:
            self.sock.setblocking(False)
            self.sock.bind((ifname, 0))
        except BaseException:
            self.sock.close()
            raise

    def send(self, frame: bytes) -> OSError | None:
        try:
            self.sock.send(frame)
        except OSError as exc:
            self.errors += 1
            log.debug("GARP/NA send error on %s: %s", self.ifname, exc)
            return exc
        self.sent += 1
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> PacketSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GarpSenders:
    """PacketSenders by interface name, opened on first use and kept (keepalived keeps one per if)."""

    def __init__(self) -> None:
        self._senders: dict[str, PacketSender] = {}

    def send(self, ifname: str, frame: bytes) -> OSError | None:
        sender = self._senders.get(ifname)
        if sender is None:
            try:
                sender = self._senders[ifname] = PacketSender(ifname)
            except OSError as exc:
                return exc
        err = sender.send(frame)
        if isinstance(err, OSError) and err.errno == 19:  # ENODEV: interface recreated; reopen next time
            self.drop(ifname)
        return err

    def drop(self, ifname: str) -> None:
        sender = self._senders.pop(ifname, None)
        if sender is not None:
            sender.close()

    def close(self) -> None:
        for name in list(self._senders):
            self.drop(name)
