"""genhash: keepalived 2.2.7's genhash utility (keepalived/check/check_genhash.c).

Fetches one URL as HTTP_GET/SSL_GET do and prints the MD5 digest of the body, in keepalived's
`digest` form, on a line of its own: `digest=$(genhash -s 192.0.2.10 -p 80 -u /health)`.

# Theory of operation
The same options, texts and exit codes as keepalived's: -s/--server, -p/--port, -u/--url,
-S/--use-ssl, -I/--use-sni, -V/--use-virtualhost, -m/--fwmark, -P/--protocol 1.0|1.0c|1.1,
-t/--timeout, -v/--verbose, -h/--help, parsed like getopt_long with keepalived's messages; any
command-line error prints the usage on stderr and exits 1. Once the command line is good the exit
status is 0 whatever happens on the wire: a failure is reported on stdout with the checker's text
(`Connection failed`, `Timeout WEB read`, ...), as keepalived's genhash does, and an answer without
an HTTP header prints `no data received from remote webserver` on stderr.

The conversation follows keepalived's checker step by step (connect, TLS handshake, request, wait
for the response, read) with its timeout at each step, and reads at most 4095 bytes at a time into
a buffer that is emptied once the header is found, as keepalived does: `-v` dumps each read as it
comes (header, body, digest, in keepalived's hex-dump format), so the dump is keepalived's as long
as the reads are the same. The body is hashed up to Content-Length when there is one (looked for
case-sensitively, as keepalived does).
"""

from __future__ import annotations

import errno
import hashlib
import re
import select
import signal
import socket
import ssl
import struct
import sys
import time
from dataclasses import dataclass
from types import FrameType

from pykeepalived.options import program_name

USAGE = """\
Usage: {prog}{extra} COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
"""

# getopt_long's table: short letter -> takes an argument; long name -> short letter
_SHORT = {"h": False, "v": False, "S": False, "I": False, "s": True, "V": True, "p": True, "u": True,
          "m": True, "P": True, "t": True}
_LONG = {"help": "h", "verbose": "v", "use-ssl": "S", "use-sni": "I", "server": "s",
         "use-virtualhost": "V", "port": "p", "url": "u", "fwmark": "m", "protocol": "P", "timeout": "t"}

MAX_BUFFER_LENGTH = 4096  # keepalived's read buffer; a read asks for what is left of it minus the NUL
TIMER_HZ = 1_000_000
UINT_MAX = 2**32 - 1
TIMER_SLACK = 50e-6  # seconds

# keepalived's verbose section headers (check_http.c)
_DELIM_BEGIN, _DELIM_END = b"-----------------------[", b"]-----------------------\n"
HTTP_HEADER_HEXA = _DELIM_BEGIN + b"    HTTP Header Buffer    " + _DELIM_END
HTTP_HEADER_ASCII = _DELIM_BEGIN + b" HTTP Header Ascii Buffer " + _DELIM_END
HTML_HEADER_HEXA = _DELIM_BEGIN + b"        HTML Buffer        " + _DELIM_END
HTML_HASH = _DELIM_BEGIN + b"    HTML hash resulting    " + _DELIM_END
HTML_HASH_FINAL = _DELIM_BEGIN + b" HTML hash final resulting " + _DELIM_END

# connect() errors keepalived counts as "the server cannot be reached" (layer4.c socket_bind_connect)
_CONNECT_FAIL = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.EHOSTDOWN,
                 errno.ENETDOWN, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT}


def _raw(text: str) -> bytes:
    """A command-line string back to the bytes it came from."""
    return text.encode("utf-8", "surrogateescape")


@dataclass(slots=True)
class Request:
    """A good command line."""

    family: socket.AddressFamily
    addr: str  # as inet_ntop writes it
    port: int
    url: str
    vhost: str | None = None
    use_ssl: bool = False
    sni: bool = False
    verbose: bool = False
    fwmark: int = 0
    protocol: str = "1.0"  # 1.0, 1.0c or 1.1
    timeout_us: int = UINT_MAX  # keepalived's conn_opts connection_to (µs, an unsigned int)

    def http_request(self) -> bytes:
        """check_http.c's request_template (request_template_ipv6 for an IPv6 server without -V)."""
        if self.vhost is not None:
            host = self.vhost
        elif self.family == socket.AF_INET6:
            host = f"[{self.addr}]:{self.port}"
        else:
            host = f"{self.addr}:{self.port}"
        close = "Connection: close\r\n" if self.protocol in ("1.0c", "1.1") else ""
        minor = 1 if self.protocol == "1.1" else 0
        return _raw(f"GET {self.url} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n"
                    f"{close}Host: {host}\r\n\r\n")


