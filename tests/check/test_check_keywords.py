"""Checker keywords applied as keepalived 2.2.7 does: HTTP regex options and offsets (over the whole
response), the url-per-probe cadence and fast_recovery, tls_compliant's close_notify, rs_init_notifies,
MISC_CHECK run as script_user through the script security checks, no_email_faults."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import ssl
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pykeepalived.check.from_config import services_from_model
from pykeepalived.check.http_state import HttpProgress, http_result
from pykeepalived.check.model import (
    SEC,
    ConnOpts,
    HttpCheckSpec,
    MiscCheckSpec,
    RealServerSpec,
    Timing,
    TimingOpts,
    UrlSpec,
    VirtualServerSpec,
)
from pykeepalived.check.probes import Target
from pykeepalived.check.probes.http import probe_http
from pykeepalived.check.probes.regex import compile_regex, regex_matches, unsupported_options
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.check.state import CheckerState
from pykeepalived.config import load_config
from pykeepalived.daemon.checker.check_scripts import secure_misc_checks
from pykeepalived.daemon.trackers import ScriptResolver, smtp_alerter
from pykeepalived.lab import Lab
from pykeepalived.lab.servers import make_cert
from pykeepalived.lvs.model import Protocol, ServiceKey

RESPONSE = b"HTTP/1.0 200 OK\r\nServer: probe-test\r\nContent-Length: 24\r\n\r\nline one\nline two\nEND\n\n"


# -- regex ----------------------------------------------------------------------------------------
def _rx(pattern: str, *opts: str):  # type: ignore[no-untyped-def]
    rx = compile_regex(pattern, tuple(opts))
    assert not isinstance(rx, str), rx
    return rx


def test_regex_subject_is_the_whole_response_with_exact_offsets() -> None:
    at = RESPONSE.index(b"Server")  # headers are part of keepalived's subject
    assert regex_matches(_rx("Server: probe"), RESPONSE)
    assert regex_matches(_rx("Server"), RESPONSE, at, at)  # starts exactly at min = max
    assert not regex_matches(_rx("Server"), RESPONSE, at + 1)  # search starts after it
    assert not regex_matches(_rx("Server"), RESPONSE, 0, at - 1)  # starts beyond max
    assert regex_matches(_rx("Server"), RESPONSE, 0, at)
    # the first match decides: "line" at `two` starts beyond max even though a later window is not asked
    two = RESPONSE.index(b"line two")
    assert regex_matches(_rx("line two"), RESPONSE, two, two)
    assert not regex_matches(_rx("line two"), RESPONSE, two + 1)
    # a lookbehind may look before the start offset (PCRE2 start_offset semantics)
    assert regex_matches(_rx("(?<=line )two"), RESPONSE, two + 5, two + 5)
    assert not regex_matches(_rx("x"), RESPONSE, len(RESPONSE) + 10)


def test_regex_options_mapped() -> None:
    assert not regex_matches(_rx("server: PROBE"), RESPONSE)
    assert regex_matches(_rx("server: PROBE", "caseless"), RESPONSE)
    assert not regex_matches(_rx("^line two$"), RESPONSE)
    assert regex_matches(_rx("^line two$", "multiline"), RESPONSE)
    assert not regex_matches(_rx("one.line"), RESPONSE)
    assert regex_matches(_rx("one.line", "dotall"), RESPONSE)
    assert regex_matches(_rx("line \\  two  # comment", "extended"), RESPONSE)
    # firstline: the match must start on the first line (after the start offset)
    assert not regex_matches(_rx("Server", "firstline"), RESPONSE)
    assert regex_matches(_rx("HTTP/1", "firstline"), RESPONSE)
    # utf: the subject is text, offsets stay bytes
    body = "HTTP/1.0 200 OK\r\n\r\nprix: 10€ ok".encode()
    euro = body.index("€".encode())
    assert regex_matches(_rx("€ ok", "utf"), body, euro, euro)
    assert not regex_matches(_rx("€ ok", "utf"), body, euro + 1)
    assert regex_matches(_rx("prix: \\d+. ok", "utf"), body)  # one character for €
    assert not regex_matches(_rx("prix: \\d+. ok"), body)  # three bytes without utf
    assert unsupported_options(("caseless", "ungreedy", "no_start_optimize", "dupnames", "bogus")) == [
        "ungreedy", "dupnames"]
    assert isinstance(compile_regex("(unclosed"), str)
    assert compile_regex("(unclosed").startswith("Invalid regex: '(unclosed' at offset 0: ")  # type: ignore[union-attr]


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    f = tmp_path / "keepalived.conf"
    f.write_text(text)
    return load_config(str(f), "x")


def test_url_keywords_mapped_with_keepalived_warnings(tmp_path: Path) -> None:
    model, _ = _load(tmp_path, """
