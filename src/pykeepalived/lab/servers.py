"""Real servers for the checker tests: nginx (HTTP and TLS), a DNS responder, a UDP echo responder."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0, netns: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if netns:
            r = subprocess.run(["ip", "netns", "exec", netns, "bash", "-c", f"echo > /dev/tcp/{host}/{port}"],
                               capture_output=True)
            if r.returncode == 0:
                return
        else:
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
                return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} not listening")


def make_cert(d: Path, cn: str, ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
    """A key + certificate made with the openssl CLI (self-signed, or signed by `ca`)."""
    key, crt = d / f"{cn}.key", d / f"{cn}.crt"
    if ca is None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(crt), "-days", "2", "-subj", f"/CN={cn}"],
                       check=True, capture_output=True)
    else:
        csr = d / f"{cn}.csr"
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(csr), "-subj", f"/CN={cn}"], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
                        "-CAcreateserial", "-out", str(crt), "-days", "2"], check=True, capture_output=True)
    return key, crt


@contextlib.contextmanager
def nginx(d: Path, servers: str, *, netns: str | None = None, wait: Sequence[tuple[str, int]] = ()
          ) -> Iterator[subprocess.Popen[bytes]]:
    """Run nginx in the foreground with its own config / pid / log files under `d`."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "logs").mkdir(exist_ok=True)
    conf = d / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    default_type text/plain;
    {servers}
}}
""")
    cmd = ["nginx", "-p", str(d), "-c", str(conf)]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for host, port in wait:
            wait_port(host, port, netns=netns)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class DnsResponder(asyncio.DatagramProtocol):
    """Answers every query with one A record (or NXDOMAIN for names starting with `missing`)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: 3.11's selector datagram transport does not derive from
        # asyncio.DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.queries = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        qid = struct.unpack("!H", data[:2])[0]
        question = data[12:]
        nx = question[1:8] == b"missing"
        flags = 0x8183 if nx else 0x8180
        answer = b"" if nx else b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 53])
        self.transport.sendto(struct.pack("!HHHHHH", qid, flags, 1, 0 if nx else 1, 0, 0) + question + answer,
                              addr)


class UdpResponder(asyncio.DatagramProtocol):
    """Replies `b"PONG" + payload` to every datagram."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: 3.11's selector datagram transport does not derive from
        # asyncio.DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"PONG" + data, addr)