def _getopt(args: list[str], err: list[str]) -> tuple[list[tuple[str, str]], list[str], bool]:
    """getopt_long(":hvSIs:V:p:u:m:P:t:") with argument permutation: (options, operands, bad),
    the messages keepalived prints for unknown options and missing arguments appended to `err`."""
    opts: list[tuple[str, str]] = []
    operands: list[str] = []
    bad = False
    i = 0

    def take(letter: str, inline: str | None, shown: str) -> None:
        """An option's argument: attached, else the next word."""
        nonlocal i, bad
        if inline is not None:
            opts.append((letter, inline))
        elif i < len(args):
            opts.append((letter, args[i]))
            i += 1
        else:
            err.append(f"Missing parameter for option {shown}")
            bad = True

    while i < len(args):
        tok = args[i]
        i += 1
        if tok == "--":
            operands.extend(args[i:])
            break
        if tok.startswith("--"):
            name, eq, value = tok[2:].partition("=")
            matches = [n for n in _LONG if n == name] or [n for n in _LONG if n.startswith(name)]
            if len(matches) != 1 or (eq and not _SHORT[_LONG[matches[0]]]):
                err.append(f"Unknown option {tok}")
                bad = True
            elif not _SHORT[_LONG[matches[0]]]:
                opts.append((_LONG[matches[0]], ""))
            else:
                # (keepalived 2.2.7 prints a long option's name from an unset index when its
                # argument is missing: garbage)
                take(_LONG[matches[0]], value if eq else None, f"--{matches[0]}")
        elif not tok.startswith("-") or tok == "-":
            operands.append(tok)
        else:
            for j, letter in enumerate(tok[1:], 2):
                if letter not in _SHORT:
                    err.append(f"Unknown option -{letter}")
                    bad = True
                elif not _SHORT[letter]:
                    opts.append((letter, ""))
                else:
                    take(letter, tok[j:] or None, f"-{letter}")
                    break
    return opts, operands, bad


_NUMBER = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
SO_MARK = getattr(socket, "SO_MARK", 36)


def c_strtoul(text: str) -> tuple[int | None, str]:
    """strtoul(text, &end, 10) (a light one: genhash starts without loading the config modules):
    (the value, or None without digits; what follows it, all of `text` without digits)."""
    m = _NUMBER.match(text)
    if m is None:
        return None, text
    value = int(m.group(2))
    return (-value if m.group(1) == "-" else value) % 2**64, text[m.end():]


def _unsigned(text: str) -> int | None:
    """keepalived's -m/-t value: strtoul after blanks, no sign, nothing after the digits."""
    start = text.lstrip(" \t")
    value, rest = c_strtoul(start)
    if rest or start[:1] == "-":
        return None
    return (value or 0) % 2**32


def parse(args: list[str], err: list[str]) -> Request | None:
    """The command line (after the program name), or None when the usage must be printed."""
    opts, operands, bad = _getopt(args, err)
    req = Request(socket.AF_INET, "", 0, "")
    given: set[str] = set()
    for letter, val in opts:
        given.add(letter)
        match letter:
            case "h":
                bad = True
            case "v":
                req.verbose = True
            case "S":
                req.use_ssl = True
            case "I":
                req.sni = True
            case "s":
                req.family = socket.AF_INET6 if ":" in val else socket.AF_INET
                cut = val.find("-") if "-" in val else val.find("/")  # range or mask dropped
                ip = val[:cut] if cut >= 0 else val
                try:
                    req.addr = socket.inet_ntop(req.family, socket.inet_pton(req.family, ip))
                except (OSError, ValueError):
                    err.append(f"server should be an IP, not {val}")
                    return None
            case "V":
                req.vhost = val
            case "p":
                n, rest = c_strtoul(val)
                if rest or not n or n > 65535:
                    err.append(f"invalid port number '{val}'")
                    return None
                req.port = n
            case "u":
                req.url = val
            case "m":
                mark = _unsigned(val)
                if mark is None:
                    err.append(f"invalid fwmark '{val}'")
                    return None
                req.fwmark = mark
            case "P":
                if val not in ("1.0", "1.0c", "1.0C", "1.1"):
                    err.append(f"invalid HTTP protocol version '{val}'")
                    return None
                req.protocol = val.lower()
            case "t":
                secs = _unsigned(val)
                if secs is None or not val.lstrip(" \t"):
                    err.append(f"invalid timeout '{val}'")
                    return None
                req.timeout_us = secs * TIMER_HZ % 2**32
    if bad:
        return None
    if operands:
        err.append("Unexpected argument(s): " + " ".join(operands))
        return None
    return req if {"s", "p", "u"} <= given else None


