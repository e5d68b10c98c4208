"""Misbehaving web servers for genhash's error paths (nginx cannot be made to misbehave like this).

Usage: python genhash_odd.py CERT KEY   (in the test's namespace; listens on [::] ports ODD and
ODD_TLS below until killed)
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable

Handler = Callable[[socket.socket], None]


def hang(c: socket.socket) -> None:
    """Reads the request, never answers."""
    c.recv(4096)
    time.sleep(60)


def partial(c: socket.socket) -> None:
    """Half a header, then nothing."""
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\n")
    time.sleep(60)


def no_header(c: socket.socket) -> None:
    """An answer without the blank line that ends a header."""
    c.recv(4096)
    c.sendall(b"garbage without a header end\n")
    c.close()


def split(c: socket.socket) -> None:
    """Header and body in three writes, each read separately."""
    c.recv(4096)
    for part in (b"HTTP/1.0 200 OK\r\n", b"X: 1\r\n\r\nbo", b"dy"):
        c.sendall(part)
        time.sleep(0.3)
    c.close()


def junk_close_notify(c: socket.socket) -> None:
    """TLS: four bytes that are no HTTP, then a close_notify."""
    c.recv(4096)
    c.sendall(b"junk")
    assert isinstance(c, ssl.SSLSocket)
    c.unwrap().close()


ODD: dict[str, tuple[int, Handler]] = {"hang": (9001, hang), "partial": (9002, partial),
                                       "no_header": (9003, no_header), "split": (9004, split)}
ODD_TLS: dict[str, tuple[int, Handler]] = {"hang": (9101, hang), "partial": (9102, partial),
                                           "junk_close_notify": (9103, junk_close_notify),
                                           "split": (9104, split)}


def serve(port: int, handler: Handler, ctx: ssl.SSLContext | None) -> None:
    ls = socket.socket(socket.AF_INET6)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(16)

    def one(c: socket.socket) -> None:
        try:
            handler(ctx.wrap_socket(c, server_side=True) if ctx else c)
        except OSError:
            pass

    def loop() -> None:
        while True:
            c, _ = ls.accept()
            threading.Thread(target=one, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def main() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    for port, handler in ODD.values():
        serve(port, handler, None)
    for port, handler in ODD_TLS.values():
        serve(port, handler, ctx)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
