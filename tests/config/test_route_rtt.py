"""Route rtt/rttvar/rto_min as keepalived 2.2.7's get_time_rtt() reads them
(vrrp_ip_rule_route_parser.c): a bare number is already in the kernel's units, `ms`/`s` are scaled,
and the result is clamped to 200 ms..120 s with a log line. The SNMP route table shows them
(tests/snmp: `rtt 30` is served as 200, keepalived's value)."""

from __future__ import annotations

from pykeepalived.config.diag import NOWHERE, Reporter
from pykeepalived.config.routes import parse_route


def metrics(words: str) -> tuple[dict[str, int], list[str]]:
    rep = Reporter()
    r = parse_route(tuple(words.split()), NOWHERE, rep)
    assert r is not None, [d.message for d in rep.diags]
    return dict(r.metrics), [d.message for d in rep.diags]


def test_bare_rtt_is_kernel_units_and_clamped() -> None:
    m, logs = metrics("203.0.113.0/24 dev eth0 rtt 30")
    assert m["rtt"] == 1600 and logs == ["rtt value 30 below minimum 200ms, resetting"]
    assert metrics("203.0.113.0/24 dev eth0 rtt 4000")[0]["rtt"] == 4000


def test_rtt_units() -> None:
    assert metrics("203.0.113.0/24 dev eth0 rtt 300ms")[0]["rtt"] == 2400
    assert metrics("203.0.113.0/24 dev eth0 rtt 1.5s")[0]["rtt"] == 12000
    assert metrics("203.0.113.0/24 dev eth0 rttvar 2s")[0]["rttvar"] == 8000
    assert metrics("203.0.113.0/24 dev eth0 rto_min 250ms")[0]["rto_min"] == 250
    m, logs = metrics("203.0.113.0/24 dev eth0 rtt 200s")
    assert m["rtt"] == 960000 and logs == ["rtt value 200s exceeds maximum 120s, resetting"]