def dump_buffer(buf: bytes) -> bytes:
    """keepalived's dump_buffer (lib/utils.c): 16 bytes a line, the offset in decimal."""
    out: list[str] = []
    for start in range(0, len(buf), 16):
        chunk = buf[start:start + 16]
        cells = [f" {b:02x}" for b in chunk] + ["   "] * (16 - len(chunk))
        text = "".join(chr(b) if 0x20 <= b <= 0x7e else "." for b in chunk).ljust(16)
        out.append(f"{start & 0xffff:04d} {''.join(cells[:8])} -{''.join(cells[8:])}   {text}\n")
    return "".join(out).encode("latin-1")


def content_length(buf: bytes) -> int | None:
    """html.c extract_content_length: the first `Content-Length:` anywhere in the buffer read so far
    (up to a NUL, as strstr), None (SIZE_MAX) when absent or not followed by a number and a line end."""
    text = buf.split(b"\0", 1)[0].decode("latin-1")
    at = text.find("Content-Length:")
    if at < 0:
        return None
    value, rest = c_strtoul(text[at + len("Content-Length:"):])
    if rest[:1] not in ("", "\r", "\n"):
        return None
    return value or 0


class Response:
    """http_process_response in genhash mode: the header is looked for in the reads so far; once it
    is found the buffer keeps only the current read and the body is hashed up to Content-Length."""

    def __init__(self, verbose: bool, out: bytearray) -> None:
        self.verbose = verbose
        self.out = out
        self.buf = b""
        self.extracted = False
        self.clen: int | None = None
        self.rx = 0
        self.md5 = hashlib.md5()

    def _hash(self, data: bytes, heading: bool) -> None:
        if self.clen is not None and self.clen <= self.rx:
            return
        n = len(data) if self.clen is None or self.clen >= self.rx + len(data) else self.clen - self.rx
        self.md5.update(data[:n])
        if self.verbose:
            self.out += (HTML_HEADER_HEXA if heading else b"") + dump_buffer(data[:n])

    def feed(self, data: bytes) -> None:
        if self.extracted:
            self._hash(data, False)
            self.rx += len(data)
            return
        self.buf += data
        if self.verbose:
            self.out += HTTP_HEADER_HEXA
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        self.extracted = True
        head, body = self.buf[:end + 4], self.buf[end + 4:]
        self.clen = content_length(self.buf)
        if self.verbose:
            self.out += dump_buffer(head) + HTTP_HEADER_ASCII + head.split(b"\0", 1)[0] + b"\n"
        if body:
            self._hash(body, True)
        self.rx = len(body)
        self.buf = b""

    def room(self) -> int:
        return MAX_BUFFER_LENGTH - 1 - len(self.buf)

    def digest(self, dump: bool) -> bytes:
        d = self.md5.digest()
        if dump and self.verbose:
            self.out += b"\n" + HTML_HASH + dump_buffer(d) + HTML_HASH_FINAL
        return d


class Terminated(Exception):
    """SIGINT/SIGTERM: keepalived's genhash stops its scheduler and exits 0."""


