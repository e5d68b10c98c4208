"""genhash side by side with keepalived 2.2.7's (/usr/bin/genhash) on the same pages of a real nginx
in a namespace (HTTP and HTTPS, IPv4 and IPv6), and on misbehaving servers for the error paths: the
same stdout (byte for byte, the response time of -v masked), stderr and exit code.

Both are run from a second namespace by the name `genhash` (ours found first on PATH), so that both
usages print the same program name."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.servers import make_cert, nginx
from tests.check.genhash_odd import ODD, ODD_TLS

KEEPALIVED_GENHASH = "/usr/bin/genhash"
VENV_BIN = Path(sys.executable).parent
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = [
    pytest.mark.netns,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nginx") is None
                       or not os.path.exists(KEEPALIVED_GENHASH),
                       reason="needs root, nginx and keepalived's genhash"),
]

SMALL = b"<html>hello genhash</html>\n"
BIG = bytes(range(256)) * 40  # 10240 bytes: several 4095-byte reads
VHOST_PAGE = b"vhost page\n"
W4, W6 = "192.0.2.1", "2001:db8::1"


@dataclass
class Site:
    cli: Host  # another namespace: the pages come over a veth
    web: Host  # nginx's own: over its loopback a response arrives whole, so -v's reads are repeatable


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    ours = VENV_BIN / "genhash"
    # installed under keepalived's name, as Debian's keepalived package installs it
    assert ours.exists() and "pykeepalived" in ours.read_text(), f"{ours} is not pykeepalived's genhash"
    d = tmp_path_factory.mktemp("genhash")
    www = d / "www"
    www.mkdir()
    (www / "small.html").write_bytes(SMALL)
    (www / "big.html").write_bytes(BIG)
    (www / "empty.html").write_bytes(b"")
    key, crt = make_cert(d, "web")
    tls = f"ssl_certificate {crt}; ssl_certificate_key {key};"
    servers = f"""
    server {{ listen {W4}:80 default_server; listen [{W6}]:80 default_server; listen 127.0.0.1:80;
        listen {W4}:443 ssl default_server; listen [{W6}]:443 ssl default_server;
        server_name _; {tls} root {www}; sendfile off; }}
    server {{ listen {W4}:80; listen [{W6}]:80; listen {W4}:443 ssl; listen [{W6}]:443 ssl;
        server_name vhost.example; {tls} sendfile off;
        location / {{ return 200 "vhost page\\n"; }} }}
    """
    with Lab(hosts=["web", "cli"]) as lab:
        web = lab["web"]
        assert str(web.ipv4) == W4 and str(web.ipv6) == W6
        odd = web.popen([sys.executable, str(Path(__file__).with_name("genhash_odd.py")), str(crt), str(key)],
                        stdout=subprocess.PIPE, text=True, cwd=str(Path(__file__).parents[2]))
        try:
            assert odd.stdout is not None and odd.stdout.readline() == "ready\n"
            with nginx(d, servers, netns=web.ns, wait=[(W4, 80), (W4, 443)]):
                yield Site(lab["cli"], web)
        finally:
            odd.kill()
            odd.wait()


@dataclass
class Run:
    rc: int
    out: bytes
    err: bytes


def genhash(cli: Host, args: list[str], *, ours: bool) -> Run:
    path = f"{VENV_BIN}:{SYS_PATH}" if ours else SYS_PATH
    p = subprocess.run(["ip", "netns", "exec", cli.ns, "env", f"PATH={path}", "genhash", *args],
                       capture_output=True, timeout=60)
    return Run(p.returncode, re.sub(rb"= \d+ usecs\n", b"= N usecs\n", p.stdout), p.stderr)


def side_by_side(cli: Host, args: list[str]) -> Run:
    """Both tools on the same input; nginx's Date header may tick between the two runs: run again.
    Ours first: its connection comes after a Python start-up (a second or more on a loaded machine),
    keepalived's right after ours exits, so the two requests are close enough to share a second."""
    for _ in range(5):
        ours = genhash(cli, args, ours=True)
        theirs = genhash(cli, args, ours=False)
        if re.findall(rb"Date: [^\r\n]*", theirs.out) == re.findall(rb"Date: [^\r\n]*", ours.out):
            break
    assert ours.out.decode("latin-1") == theirs.out.decode("latin-1")
    assert (ours.rc, ours.out, ours.err) == (theirs.rc, theirs.out, theirs.err)
    return theirs


def md5(b: bytes) -> bytes:
    return hashlib.md5(b).hexdigest().encode() + b"\n"


S4 = ["-s", W4, "-p", "80"]
LO = ["-s", "127.0.0.1", "-p", "80"]  # run in nginx's namespace
S6 = ["-s", W6, "-p", "80"]
T4 = ["-S", "-s", W4, "-p", "443"]
T6 = ["-S", "-s", W6, "-p", "443"]

