"""keepalived 2.2.7's text forms of routes, rules and addresses, without namespaces: each expected
line is what keepalived 2.2.7 wrote in keepalived.data for the same configuration line (captured
beside pykeepalived by tests/files/test_dumps_as_keepalived.py, which checks them on the wire too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.model import Model
from pykeepalived.daemon.addrmap import address_from_spec
from pykeepalived.daemon.dump_format import format_address, format_route, format_rule

ROUTES = [
    ("198.51.100.0/24 via 192.0.2.254 dev eth0",
     "prepend 198.51.100.0/24 via inet 192.0.2.254 dev eth0 proto 18"),
    ("198.51.100.0/24 via 192.0.2.254 dev eth0 table 100 metric 10",
     "prepend 198.51.100.0/24 via inet 192.0.2.254 dev eth0 table 100 proto 18 metric 10"),
    ("src 192.0.2.150 203.0.113.0/25 dev eth0 scope link",
     "prepend 203.0.113.0/25 src 192.0.2.150 dev eth0 proto 18 scope 253"),
    ("blackhole 203.0.113.128/25", "add blackhole 203.0.113.128/25 proto 18 no_track"),
    ("198.51.100.128/25 via 192.0.2.253 dev eth0 onlink mtu lock 1400 advmss 1300 rto_min 300 "
     "initcwnd 10",
     "prepend 198.51.100.128/25 via inet 192.0.2.253 dev eth0 proto 18 onlink rto_min 300ms mtu lock 1400 "
     "advmss 1300 initcwnd 10"),
    ("default nexthop via 192.0.2.252 dev eth0 weight 2 nexthop via 192.0.2.251 dev eth0 table 101",
     "prepend 0.0.0.0/0 proto 18 nexthop via inet 192.0.2.252 dev eth0 weight 2 nexthop via inet "
     "192.0.2.251 dev eth0 no_track"),
    ("no_track 10.0.0.0/8 via 192.0.2.254", "prepend 10.0.0.0/8 via inet 192.0.2.254 no_track"),
]
RULES = [
    ("from 192.0.2.130 table 100", "from 192.0.2.130 priority 16384 tos 0x0 protocol 18 lookup 100"),
    ("to 203.0.113.0/24 priority 200 table 101 fwmark 0x10/0xff",
     "from all to 203.0.113.0/24 priority 200 tos 0x0 fwmark 0x10/0xff protocol 18 lookup 101"),
    ("from all iif eth0 tos 0x10 goto 300 priority 250",
     "from 0.0.0.0/0 priority 250 tos 0x10 iif eth0 protocol 18 goto 300"),
    ("not from 192.0.2.151 priority 260 prohibit",
     "not from 192.0.2.151 priority 260 tos 0x0 protocol 18 type prohibit"),
    ("from 192.0.2.152 priority 270 table 102 sport 1000-2000 ipproto tcp uidrange 100-200",
     "from 192.0.2.152 priority 270 tos 0x0 uidrange 100-200 protocol 18 ipproto 6 sport 1000-2000 "
     "lookup 102"),
]
ADDRESSES = [
    ("192.0.2.100/24 dev eth0 label eth0:vip", True,
     "192.0.2.100/24 dev eth0 scope global label eth0:vip set"),
    ("192.0.2.101", True, "192.0.2.101 dev eth0 scope global set"),
    ("192.0.2.151/24 brd + label eth0:x", True,
     "192.0.2.151/24 brd 192.0.2.255 dev eth0 scope global label eth0:x set"),
    ("192.0.2.110/24 brd 192.0.2.255 scope link", False,  # refused by the kernel: no `set`
     "192.0.2.110/24 brd 192.0.2.255 dev eth0 scope link"),
    ("2001:db8::100/64", True, "2001:db8::100/64 dev eth0 scope global preferred_lft forever set"),
]


def _with(tmp_path: Path, block: str, line: str) -> Model:
    """An instance with one VIP and `line` in its `block` (virtual_routes, virtual_rules)."""
    return _model(tmp_path, f"    virtual_ipaddress {{\n 192.0.2.100\n}}\n    {block} {{\n {line}\n }}")


def _model(tmp_path: Path, body: str) -> Model:
    f = tmp_path / "keepalived.conf"
    f.write_text(f"""vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
{body}
}}
""")
    model, _ = load_config(str(f), "x")
    return model


@pytest.mark.parametrize(("line", "expected"), ROUTES)
def test_route_as_keepalived(tmp_path: Path, line: str, expected: str) -> None:
    conf = _with(tmp_path, "virtual_routes", line)
    (route,) = conf.vrrp_instances[0].virtual_routes
    assert format_route(route) == expected


def test_static_route_keeps_keepalived_installed_ifindex(tmp_path: Path) -> None:
    """keepalived never matches its static routes' netlink echo to their interface."""
    conf = _with(tmp_path, "virtual_routes", ROUTES[0][0])
    (route,) = conf.vrrp_instances[0].virtual_routes
    assert format_route(route, installed_ifindex=0) == ROUTES[0][1] + " [installed ifindex 0]"


@pytest.mark.parametrize(("line", "expected"), RULES)
def test_rule_as_keepalived(tmp_path: Path, line: str, expected: str) -> None:
    conf = _with(tmp_path, "virtual_rules", line)
    (rule,) = conf.vrrp_instances[0].virtual_rules
    assert format_rule(rule) == expected


@pytest.mark.parametrize(("line", "is_set", "expected"), ADDRESSES)
def test_address_as_keepalived(tmp_path: Path, line: str, is_set: bool, expected: str) -> None:
    version = "    version 3\n" if ":" in line.split()[0] else ""
    conf = _model(tmp_path, f"{version}    virtual_ipaddress {{\n {line}\n}}")
    (spec,) = conf.vrrp_instances[0].vips
    a = address_from_spec(spec, "eth0")
    assert a is not None
    assert format_address(a, is_set) == expected
