"""Every probe against real servers started here (nginx, TLS with generated certificates, aiosmtpd,
a DNS and a UDP responder, scripts), on 127.0.0.1 ports."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.check.model import (
    ConnOpts,
    DnsCheckSpec,
    FileCheckSpec,
    HttpCheckSpec,
    MiscCheckSpec,
    SslOpts,
    UdpCheckSpec,
    UrlSpec,
)
from pykeepalived.check.probes import Target, probe_tcp
from pykeepalived.check.probes.dns import probe_dns
from pykeepalived.check.probes.file import probe_file
from pykeepalived.check.probes.http import probe_http
from pykeepalived.check.probes.misc import probe_misc
from pykeepalived.check.probes.ping import probe_ping
from pykeepalived.check.probes.smtp import probe_smtp
from pykeepalived.check.probes.udp import probe_udp
from pykeepalived.lab.servers import DnsResponder, UdpResponder, free_port, make_cert, nginx

LO = "127.0.0.1"


def tgt(port: int, **conn: object) -> Target:
    return Target(LO, port, ConnOpts(**conn))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    d = tmp_path_factory.mktemp("nginx")
    ca = make_cert(d, "test-ca")
    key, crt = make_cert(d, "server")
    ckey, ccrt = make_cert(d, "client", ca=ca)
    p_http, p_tls, p_mtls = free_port(), free_port(), free_port()
    servers = f"""
    server {{ listen {LO}:{p_http} default_server; server_name _;
        location = /ok {{ return 200 "hello world\\n"; }}
        location = /missing {{ return 404; }}
        location = /teapot {{ return 418 "teapot\\n"; }} }}
    server {{ listen {LO}:{p_http}; server_name vhost.example;
        location = /ok {{ return 200 "vhost page\\n"; }} }}
    server {{ listen {LO}:{p_tls} ssl default_server; server_name _;
        ssl_certificate {crt}; ssl_certificate_key {key};
        location = /ok {{ return 200 "tls page\\n"; }}
        location = /sni {{ return 200 "sni=$ssl_server_name\\n"; }} }}
    server {{ listen {LO}:{p_mtls} ssl; ssl_certificate {crt}; ssl_certificate_key {key};
        ssl_verify_client on; ssl_client_certificate {ca[1]};
        location = /ok {{ return 200 "mutual tls\\n"; }} }}
    """
    with nginx(d, servers, wait=[(LO, p_http), (LO, p_tls), (LO, p_mtls)]):
        yield {"http": p_http, "tls": p_tls, "mtls": p_mtls, "client": (ckey, ccrt)}


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def http(*urls: UrlSpec, **kw: object) -> HttpCheckSpec:
    return HttpCheckSpec(urls=urls, **kw)  # type: ignore[arg-type]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_tcp_check() -> None:
    with socket.socket() as srv:
        srv.bind((LO, 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert run(probe_tcp(tgt(port), 1.0)).ok
        assert run(probe_tcp(tgt(port, bindto=LO, bind_port=free_port()), 1.0)).ok
    r = run(probe_tcp(tgt(port), 1.0))
    assert not r.ok and r.reason == f"TCP connection to [{LO}]:tcp:{port} failed."


def test_http_get_status_digest_regex(web: dict) -> None:
    t = tgt(web["http"])
    assert run(probe_http(http(UrlSpec(path="/ok", digest=md5(b"hello world\n"))), t, 2)).ok
    r = run(probe_http(http(UrlSpec(path="/ok", digest=md5(b"other"))), t, 2))
    assert not r.ok and r.reason.startswith("MD5 digest error to")
    r = run(probe_http(http(UrlSpec(path="/ok"), UrlSpec(path="/missing")), t, 2))
    assert not r.ok and "HTTP status code error" in r.reason and "url(2)" in r.reason and "[404]" in r.reason
    assert run(probe_http(http(UrlSpec(path="/missing", status_codes=((404, 404),))), t, 2)).ok
    assert run(probe_http(http(UrlSpec(path="/teapot", status_codes=((200, 200), (400, 499)))), t, 2)).ok
    assert run(probe_http(http(UrlSpec(path="/ok", regex=r"hel+o")), t, 2)).ok
    assert not run(probe_http(http(UrlSpec(path="/ok", regex=r"bye")), t, 2)).ok
    assert run(probe_http(http(UrlSpec(path="/ok", regex=r"bye", regex_no_match=True)), t, 2)).ok
    for proto in ("1.0", "1.0C", "1.1"):
        assert run(probe_http(http(UrlSpec(path="/ok"), http_protocol=proto), t, 2)).ok


def test_http_virtualhost(web: dict) -> None:
    t = tgt(web["http"])
    vh = md5(b"vhost page\n")
    assert run(probe_http(http(UrlSpec(path="/ok", digest=vh), virtualhost="vhost.example"), t, 2)).ok
    assert run(probe_http(http(UrlSpec(path="/ok", digest=vh, virtualhost="vhost.example")), t, 2)).ok
    assert run(probe_http(http(UrlSpec(path="/ok", digest=vh)), t, 2, rs_vhost="vhost.example")).ok
    assert not run(probe_http(http(UrlSpec(path="/ok", digest=vh)), t, 2)).ok


def test_http_connection_refused() -> None:
    port = free_port()
    r = run(probe_http(http(UrlSpec(path="/")), tgt(port), 1))
    assert not r.ok and r.reason == f"Error connecting server [{LO}]:tcp:{port}."


def test_ssl_get_sni_and_client_cert(web: dict) -> None:
    t = tgt(web["tls"])
    assert run(probe_http(http(UrlSpec(path="/ok", digest=md5(b"tls page\n")), ssl=True), t, 2)).ok
    page = UrlSpec(path="/sni", digest=md5(b"sni=sni.example\n"))
    assert run(probe_http(http(page, ssl=True, enable_sni=True, virtualhost="sni.example"), t, 2)).ok
    assert run(probe_http(http(page, ssl=True, enable_sni=True, sni_name="sni.example"), t, 2)).ok
    assert not run(probe_http(http(page, ssl=True, virtualhost="sni.example"), t, 2)).ok
    m = tgt(web["mtls"])
    ckey, ccrt = web["client"]
    assert not run(probe_http(http(UrlSpec(path="/ok"), ssl=True), m, 2)).ok  # nginx answers 400
    with_cert = http(UrlSpec(path="/ok", digest=md5(b"mutual tls\n")), ssl=True,
                     ssl_opts=SslOpts(certificate=str(ccrt), key=str(ckey)))
    assert run(probe_http(with_cert, m, 2)).ok


def test_smtp_check() -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        helos: list[str] = []

        async def handle_HELO(self, server, session, envelope, hostname):  # type: ignore[no-untyped-def]
            self.helos.append(hostname)
            session.host_name = hostname
            return "250 ok"

    h = Handler()
    port = free_port()
    ctl = Controller(h, hostname=LO, port=port)
    ctl.start()
    try:
        assert run(probe_smtp(tgt(port), 2, "checker.example")).ok
        assert h.helos == ["checker.example"]
    finally:
        ctl.stop()
    assert not run(probe_smtp(tgt(port), 1, "x")).ok


def test_smtp_bad_banner() -> None:
    async def go() -> bool:
        async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"554 go away\r\n")
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(bad, LO, 0)
        port = srv.sockets[0].getsockname()[1]
        async with srv:
            res = await probe_smtp(tgt(port), 2, "x")
            assert res.reason == f"SMTP_CHECK Bad greeting banner from server [{LO}]:{port}"  # keepalived's
            return res.ok

    assert run(go()) is False


def test_dns_check() -> None:
    async def go() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        tr, _proto = await loop.create_datagram_endpoint(DnsResponder, local_addr=(LO, 0))
        port = tr.get_extra_info("sockname")[1]
        try:
            ok = (await probe_dns(tgt(port), 1, "A", "www.example")).ok
            nx = (await probe_dns(tgt(port), 1, "SOA", "missing.example")).ok
        finally:
            tr.close()
        await asyncio.sleep(0.05)
        dead = (await probe_dns(tgt(port), 1, "SOA", "")).ok
        return ok, nx, dead

    assert run(go()) == (True, False, False)


def test_udp_check() -> None:
    async def go() -> list[bool]:
        loop = asyncio.get_running_loop()
        tr, _ = await loop.create_datagram_endpoint(UdpResponder, local_addr=(LO, 0))
        port = tr.get_extra_info("sockname")[1]
        try:
            res = [
                (await probe_udp(UdpCheckSpec(payload=b"\x01\x02"), tgt(port), 0.5)).ok,
                (await probe_udp(UdpCheckSpec(payload=b"\x01\x02", require_reply=True,
                                              reply_pattern="504f4e47XX02"), tgt(port), 0.5)).ok,
                (await probe_udp(UdpCheckSpec(payload=b"\x01\x02", require_reply=True,
                                              reply_pattern="504f4e47ff"), tgt(port), 0.5)).ok,
                (await probe_udp(UdpCheckSpec(require_reply=True, max_reply_length=4), tgt(port), 0.5)).ok,
            ]
        finally:
            tr.close()
        await asyncio.sleep(0.05)  # the transport closes its socket on the next loop iteration
        res.append((await probe_udp(UdpCheckSpec(), tgt(port), 0.5)).ok)  # port unreachable
        return res

    assert run(go()) == [True, True, False, False, False]


def test_ping_check() -> None:
    assert run(probe_ping(Target(LO, 0, ConnOpts()), 1)).ok
    assert run(probe_ping(Target("::1", 0, ConnOpts()), 1)).ok


def test_misc_check(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\nexit $1\n")
    script.chmod(0o755)
    assert run(probe_misc(MiscCheckSpec(misc_path=f"{script} 0"), 2, "x")).ok
    r = run(probe_misc(MiscCheckSpec(misc_path=f"{script} 1"), 2, "x"))
    assert not r.ok and r.reason == f"Misc check for [x] by [{script}] failed (exited with status 1)."
    assert not run(probe_misc(MiscCheckSpec(misc_path=f"{script} 40"), 2, "x")).ok
    r = run(probe_misc(MiscCheckSpec(misc_path=f"{script} 40", misc_dynamic=True), 2, "x"))
    assert r.ok and r.weight == 38
    r = run(probe_misc(MiscCheckSpec(misc_path="/bin/sleep 5"), 0.3, "x"))
    assert not r.ok and r.reason == "Misc check for [x] by [/bin/sleep] timed out."
    is_nobody = """/bin/sh -c 'test "$(id -un)" = nobody'"""
    assert run(probe_misc(MiscCheckSpec(misc_path=is_nobody, user="nobody"), 2, "x")).ok
    assert not run(probe_misc(MiscCheckSpec(misc_path=is_nobody), 2, "x")).ok


def test_file_check(tmp_path: Path) -> None:
    f = tmp_path / "weight"
    f.write_text("3\n")
    assert run(probe_file(FileCheckSpec(track_file="t", file_path=str(f), weight=2))).weight == 6
    rev = FileCheckSpec(track_file="t", file_path=str(f), weight=2, reverse=True)
    assert run(probe_file(rev)).weight == -6
    assert not run(probe_file(FileCheckSpec(track_file="t", file_path=str(f)))).ok
    f.write_text("0")
    assert run(probe_file(FileCheckSpec(track_file="t", file_path=str(f)))).ok


def test_dns_spec_defaults() -> None:
    assert (DnsCheckSpec().type, DnsCheckSpec().name) == ("SOA", "")


def test_genhash_matches_http_get_digest(web: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """genhash's bare digest is what HTTP_GET's `digest` wants (genhash's own output is compared with
    keepalived's in test_genhash.py)."""
    from pykeepalived.check.genhash import main

    assert main(["-s", LO, "-p", str(web["http"]), "-u", "/ok"]) == 0
    digest = capsys.readouterr().out
    assert digest == md5(b"hello world\n") + "\n"
    assert run(probe_http(http(UrlSpec(path="/ok", digest=digest.strip())), tgt(web["http"]), 2)).ok
    assert main(["-S", "-s", LO, "-p", str(web["tls"]), "-u", "/ok"]) == 0
    assert capsys.readouterr().out == md5(b"tls page\n") + "\n"
    # a refused connection is reported on stdout and exits 0, as keepalived's genhash does
    assert main(["-s", LO, "-p", str(free_port()), "-u", "/"]) == 0
    assert capsys.readouterr().out == "Connection failed\n"
