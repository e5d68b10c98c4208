"""Typed route/rule/checker values and keepalived's quirks kept on purpose."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pykeepalived.config import load_config
from pykeepalived.config.model import HttpCheck, MiscCheck, UdpCheck
from pykeepalived.config.types import read_hex_str


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    f = tmp_path / "k.conf"
    f.write_text(text)
    return load_config(str(f), "x")


def test_routes_typed(tmp_path: Path) -> None:
    m, diags = _load(
        tmp_path,
        "static_routes {\n 192.0.2.0/24 via 198.51.100.1 dev eth0 table 100 metric 7 scope link\n"
        " blackhole 203.0.113.0/24\n 2001:db8:1::/64 via 2001:db8::1 dev eth1 mtu lock 1400\n"
        " 198.51.100.0/24 gw 192.0.2.1\n}\n",
    )
    r0, r1, r2, r3 = m.static_routes
    assert (r0.dst.address, r0.dst.prefix, r0.via, r0.dev) == (
        ipaddress.ip_address("192.0.2.0"),
        24,
        ipaddress.ip_address("198.51.100.1"),
        "eth0",
    )
    assert (r0.table, r0.metric, r0.scope, r0.track) == (100, 7, 253, True)
    assert r1.type == 6 and not r1.track  # no interface: not tracked, with keepalived's warning
    assert r2.family == 6 and ("mtu", 1400) in r2.metrics and r2.locked == ("mtu",)
    assert r3.via == ipaddress.ip_address("192.0.2.1")
    msgs = [(d.loc.line, d.message) for d in diags]
    assert (
        3,
        "Warning - cannot track route 203.0.113.0/24 with no interface specified, not tracking",
    ) in msgs
    assert (5, '"gw" for routes is deprecated. Please use "via"') in msgs


def test_rules_priorities_and_goto(tmp_path: Path) -> None:
    m, diags = _load(
        tmp_path,
        "static_rules {\n from 192.0.2.0/24 table 5\n to 198.51.100.0/24 table 6\n"
        " from all preference 300 goto 200\n iif eth0 fwmark 0x10/0xff prohibit preference 9\n}\n",
    )
    a, b, c = m.static_rules
    assert (a.priority, b.priority) == (16384, 16383)  # keepalived counts down, with a warning each
    assert c.action == "prohibit" and (c.fwmark, c.fwmask, c.iif) == (16, 255, "eth0")
    assert any(d.loc.line == 4 and "preference 300 >= goto target 200" in d.message for d in diags)


def test_udp_hex_last_octet_ff_rejected() -> None:
    assert read_hex_str("00fe") == (b"\x00\xfe", b"\x00\x00")
    assert read_hex_str("0 1 ab") == (b"\x00\x01\xab", b"\x00\x00\x00")
    assert read_hex_str("00ff") is None  # keepalived 2.2.7 uses 0xff as its error marker
    assert read_hex_str("ff00") is not None
    assert read_hex_str("1x", wildcard=True) == (b"\x10", b"\x0f")
    assert read_hex_str("1x") is None


def test_checker_defaults_resolved(tmp_path: Path) -> None:
    m, _ = _load(
        tmp_path,
        "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n delay_loop 10\n retry 4\n"
        " real_server 192.0.2.2 80 {\n connect_timeout 2\n"
        " HTTP_GET {\n url {\n path /x\n status_code 200 301-302\n }\n }\n"
        " MISC_CHECK {\n misc_path /bin/true\n }\n"
        " UDP_CHECK {\n payload 01 02\n require_reply\n }\n }\n}\n",
    )
    http, misc, udp = m.virtual_servers[0].real_servers[0].checkers
    assert isinstance(http, HttpCheck) and isinstance(misc, MiscCheck) and isinstance(udp, UdpCheck)
    assert http.urls[0].status_code == ((200, 200), (301, 302))
    assert (http.delay_loop_us, http.connect_timeout_us, http.retry) == (10_000_000, 2_000_000, 4)
    assert http.delay_before_retry_us == 3_000_000 and misc.delay_before_retry_us == 1_000_000
    assert http.warmup_us == 10_000_000
    assert udp.payload_bytes == b"\x01\x02" and udp.require_reply == ""


def test_instance_name_in_value_errors(tmp_path: Path) -> None:
    _, diags = _load(tmp_path, "vrrp_instance VX {\n interface eth0\n virtual_router_id 300\n}\n")
    assert any(d.message == "(VX): VRID '300' not valid - must be between 1 & 255" for d in diags)
    assert not any("(VI)" in d.message for d in diags)


def test_comment_ending_in_backslash(tmp_path: Path) -> None:
    m, diags = _load(tmp_path, "# see \\\nglobal_defs { # x \\\n router_id a # y \\\n}\n")
    assert [(d.loc.line, d.message) for d in diags] == [
        (1, "Unknown keyword '\\'"),
        (2, "Unknown keyword '\\'"),
    ]
    assert m.global_defs.router_id == "a\\"  # the kept backslash sticks to the last word


def test_lvs_tables_cover_the_fields() -> None:
    """Every virtual_server / real_server keyword naming a field of the record (timers: `_us`) has a
    handler that sets it (config/build_lvs.py's tables); one without would be kept in options only."""
    import dataclasses

    from pykeepalived.config.build_lvs import _RS_KW, _VS_KW
    from pykeepalived.config.grammar import CHECKERS, REAL_SERVER, VIRTUAL_SERVER
    from pykeepalived.config.model import RealServer, VirtualServer

    for grammar, cls, table in ((VIRTUAL_SERVER, VirtualServer, _VS_KW), (REAL_SERVER, RealServer, _RS_KW)):
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {kw for kw, k in grammar.items()
                  if k.alias is None and kw not in CHECKERS and {kw, kw + "_us"} & names}
        assert fields <= table.keys(), (cls.__name__, fields - table.keys())
