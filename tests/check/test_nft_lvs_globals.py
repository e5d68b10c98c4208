"""The global LVS keywords on the nftables data plane, in a network namespace: lvs_timeouts as ct timeout
objects applied to the virtual services' connections only (read back from /proc/net/nf_conntrack),
their replacement and removal, lvs_flush_on_stop, and an untied lvs_sync_daemon without IPVS."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.daemon.checker.lvs_apply import CheckerLvsGlobals
from pykeepalived.linux.nft_lb import NftLoadBalancer
from pykeepalived.lvs.globals import LvsTimeouts
from pykeepalived.lvs.model import Dest, Protocol, Service, ServiceKey, make_entry
from pykeepalived.lvs.plan import plan

VIP = "203.0.113.10"
RS = "192.0.2.11"
TABLE = "pklvsg"

# runs in the namespace: one connection through the TCP virtual service, one UDP datagram through the
# UDP one, one direct connection (no virtual service); prints the conntrack lines, then again after the
# client's FIN
PROBE = r"""
import json, socket, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("192.0.2.11", 8080)); srv.listen()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("192.0.2.11", 5353))
vs = socket.create_connection(("203.0.113.10", 80), timeout=2); a, _ = srv.accept()
direct = socket.create_connection(("192.0.2.11", 8080), timeout=2); b, _ = srv.accept()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.sendto(b"x", ("203.0.113.10", 53))
udp.recvfrom(10)
time.sleep(0.2)
before = open("/proc/net/nf_conntrack").read().splitlines()
vs.close(); time.sleep(0.3)
after = open("/proc/net/nf_conntrack").read().splitlines()
print(json.dumps({"before": before, "after": after}))
"""


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def netns() -> Iterator[str]:
    ns = f"pklvsg{os.getpid() % 100000}"
    sh("ip", "netns", "add", ns)
    try:
        for cmd in ("link set lo up", "link add lv0 type veth peer lv1", f"addr add {VIP}/32 dev lv0",
                    f"addr add {RS}/32 dev lv0", "link set lv0 up", "link set lv1 up"):
            sh("ip", "-n", ns, *cmd.split())
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def table() -> dict[ServiceKey, object]:
    tcp = ServiceKey(4, Protocol.TCP, VIP, 80)
    udp = ServiceKey(4, Protocol.UDP, VIP, 53)
    return {tcp: make_entry(Service(tcp, "rr"), [Dest(RS, 8080)]),
            udp: make_entry(Service(udp, "rr"), [Dest(RS, 5353)])}


def conntrack(lines: list[str], proto: str, dport: int) -> tuple[int, str]:
    """(timeout left, state) of the first entry of `proto` to original destination port `dport`."""
    for line in lines:
        w = line.split()
        if w[2] == proto and f"dport={dport}" in w:
            return int(w[4]), (w[5] if proto == "tcp" else "")
    raise AssertionError(f"no {proto} dport={dport} entry in {lines}")


@pytest.mark.netns
@pytest.mark.timeout(60)
def test_lvs_timeouts_as_ct_timeout_objects(netns: str) -> None:
    lb = NftLoadBalancer(table=TABLE, netns=netns)

    async def setup() -> None:
        await lb.apply(plan(table(), {}))  # type: ignore[arg-type]
        await lb.set_timeouts(LvsTimeouts(tcp=100, tcpfin=20, udp=30))  # refills the existing services

    asyncio.run(setup())
    listing = sh("ip", "netns", "exec", netns, "nft", "list", "table", "ip", TABLE)
    assert "ct timeout lvs_tcp_100_20" in listing and 'ct timeout set "lvs_udp_30"' in listing, listing
    res = json.loads(sh("ip", "netns", "exec", netns, sys.executable, "-c", PROBE))
    left, state = conntrack(res["before"], "tcp", 80)
    assert state == "ESTABLISHED" and 80 < left <= 100, res["before"]
    left, state = conntrack(res["after"], "tcp", 80)
    assert state in ("FIN_WAIT", "CLOSE_WAIT", "LAST_ACK") and left <= 20, res["after"]
    left, _ = conntrack(res["before"], "udp", 53)
    assert 20 < left <= 30, res["before"]
    # a connection that is not to a virtual service keeps conntrack's own timeout (5 days)
    left, state = conntrack(res["before"], "tcp", 8080)
    assert state == "ESTABLISHED" and left > 100000, res["before"]

    async def change() -> list[str]:
        out = []
        await lb.set_timeouts(LvsTimeouts(tcp=200))
        out.append(sh("ip", "netns", "exec", netns, "nft", "list", "table", "ip", TABLE))
        await lb.set_timeouts(None)
        out.append(sh("ip", "netns", "exec", netns, "nft", "list", "table", "ip", TABLE))
        return out

    changed, cleared = asyncio.run(change())
    assert "lvs_tcp_200_0" in changed and "lvs_tcp_100_20" not in changed and "lvs_udp" not in changed
    assert "ct timeout" not in cleared and "dnat" in cleared, cleared


CONF = """
global_defs {
    lvs_timeouts tcp 600
    lvs_flush
    lvs_flush_on_stop
    lvs_sync_daemon lv0 id 5
}
"""


@pytest.mark.netns
@pytest.mark.timeout(60)
def test_checker_globals_on_nftables(netns: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """start: timeouts, lvs_flush (our table), untied sync daemon refused without IPVS (logged once);
    stop with lvs_flush_on_stop: our tables are gone."""
    if os.path.exists("/proc/net/ip_vs"):
        pytest.skip("this kernel has IPVS: the nftables plane's sync daemon message does not apply")
    conf = tmp_path / "k.conf"
    conf.write_text(CONF)
    model, _ = load_config(str(conf))
    lb = NftLoadBalancer(table=TABLE, netns=netns)
    glob = CheckerLvsGlobals(lb)

    async def go() -> tuple[str, str]:
        await lb.apply(plan(table(), {}))  # type: ignore[arg-type]
        await glob.start(model)  # lvs_flush: our table is emptied
        flushed = sh("ip", "netns", "exec", netns, "nft", "list", "tables")
        await lb.apply(plan(table(), {}))
        await glob.reload(model)
        listing = sh("ip", "netns", "exec", netns, "nft", "list", "table", "ip", TABLE)
        await glob.stop(release=True)
        return flushed + "\n---\n" + listing, sh("ip", "netns", "exec", netns, "nft", "list", "tables")

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        before, after = asyncio.run(go())
    flushed, listing = before.split("\n---\n")
    assert TABLE not in flushed
    assert "ct timeout lvs_tcp_600_0" in listing and 'ct timeout set "lvs_tcp_600_0"' in listing, listing
    assert TABLE not in after
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs.count("IPVS: Can't initialize ipvs: Protocol not available") == 1, msgs