virtual_server 192.0.2.10 443 {
    protocol TCP
    real_server 192.0.2.11 443 {
        SSL_GET {
            url {
                path /a
                regex "Server: [a-z]+"
                regex_options caseless ungreedy
                regex_min_offset 5
                regex_max_offset 40
                regex_stack 1000 2000
                tls_compliant
            }
            url {
                path /b
                regex_no_match
                regex_min_offset 3
            }
            url {
                path /c
                regex "x"
                regex_min_offset 50
                regex_max_offset 40
            }
            fast_recovery
            tls_compliant
        }
    }
}
""")
    m = services_from_model(model)
    spec = m.services[0].real_servers[0].checks[0]
    assert isinstance(spec, HttpCheckSpec)
    assert spec.fast_recovery and spec.tls_compliant
    a, b, c = spec.urls
    assert (a.regex, a.regex_options, a.regex_min_offset, a.regex_max_offset, a.tls_compliant) == (
        "Server: [a-z]+", ("caseless", "ungreedy"), 5, 40, True)
    assert (b.regex, b.regex_no_match, b.regex_min_offset) == (None, False, 0)
    assert (c.regex_min_offset, c.regex_max_offset) == (0, None)
    assert "regex parameters specified without regex" in m.warnings
    assert "regex min offset 50 > regex_max_offset 40 - ignoring" in m.warnings
    assert "regex option ungreedy has no equivalent in Python's re - ignored" in m.warnings


# -- url cadence and fast_recovery ----------------------------------------------------------------
def _timing(retry: int = 1) -> Timing:
    return Timing(delay_loop=10 * SEC, connect_timeout=SEC, retry=retry, delay_before_retry=2 * SEC, warmup=0,
                  alpha=False)


def test_http_url_cadence_as_keepalived() -> None:
    st, prog = CheckerState("HTTP_GET", "[192.0.2.11]:tcp:80", _timing()), HttpProgress()
    v = http_result(st, prog, 3, True, None)  # url 1 ok: next url after delay_loop, no verdict yet
    assert (v.report, v.delay, prog.url_it) == (None, 10 * SEC, 1)
    v = http_result(st, prog, 3, True, None)
    v = http_result(st, prog, 3, True, None)  # the round is complete: up
    assert (v.report, prog.url_it) == (True, 0)
    assert [e.text for e in v.log] == ["Remote Web server [192.0.2.11]:tcp:80 succeed on service."]  # type: ignore[attr-defined]
    http_result(st, prog, 3, True, None)  # url 1 ok
    v = http_result(st, prog, 3, False, "Error connecting server [192.0.2.11]:tcp:80.")  # url 2 fails
    assert (v.report, v.delay, prog.url_it) == (None, 2 * SEC, 1)  # retried after delay_before_retry
    v = http_result(st, prog, 3, False, None)
    assert v.report is False and prog.failed_url == 1
    assert "HTTP_CHECK on service [192.0.2.11]:tcp:80 failed after 1 retries." in [e.text for e in v.log]  # type: ignore[attr-defined]
    assert v.delay == 10 * SEC  # max(delay_before_retry, delay_loop) while a url is failed
    v = http_result(st, prog, 3, False, None)  # known dead: the failed url, no retries
    assert (v.report, v.delay, prog.url_it) == (None, 10 * SEC, 1)
    v = http_result(st, prog, 3, True, None)  # the failed url is back: every url from the first
    assert (v.report, prog.url_it, prog.failed_url, v.delay) == (None, 0, None, 10 * SEC)
    for _ in range(2):
        assert http_result(st, prog, 3, True, None).report is None
    assert http_result(st, prog, 3, True, None).report is True


def test_http_fast_recovery_skips_the_waits_while_down() -> None:
    st, prog = CheckerState("SSL_GET", "[192.0.2.11]:tcp:443", _timing(retry=0)), HttpProgress()
    assert http_result(st, prog, 2, True, None, fast_recovery=True).delay == 0  # not run yet
    assert http_result(st, prog, 2, True, None, fast_recovery=True).report is True
    assert http_result(st, prog, 2, True, None, fast_recovery=True).delay == 10 * SEC  # up: normal
    v = http_result(st, prog, 2, False, None, fast_recovery=True)
    assert v.report is False and v.delay == 10 * SEC  # a failed url is known: no fast recovery
    assert "SSL_CHECK on service [192.0.2.11]:tcp:443 failed." in [e.text for e in v.log]  # type: ignore[attr-defined]
    v = http_result(st, prog, 2, True, None, fast_recovery=True)  # failed url back: restart at once
    assert (v.delay, prog.url_it) == (0, 0)
    assert http_result(st, prog, 2, True, None, fast_recovery=True).delay == 0
    assert http_result(st, prog, 2, True, None, fast_recovery=True).report is True


# -- against a real server in a namespace ---------------------------------------------------------
def _tls_server(sock: socket.socket, ctx: ssl.SSLContext, seen: list[str]) -> None:
    """One HTTPS exchange per connection, closed with a close_notify; records whether the client
    answered with its own (tls_compliant) or just closed (keepalived's quiet shutdown)."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        try:
            s = ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
            s.settimeout(3)
            s.recv(4096)
            s.sendall(RESPONSE)
            try:
                s.unwrap()  # our close_notify, then wait for the client's
                seen.append("close_notify")
            except (OSError, ssl.SSLError):
                seen.append("abort")
        except (OSError, ssl.SSLError):
            seen.append("error")
        finally:
            conn.close()


@pytest.mark.netns
def test_ssl_get_regex_and_tls_compliant_against_a_server(tmp_path: Path) -> None:
    key, crt = make_cert(tmp_path, "server")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    lab = Lab(prefix="ckkw")
    try:
        lan = lab.add_lan("l", ipv4="192.0.2.0/24")
        h = lab.add_host("h", [lan], addrs=["192.0.2.11"])
        seen: list[str] = []

        def serve() -> int:
            sock = socket.socket()
            sock.bind(("192.0.2.11", 0))
            sock.listen(8)
            threading.Thread(target=_tls_server, args=(sock, ctx, seen), daemon=True).start()
            return int(sock.getsockname()[1])

        port = h.call(serve)
        t = Target("192.0.2.11", port, ConnOpts())

        async def probe(spec: HttpCheckSpec) -> tuple[bool, str | None]:
            r = await probe_http(spec, t, 3.0)
            return r.ok, r.reason

        at = RESPONSE.index(b"Server")
        good = UrlSpec(path="/", regex="server: PROBE", regex_options=("caseless",), regex_min_offset=at,
                       regex_max_offset=at)
        assert h.run_async(probe, HttpCheckSpec(urls=(good,), ssl=True)) == (True, None)
        late = UrlSpec(path="/", regex="Server", regex_max_offset=at - 1)
        ok, reason = h.run_async(probe, HttpCheckSpec(urls=(late,), ssl=True))
        assert not ok and reason == f"Regex match failed server [192.0.2.11]:tcp:{port} url(1)."
        time.sleep(0.5)
        assert seen == ["abort", "abort"]  # keepalived's quiet shutdown
        seen.clear()
        h.run_async(probe, HttpCheckSpec(urls=(good,), ssl=True, tls_compliant=True))
        h.run_async(probe, HttpCheckSpec(urls=(UrlSpec(path="/", tls_compliant=True),), ssl=True))
        time.sleep(0.5)
        assert seen == ["close_notify", "close_notify"]
    finally:
        lab.close()


# -- rs_init_notifies -----------------------------------------------------------------------------
def _vs(d: Path, alpha_rs: bool) -> VirtualServerSpec:
    rss = tuple(RealServerSpec(addr=a, port=80, notify_up=f"/usr/bin/touch {d}/up_{a}",
                               timing=TimingOpts(alpha=alpha_rs and a.endswith("12")),
                               checks=(MiscCheckSpec(misc_path="/bin/false"),))
                for a in ("192.0.2.11", "192.0.2.12"))
    return VirtualServerSpec(key=ServiceKey(4, Protocol.TCP, "198.51.100.10", 80), real_servers=rss,
                             timing=TimingOpts(delay_loop=60.0, warmup=60.0))


@pytest.mark.parametrize("enabled", [True, False])
def test_rs_init_notifies(tmp_path: Path, enabled: bool) -> None:
    fifo: list[str] = []

    async def go() -> None:
        rt = CheckerRuntime([_vs(tmp_path, alpha_rs=True)], fifo=fifo.append, rs_init_notifies=enabled)
        await rt.start()
        await rt.stop(clear=False)

    asyncio.run(go())
    up = "RS [192.0.2.11]:tcp:80 [198.51.100.10]:tcp:80 UP"
    if enabled:  # the alive server is notified, before the quorum; the alpha one (down) is not
        assert fifo[:2] == [up, "VS [198.51.100.10]:tcp:80 UP"]
        assert (tmp_path / "up_192.0.2.11").exists() and not (tmp_path / "up_192.0.2.12").exists()
    else:
        assert up not in fifo and not (tmp_path / "up_192.0.2.11").exists()


# -- MISC_CHECK identity and security -------------------------------------------------------------
def test_misc_check_runs_as_script_user_with_security_checks(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    nobody = pwd.getpwnam("nobody")
    d = Path(tempfile.mkdtemp(prefix="ckkw-misc-", dir="/tmp"))  # reachable by `nobody`
    try:
        os.chmod(d, 0o755)
        out = d / "uid"
        out.touch()
        os.chmod(out, 0o666)
        script = d / "who.sh"
        script.write_text(f"#!/bin/sh\nid -u > {out}\nexit 0\n")
        os.chmod(script, 0o755)
        unsafe = d / "unsafe"
        unsafe.mkdir()
        os.chmod(unsafe, 0o777)  # world-writable: a root script there is refused
        bad = unsafe / "bad.sh"
        bad.write_text("#!/bin/sh\nexit 0\n")
        os.chmod(bad, 0o755)
        model, _ = _load(tmp_path, f"""
global_defs {{
    script_user nobody
    enable_script_security
}}
virtual_server 198.51.100.10 80 {{
    protocol TCP
    real_server 192.0.2.11 80 {{
        MISC_CHECK {{
            misc_path "{script}"
        }}
        MISC_CHECK {{
            misc_path "{bad}"
            user root
        }}
    }}
}}
""")
        mapped = services_from_model(model)
        with pytest.MonkeyPatch.context() as mp:
            logged: list[str] = []
            mp.setattr("pykeepalived.daemon.checker.check_scripts.log.info",
                       lambda fmt, *a: logged.append(fmt % a))
            services = secure_misc_checks(mapped.services, ScriptResolver(model))
        checks = services[0].real_servers[0].checks
        assert len(checks) == 1 and isinstance(checks[0], MiscCheckSpec)
        assert checks[0].command is not None and checks[0].command.uid == nobody.pw_uid
        assert f"Disabling misc script {bad} due to insecure" in logged

        async def go() -> None:
            rt = CheckerRuntime(services, rng=__import__("random").Random(1))
            await rt.start()
            c = rt.checkers[0]
            res = await rt.probe(c)
            assert res.ok, res
            await rt.stop(clear=False)

        asyncio.run(go())
        assert out.read_text().strip() == str(nobody.pw_uid)
        assert stat.S_IMODE(script.stat().st_mode) == 0o755
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_no_email_faults_reaches_the_alerter(tmp_path: Path) -> None:
    base = ("global_defs {{\n    smtp_server 192.0.2.25\n    notification_email {{\n        a@example.org\n"
            "    }}\n{}}}\n")
    on, _ = _load(tmp_path, base.format("    no_email_faults\n"))
    off, _ = _load(tmp_path, base.format(""))
    a_on, a_off = smtp_alerter(on), smtp_alerter(off)
    assert a_on is not None and a_on.settings is not None and a_on.settings.no_email_faults
    assert a_off is not None and a_off.settings is not None and not a_off.settings.no_email_faults
