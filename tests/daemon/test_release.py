"""--dont-release-vrrp (-V) and the start-up/stop address handling, against keepalived 2.2.7.

keepalived and pykeepalived run at the same time with the same configuration, each alone on its own
LAN (same addressing), so both become MASTER; after SIGTERM (with and without -V) the addresses,
links, routes and rules left behind, and the address log lines, must be the same.
"""

from __future__ import annotations

import json
import re
import signal

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for

pytestmark = pytest.mark.netns

CONF = """global_defs {
    router_id rel
}
static_ipaddress {
    203.0.113.5/24 dev eth0
}
static_routes {
    198.51.100.128/25 dev eth0
}
static_rules {
    from 203.0.113.5 table 105
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.100/24
    }
    virtual_ipaddress_excluded {
        192.0.2.101/24
    }
    virtual_routes {
        198.51.100.0/25 dev eth0
    }
    virtual_rules {
        from 192.0.2.100 table 100
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    use_vmac
    virtual_router_id 52
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.102/24
    }
    virtual_ipaddress_excluded {
        2001:db8::102/64
    }
}
"""


def state(h: Host) -> dict[str, list[str]]:
    """What keepalived may leave behind: addresses per link, links, routes and rules."""
    addrs = json.loads(h.run(["ip", "-j", "addr", "show"]))
    out = {
        "addresses": sorted(f"{a['local']}/{a['prefixlen']} {link['ifname']}" for link in addrs
                            for a in link.get("addr_info", []) if a.get("scope") != "link"),
        "links": sorted(link["ifname"] for link in addrs),
        "routes": sorted(r for r in h.run(["ip", "route", "show", "table", "all"]).splitlines()
                         if "198.51.100" in r),
        "rules": sorted(r for r in h.run(["ip", "rule", "show"]).splitlines() if "lookup 10" in r),
    }
    return out


ADDRESS_LOG = re.compile(r"(removing|setting) (E-)?VIPs|sent 0 priority|Virtual R(outes|ules)")


def address_log(n: Node) -> list[str]:
    return [re.sub(r"^\w+ \w+ +\d+ [\d:]+ \d+: ", "", line) for line in n.logs().splitlines()
            if ADDRESS_LOG.search(line)]


@pytest.mark.parametrize("dont_release", [True, False], ids=["V", "release"])
def test_stop_as_keepalived(dont_release: bool, oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, *pair = oracle_lab
    extra = ("-V",) if dont_release else ()
    ka, py = (Node(h, CONF, impl=impl, extra=extra) for h, impl in zip(pair, ("ka", "py"), strict=True))
    try:
        ka.start()
        py.start()
        for n in (ka, py):
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102", "vrrp.52"), 20)
        wait_for(lambda: all(state(n.host)["rules"] and state(n.host)["routes"] for n in (ka, py)), 5)
        running = state(ka.host)
        assert state(py.host) == running, "MASTER"
        for n in (ka, py):
            n.signal(signal.SIGTERM)
        for n in (ka, py):
            n.stop()
        stopped = state(ka.host)
        if dont_release:  # keepalived 2.2.7 keeps the VIPs, eVIPs, virtual routes/rules and VMACs
            assert "192.0.2.100/24 eth0" in stopped["addresses"] and "vrrp.52" in stopped["links"]
        else:
            assert "vrrp.52" not in stopped["links"]
        assert state(py.host) == stopped, "stopped"
        assert address_log(py) == address_log(ka)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(ka, py)}") from exc
    finally:
        for n in (ka, py):
            n.kill()