# (arguments, what keepalived's genhash prints on stdout: the digest line or the error, a sanity check
# that the comparison is about a real fetch)
PAGES = [
    ([*S4, "-u", "/small.html"], md5(SMALL)),
    ([*S4, "-u", "/small.html", "-v"], md5(SMALL)),
    ([*S4, "-u", "/big.html"], md5(BIG)),
    ([*LO, "-u", "/big.html", "-v"], md5(BIG)),
    ([*S4, "-u", "/empty.html", "-v"], md5(b"")),
    ([*S4, "-u", "/missing.html", "-v"], None),
    ([*S6, "-u", "/small.html", "-v"], md5(SMALL)),
    ([*S4, "-u", "/small.html", "-V", "vhost.example", "-v"], md5(VHOST_PAGE)),
    ([*S6, "-u", "/", "-V", "vhost.example"], md5(VHOST_PAGE)),
    ([*S4, "-u", "/small.html", "-P", "1.0", "-v"], md5(SMALL)),
    ([*S4, "-u", "/small.html", "-P", "1.0c", "-v"], md5(SMALL)),
    ([*S4, "-u", "/small.html", "-P", "1.0C"], md5(SMALL)),
    ([*LO, "-u", "/big.html", "-P", "1.1", "-v"], md5(BIG)),
    (["--server", f"{W4}/24", "--port=80", "--url", "/small.html", "--protocol=1.1", "--verbose",
      "--use-virtualhost=vhost.example", "--timeout", "5", "--fwmark", "7"], md5(VHOST_PAGE)),
    ([*T4, "-u", "/small.html", "-v"], md5(SMALL)),
    ([*T4, "-u", "/big.html", "-v", "-P", "1.1"], md5(BIG)),
    ([*T6, "-u", "/", "-I", "-V", "vhost.example", "-v"], md5(VHOST_PAGE)),
    (["-vS", "--use-sni", "-s", W6, "-p", "443", "-u/small.html"], md5(SMALL)),
]

ERRORS = [
    (["-s", W4, "-p", "81", "-u", "/"], b"Connection failed\n"),
    (["-s", W4, "-p", "81", "-u", "/", "-v"], b"Connection failed\n"),
    (["-s", "203.0.113.5", "-p", "80", "-u", "/"], b"HTTP_CHECK - network unreachable\n"),
    (["-S", *S4, "-u", "/"], b"SSL handshake/communication error connecting to\n"),
    ([*S4, "-u", "/", "-t", "0"], b"Timeout WEB write\n"),
    (["-s", W4, "-p", str(ODD["hang"][0]), "-u", "/", "-t", "1"], b"Timeout WEB read\n"),
    (["-s", W4, "-p", str(ODD["partial"][0]), "-u", "/", "-t", "1", "-v"], None),
    (["-s", W4, "-p", str(ODD["no_header"][0]), "-u", "/", "-v"], None),
    (["-s", W4, "-p", str(ODD["split"][0]), "-u", "/", "-v"], None),
    # TLS 1.3 session tickets make the socket readable before the (absent) answer
    (["-S", "-s", W4, "-p", str(ODD_TLS["hang"][0]), "-u", "/", "-t", "1"], b"Timeout SSL read\n"),
    (["-S", "-s", W4, "-p", str(ODD_TLS["partial"][0]), "-u", "/", "-t", "1"], b"Timeout SSL read\n"),
    (["-S", "-s", W4, "-p", str(ODD_TLS["junk_close_notify"][0]), "-u", "/"], b"SSL read error from\n"),
    (["-S", "-s", W4, "-p", str(ODD_TLS["split"][0]), "-u", "/", "-v"], None),
]

BAD_OPTIONS = [
    [], ["-h"], ["--help"], ["-s"], ["-s", W4], ["-s", "web", "-p", "80", "-u", "/"],
    [*S4[:3], "0", "-u", "/"], [*S4[:3], "65536", "-u", "/"], [*S4[:3], "80x", "-u", "/"],
    [*S4, "-u", "/", "-P", "2"], [*S4, "-u", "/", "-t", "-1"], [*S4, "-u", "/", "-t", ""],
    [*S4, "-u", "/", "-m", "x"], [*S4, "-u", "/", "-x"], [*S4, "-u", "/", "--foo"],
    [*S4, "-u", "/", "--use"], [*S4, "-u", "/", "-p"], [*S4, "-u", "/", "--verbose=1"],
    [*S4, "-u", "/", "extra", "args"], ["-x", "-y", "-s", W4], S4, [*S4, "-u", "/", "--", "-v"],
    ["-h", *S4[:3], "0", "-s", "web", "-u", "/"],
]


def _id(args: list[str]) -> str:
    return " ".join(args) or "no arguments"


@pytest.mark.parametrize(("args", "expect"), PAGES, ids=[_id(a) for a, _ in PAGES])
def test_pages_as_keepalived(site: Site, args: list[str], expect: bytes | None) -> None:
    theirs = side_by_side(site.web if args[:2] == LO[:2] else site.cli, args)
    assert theirs.rc == 0 and theirs.err == b""
    assert expect is None or expect in theirs.out


@pytest.mark.parametrize(("args", "expect"), ERRORS, ids=[_id(a) for a, _ in ERRORS])
def test_errors_as_keepalived(site: Site, args: list[str], expect: bytes | None) -> None:
    theirs = side_by_side(site.cli, args)
    assert theirs.rc == 0
    assert expect is None or theirs.out.startswith(expect)


@pytest.mark.parametrize("args", BAD_OPTIONS, ids=[_id(a) for a in BAD_OPTIONS])
def test_bad_command_lines_as_keepalived(site: Site, args: list[str]) -> None:
    theirs = side_by_side(site.cli, args)
    assert theirs.rc == 1 and theirs.out == b"" and theirs.err.startswith((b"Usage: genhash", b"Unknown",
                                                                          b"Missing", b"invalid", b"server",
                                                                          b"Unexpected"))
