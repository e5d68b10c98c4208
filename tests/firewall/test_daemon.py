"""The VRRP firewall of the running daemon, against keepalived 2.2.7 as the oracle.

Each comparison runs keepalived and pykeepalived at the same time, each alone on its own LAN (so
both become MASTER), with the same configuration, and compares `nft list ruleset` (counter values
masked) in BACKUP, in MASTER and after SIGTERM.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for

pytestmark = pytest.mark.netns

AUTO = "use_vmac or no_accept/strict specified, but no firewall configured - using nftables"


def ruleset(h: Host) -> str:
    return re.sub(r"packets \d+ bytes \d+", "packets N bytes N", h.run(["nft", "list", "ruleset"]))


@pytest.fixture
def pair() -> Iterator[tuple[Host, Host]]:
    with Lab() as lab:
        a, b = lab.add_lan(), lab.add_lan()
        yield lab.add_host("ka", [a]), lab.add_host("py", [b])


def backup_rulesets(*nodes: Node) -> list[str]:
    """Each node's ruleset as soon as it has entered BACKUP (before its master-down timer fires;
    the daemons start at different speeds on a loaded machine)."""
    out: dict[int, str] = {}

    def poll() -> bool:
        for i, n in enumerate(nodes):
            if i not in out and "Entering BACKUP STATE" in n.logs():
                out[i] = ruleset(n.host)
                assert "Entering MASTER STATE" not in n.logs(), f"{n.impl} too slow to see in BACKUP"
        return len(out) == len(nodes)

    wait_for(poll, 30)
    return [out[i] for i in range(len(nodes))]


CASES = {
    # strict implies no_accept; eVIPs of the other family, global and link-local (by ifindex)
    "strict_v4_evip6": dict(
        globals_="    vrrp_strict", vips=("192.0.2.100/24", "192.0.2.101/24"),
        extra="    virtual_ipaddress_excluded {\n        2001:db8::77/64\n"
              "        fe80::77/64 dev eth0\n    }",
        dev="eth0"),
    # VMAC (MLD redirection), named table, priority, counters, link-local VIP by interface name
    "vmac_v6_options": dict(
        globals_="    nftables mytab\n    nftables_priority -5\n    nftables_counters",
        extra="    use_vmac\n    no_accept\n    dont_track_primary",
        vips=("fe80::100/64", "2001:db8::100/64"), dev="vrrp.51"),
    # VMAC with eVIPs of the other family: IGMP and MLD redirection; nftables_ifindex
    "vmac_v4_evip6_ifindex": dict(
        globals_="    nftables_ifindex",
        extra="    use_vmac\n    no_accept\n    dont_track_primary\n"
              "    virtual_ipaddress_excluded {\n        2001:db8::5/64\n        fe80::5/64 dev eth0\n    }",
        vips=("192.0.2.100/24",), dev="vrrp.51"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ruleset_as_keepalived(case: str, pair: tuple[Host, Host], nodes: list[Node]) -> None:
    kw = dict(CASES[case])
    dev = str(kw.pop("dev"))
    conf = instance_conf(version=3, advert="1", **kw)  # type: ignore[arg-type]
    named = "nftables mytab" in conf  # this case also checks reload and --dont-release-vrrp
    ka, py = (Node(h, conf, impl=impl, extra=("-V",) if named else ()).start()
              for h, impl in zip(pair, ("ka", "py"), strict=True))
    nodes += [ka, py]
    vip = str(kw["vips"][0]).split("/")[0]  # type: ignore[index]
    try:
        backup = backup_rulesets(ka, py)
        assert backup[1] == backup[0], "BACKUP"
        wait_for(lambda: all(n.has(vip, dev) for n in (ka, py)), 20)
        master = ruleset(ka.host)
        assert "@vips" in master
        assert ruleset(py.host) == master, "MASTER"
        if named:
            reload_with_another_table(ka, py)
        for n in (ka, py):
            n.signal(signal.SIGTERM)
        for n in (ka, py):
            n.stop()
        # keepalived 2.2.7 deletes the table at stop even with --dont-release-vrrp (-V)
        assert ruleset(py.host) == ruleset(ka.host) == "", "stopped"
        if "globals_" in kw and "nftables" not in str(kw["globals_"]):
            assert AUTO in ka.logs() and AUTO in py.logs()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(ka, py)}") from exc


def reload_with_another_table(*nodes: Node) -> None:
    """The table name cannot change at a reload: the parent refuses, the children do not reload."""
    msg = "Cannot change nftables table name at a reload - please restart keepalived"
    for n in nodes:
        n.conf.write_text(n.conf.read_text().replace("nftables mytab", "nftables other"))
        n.signal(signal.SIGHUP)
    wait_for(lambda: all(msg in n.logs() for n in nodes), 10)
    for n in nodes:
        assert "Reloading" not in n.logs().replace("Reloading ...", ""), f"{n.impl}: the child reloaded"
        assert "table ip6 mytab" in n.host.run(["nft", "list", "tables"])


HTTP = [sys.executable, "-m", "http.server", "8080", "--bind", "0.0.0.0"]


def test_no_accept_master_drops_traffic_to_its_vips(nodes: list[Node]) -> None:
    """vrrp_strict (no_accept) non-owner MASTER: ping and TCP to its VIP are dropped, while a MASTER
    in accept mode answers; the node's own address is not affected; the table goes at SIGTERM."""
    with Lab(hosts=["strict", "accept", "client"]) as lab:
        s, a, c = lab["strict"], lab["accept"], lab["client"]
        n1 = Node(s, instance_conf(globals_="    vrrp_strict", vrid=51, advert="0.5", version=3,
                                   vips=("192.0.2.100/24",))).start()
        n2 = Node(a, instance_conf(vrid=52, advert="0.5", version=3, extra="    accept",
                                   vips=("192.0.2.101/24",))).start()
        nodes += [n1, n2]
        servers = [h.popen(HTTP, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for h in (s, a)]
        try:
            wait_for(lambda: n1.has("192.0.2.100") and n2.has("192.0.2.101"), 20)

            def ping(ip: str) -> bool:
                return subprocess.run(["ip", "netns", "exec", c.ns, "ping", "-c1", "-W1", ip],
                                      capture_output=True).returncode == 0

            def curl(ip: str) -> bool:
                p = subprocess.run(["ip", "netns", "exec", c.ns, "curl", "-s", "-o", "/dev/null",
                                    "-w", "%{http_code}", "--max-time", "1", f"http://{ip}:8080/"],
                                   capture_output=True, text=True)
                return p.stdout == "200"

            wait_for(lambda: curl(str(a.ipv4)) and curl(str(s.ipv4)), 10)  # both servers are up
            assert ping("192.0.2.101") and curl("192.0.2.101"), "accept-mode MASTER must answer"
            assert ping(str(s.ipv4)), "the no_accept node's own address must answer"
            assert not ping("192.0.2.100"), "no_accept MASTER answered a ping to its VIP"
            assert not curl("192.0.2.100"), "no_accept MASTER accepted a TCP connection to its VIP"
            assert "elements = { 192.0.2.100 }" in s.run(["nft", "list", "table", "ip", "keepalived"])
            assert a.run(["nft", "list", "ruleset"]).strip() == ""  # accept mode: no firewall at all
            assert AUTO in n1.logs() and AUTO not in n2.logs()
            n1.stop()
            assert s.run(["nft", "list", "ruleset"]).strip() == "", "table left after SIGTERM"
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{dump_logs(n1, n2)}") from exc
        finally:
            for p in servers:
                p.send_signal(signal.SIGTERM)
                p.wait(5)
