"""HTTP_GET / SSL_GET probe (keepalived.md §1.12.5).

# Theory of operation
For each `url` block in turn: connect (TLS for SSL_GET, with SNI and a client certificate when
configured), send keepalived's request (`GET path HTTP/1.x`, `User-Agent: KeepAliveClient`, optional
`Connection: close`, `Host`), read the response until the server closes it, and check the status code
against the url's ranges, the MD5 digest of the body and the regex (over the whole response,
headers included, with keepalived's offsets and PCRE2 options: check/probes/regex.py). Like
keepalived, the digest covers the raw bytes after the header block (a chunked body is hashed as
sent). All url blocks must pass. An SSL_GET connection is dropped without a TLS close_notify, as
keepalived does, unless `tls_compliant` (a keyword of keepalived 2.2.8+) is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

from pykeepalived.check.model import HttpCheckSpec, SslOpts, UrlSpec
from pykeepalived.check.probes import ProbeResult, Target, tcp_connect
from pykeepalived.check.probes.regex import compile_regex, regex_matches

MAX_RESPONSE = 4 * 1024 * 1024
T = TypeVar("T")


def build_request(path: str, host_header: str, http_protocol: str) -> bytes:
    version = "1.1" if http_protocol == "1.1" else "1.0"
    close = "Connection: close\r\n" if http_protocol in ("1.0C", "1.1") else ""
    return (f"GET {path} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\n{close}"
            f"Host: {host_header}\r\n\r\n").encode()


def host_header(t: Target, vhost: str | None) -> str:
    if vhost:
        return vhost
    return f"[{t.host}]:{t.port}" if ":" in t.host else f"{t.host}:{t.port}"


def split_response(data: bytes) -> tuple[int, bytes] | None:
    """(status code, body) of a raw HTTP response, or None if it is not one."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            return None
    first = head.split(b"\n", 1)[0].split()
    if len(first) < 2 or not first[0].startswith(b"HTTP/") or not first[1].isdigit():
        return None
    return int(first[1]), body


def client_context(opts: SslOpts) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if opts.ca:
        ctx.load_verify_locations(opts.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if opts.certificate:
        ctx.load_cert_chain(opts.certificate, opts.key, opts.password)
    return ctx


async def fetch(t: Target, request: bytes, timeout: float, ctx: ssl.SSLContext | None = None,
                sni: str | None = None, tls_compliant: bool = False) -> bytes:
    """Connect, send `request`, return everything read until EOF. Raises TimeoutError / OSError."""
    sock = await tcp_connect(t, timeout)
    try:
        if ctx is not None:
            return await _tls_fetch(sock, ctx, sni, request, timeout, tls_compliant)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            await loop.sock_sendall(sock, request)
            chunks: list[bytes] = []
            size = 0
            while size < MAX_RESPONSE:
                chunk = await loop.sock_recv(sock, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


async def _tls_fetch(sock: socket.socket, ctx: ssl.SSLContext, sni: str | None, request: bytes,
                     timeout: float, tls_compliant: bool) -> bytes:
    """TLS over memory BIOs, so that the shutdown is ours to decide: keepalived sets
    SSL_set_quiet_shutdown (the connection is closed without a close_notify, even when the server
    sent one) unless `tls_compliant`, which sends the close_notify alert before closing."""
    loop = asyncio.get_running_loop()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni or None)

    async def flush() -> None:
        if data := out.read():
            await loop.sock_sendall(sock, data)

    async def call(fn: Callable[[], T]) -> T:
        while True:
            try:
                r = fn()
            except ssl.SSLWantReadError:
                await flush()
                data = await loop.sock_recv(sock, 65536)
                if data:
                    inc.write(data)
                else:
                    inc.write_eof()  # the next call raises SSLEOFError / SSLZeroReturnError
                continue
            await flush()
            return r

    async with asyncio.timeout(timeout):
        await call(obj.do_handshake)
        obj.write(request)
        await flush()
        chunks: list[bytes] = []
        size = 0
        while size < MAX_RESPONSE:
            try:
                chunk = await call(lambda: obj.read(65536))
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break  # the server's close_notify, or a bare TCP close: the response is complete
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if tls_compliant:
            try:
                obj.unwrap()  # queues our close_notify; the peer's need not be awaited
            except ssl.SSLError:
                pass
            await flush()
    return b"".join(chunks)


def check_url(url: UrlSpec, data: bytes, chk: str, n: int) -> str | None:
    """None if the response satisfies the url block, else keepalived's failure text."""
    parsed = split_response(data)
    if parsed is None:
        return f"Read error with server {chk}."
    code, body = parsed
    if not url.status_ok(code):
        return f"HTTP status code error to {chk} url({n}), status_code [{code}]."
    if url.digest and hashlib.md5(body).hexdigest() != url.digest.lower():
        return f"MD5 digest error to {chk} url({n}), expected MD5SUM [{url.digest}]."
    if url.regex is not None:
        rx = compile_regex(url.regex, url.regex_options)
        # keepalived's subject is the whole response, status line and headers included
        matched = not isinstance(rx, str) and regex_matches(rx, data, url.regex_min_offset,
                                                            url.regex_max_offset)
        if matched == url.regex_no_match:
            return f"Regex match failed server {chk} url({n})."
    return None


async def probe_http(spec: HttpCheckSpec, t: Target, timeout: float, rs_vhost: str | None = None,
                     ctx: ssl.SSLContext | None = None, url_index: int | None = None) -> ProbeResult:
    """Check every url in turn, or only url number `url_index` (0-based; the checker runtime's
    one-url-per-probe cadence, check/http_state.py)."""
    chk = t.fmt()
    if spec.ssl and ctx is None:
        ctx = client_context(spec.ssl_opts)
    for n, url in enumerate(spec.urls, 1):
        if url_index is not None and n != url_index + 1:
            continue
        vhost = url.virtualhost or spec.virtualhost or rs_vhost
        sni = (spec.sni_name or vhost or t.host) if spec.enable_sni else None
        req = build_request(url.path, host_header(t, vhost), spec.http_protocol)
        try:
            data = await fetch(t, req, timeout, ctx if spec.ssl else None, sni,
                               spec.tls_compliant or url.tls_compliant)
        except TimeoutError:
            return ProbeResult(False, f"Timeout connecting server {chk}.")
        except ssl.SSLError as e:
            return ProbeResult(False, f"SSL handshake/communication error connecting to server {chk}: "
                                      f"{e.reason}.")
        except ConnectionRefusedError:
            return ProbeResult(False, f"Error connecting server {chk}.")
        except OSError:
            return ProbeResult(False, f"Read error with server {chk}.")
        failure = check_url(url, data, chk, n)
        if failure:
            return ProbeResult(False, failure)
    return ProbeResult(True)