class Session:
    """One fetch; `out` and `err` collect what genhash prints on stdout and stderr."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.out = bytearray()
        self.err = ""
        self.resp = Response(req.verbose, self.out)

    def _say(self, msg: str) -> None:
        """timeout_epilog in genhash mode: the checker's text on stdout, then stop."""
        self.out += msg.encode() + b"\n"

    def _timeout(self) -> float:
        return self.req.timeout_us / TIMER_HZ

    @staticmethod
    def _wait(sock: socket.socket, write: bool, deadline: float) -> bool:
        """Wait until `sock` is readable (writable); False at the deadline."""
        poller = select.poll()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bool(poller.poll(0))
            if poller.poll(min(left, 3600) * 1000):
                return True

    def run(self) -> None:
        req = self.req
        try:
            sock = socket.socket(req.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        except OSError:
            self._say("Error connecting")
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 5))
            if req.fwmark:
                sock.setsockopt(socket.SOL_SOCKET, SO_MARK, req.fwmark)
        except OSError:
            # keepalived logs the setsockopt error and retries for ever
            sock.close()
            self._say("Error connecting")
            return
        try:
            self._converse(sock)
        finally:
            sock.close()

    def _connect(self, sock: socket.socket) -> bool:
        req = self.req
        deadline = time.monotonic() + self._timeout()
        rc = sock.connect_ex((req.addr, req.port))
        if rc in _CONNECT_FAIL:
            self._say("HTTP_CHECK - network unreachable")
            return False
        if rc not in (0, errno.EINPROGRESS):
            self._say("Error connecting")  # keepalived: logged, retried for ever
            return False
        if not req.timeout_us:
            # -t 0: keepalived's timer for "now" fires after the kernel's timer slack (50 µs): a
            # connect across a LAN usually finishes first, the next step then times out at once
            deadline += TIMER_SLACK
        if rc and not self._wait(sock, True, deadline):
            self._say("Timeout connecting")
            return False
        status = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if status == errno.ETIMEDOUT:
            self._say("Timeout connecting")
            return False
        if status:
            self._say("Connection failed")
            return False
        return True

    def _handshake(self, sock: socket.socket, deadline: float) -> ssl.SSLSocket | None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sni = self.req.vhost if self.req.sni and self.req.vhost else None
        try:
            tls = ctx.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False,
                                  suppress_ragged_eofs=False)
        except (ValueError, ssl.SSLError):
            self._say("SSL handshake/communication error connecting to")
            return None
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                ok = self._wait(tls, False, deadline)
            except ssl.SSLWantWriteError:
                ok = self._wait(tls, True, deadline)
            except OSError:
                self._say("SSL handshake/communication error connecting to")
                return None
            if not ok:
                self._say("Timeout connecting")
                return None

    def _converse(self, sock: socket.socket) -> None:
        req = self.req
        start = time.monotonic()
        if not self._connect(sock):
            return
        conn: socket.socket = sock
        if req.use_ssl:
            tls = self._handshake(sock, start + self._timeout())
            if tls is None:
                return
            conn = tls
        if not req.timeout_us or not self._wait(conn, True, time.monotonic() + self._timeout()):
            self._say("Timeout WEB write")
            return
        try:
            conn.send(req.http_request())
        except OSError:
            self._say("Cannot send get request to")
            return
        if not self._wait(conn, False, time.monotonic() + self._timeout()):
            self._say("Timeout WEB read")
            return
        if isinstance(conn, ssl.SSLSocket):
            self._read_tls(conn)
        else:
            self._read_plain(conn)

    def _finish(self, dump: bool) -> None:
        """http_handle_response in genhash mode."""
        digest = self.resp.digest(dump)
        if not self.resp.extracted:
            self.err += "no data received from remote webserver\n"
        else:
            self.out += digest.hex().encode() + b"\n"

    def _read_plain(self, sock: socket.socket) -> None:
        while True:
            if not self._wait(sock, False, time.monotonic() + self._timeout()):
                self._say("Timeout HTTP read")
                return
            try:
                data = sock.recv(self.resp.room())
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self.resp.digest(False)
                self._say("Read error with")
                return
            if not data:
                self._finish(True)
                return
            self.resp.feed(data)

    def _read_tls(self, tls: ssl.SSLSocket) -> None:
        deadline = time.monotonic() + self._timeout()  # one deadline for all the reads, as keepalived
        while True:
            if not self._wait(tls, False, deadline):
                self._say("Timeout SSL read")
                return
            room = self.resp.room()
            try:
                data = tls.recv(room) if room else None
            except ssl.SSLWantReadError:
                continue
            except OSError:
                data = None  # an error other than close_notify: no digest dump, no shutdown
            if data:
                self.resp.feed(data)
                continue
            if data is not None and not self.resp.extracted:
                # close_notify: keepalived's quiet SSL_shutdown succeeds, a headerless answer is an error
                self.resp.digest(True)
                self._say("SSL read error from")
                return
            self._finish(data is not None)
            return


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(argv: list[str] | None = None, *, prog: str | None = None, am_genhash: bool = True) -> int:
    """`genhash ARGS`; `pykeepalived --genhash ARGS` calls it with am_genhash=False."""
    args = sys.argv[1:] if argv is None else argv
    prog = program_name() if prog is None else prog
    err: list[str] = []
    # keepalived: "Trivial sanity check" on argc, which counts the program and --genhash
    req = parse(args, err) if len(args) + (1 if am_genhash else 2) > 2 else None
    if req is None:
        sys.stderr.write("".join(e + "\n" for e in err))
        sys.stderr.write(USAGE.format(prog=prog, extra="" if am_genhash else " --genhash"))
        return 1
    session = Session(req)
    old = {s: signal.signal(s, _terminate) for s in (signal.SIGINT, signal.SIGTERM)}
    start = time.monotonic_ns()
    try:
        session.run()
    except Terminated:
        pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if req.verbose:
        usecs = (time.monotonic_ns() - start) // 1000
        session.out += _raw(f"\nGlobal response time for [{req.url}] = {usecs} usecs\n")
    sys.stderr.write(session.err)
    sys.stderr.flush()
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(session.out)
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
