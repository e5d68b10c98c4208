"""bgp_announce for real (docs/bgp.md): a router running FRR bgpd (ECMP, BFD), nodes running
pykeepalived with their own FRR, nginx on the nodes, a client behind the router
(src/pykeepalived/lab/bgp_fabric.py).

- mode master: the VIPs (IPv4 and IPv6) are announced by the MASTER only; the router's route follows
  the master after a kill -9 of its daemon (the anchor dies with the process) and after a stop;
- backup_anchor: the BACKUP announces too, with the worse preference of FRR's route-map, so the router
  already holds the backup's path and moves to it when the master's goes (link cut, BFD);
- across routed segments (a LAN per node, VRRP by unicast_peer through the router): the same;
- mode anycast: every healthy node announces (ECMP, the client's flows spread), a node whose tracker
  fails (FAULT) withdraws and stops receiving new connections.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.control import ctl
from pykeepalived.lab.bgp_fabric import VIP4, VIP6, Fabric, fabric, web, why_not
from pykeepalived.lab.node import Node, wait_for

_why = why_not()
pytestmark = [
    pytest.mark.netns,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(_why is not None, reason=f"FRR cannot run here: {_why}"),
    pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("curl"), reason="needs nginx and curl"),
]


def conf(prio: int, bgp: str, extra: str = "", inst_extra: str = "") -> str:
    return f"""
{extra}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 19
    version 3
    advert_int 0.1
    priority {prio}
    no_virtual_ipaddress
    {inst_extra}
    bgp_announce {{
        {bgp}
        addresses {{
            {VIP4}
            {VIP6}
        }}
    }}
}}
"""


@pytest.fixture
def lab2(tmp_path: Path) -> Iterator[Fabric]:
    with fabric(2) as f, web(f.nodes, tmp_path):
        yield f


@pytest.fixture
def lab3(tmp_path: Path) -> Iterator[Fabric]:
    with fabric(3) as f, web(f.nodes, tmp_path):
        yield f


METRICS = "global_defs {\n    pykeepalived_metrics_address 127.0.0.1:9650\n}"


def ctl_bgp(n: Node, *args: str) -> str:
    out = io.StringIO()
    assert ctl.main(["-s", str(n.dir / "pykeepalived.sock"), "bgp", *args], out) == ctl.EXIT_OK
    return out.getvalue()


def announced_metrics(n: Node) -> list[str]:
    text = n.host.run(["curl", "-s", "--max-time", "5", "http://127.0.0.1:9650/metrics"])
    return sorted(ln for ln in text.splitlines() if ln.startswith("pykeepalived_bgp_announced{"))


def started(nodes: list[Node]) -> list[Node]:
    for n in nodes:
        n.start()
    return nodes


def stop_all(nodes: list[Node], f: Fabric) -> str:
    logs = "\n".join(f"==== {n.host.name}\n{n.logs()[-3000:]}" for n in nodes)
    for n in nodes:
        try:
            n.stop()
        except Exception:
            n.kill()
    return logs + f.logs()[-4000:]


def until(cond, timeout: float, what: str, f: Fabric, nodes: list[Node]) -> None:
    try:
        wait_for(cond, timeout, 0.05)
    except AssertionError:
        raise AssertionError(f"{what}: router routes {f.routes()} / {f.routes(VIP6)}\n"
                             + "\n".join(n.logs()[-2500:] for n in nodes) + f.logs()[-3000:]) from None


def test_master_announces_and_withdrawal_survives_kill(lab2: Fabric) -> None:
    f = lab2
    nodes = started([Node(f.nodes[0], conf(150, "mode master")), Node(f.nodes[1], conf(100, "mode master"))])
    try:
        until(lambda: f.serving() == {"n1"} and f.serving(VIP6) == {"n1"}, 30, "n1 announces", f, nodes)
        assert f.fetch(timeout=5) == "n1" and f.fetch(VIP6, timeout=5) == "n1"
        assert ctl_bgp(nodes[0]).splitlines()[1].split() == ["VI_1", "MASTER", "master", "yes", "pka-bgp",
                                                             VIP4, VIP6]
        assert ctl_bgp(nodes[1]).splitlines()[1].split() == ["VI_1", "BACKUP", "master", "no", "-", "-"]
        assert VIP4 not in f.nodes[1].run("ip addr show dev pka-bgp"), "BACKUP, no backup_anchor: nothing"
        nodes[0].kill()  # kill -9: the anchor goes with the process, then VRRP moves the VIPs
        until(lambda: "pka-bgp" not in f.nodes[0].run("ip link"), 10, "anchor gone with it", f, nodes)
        until(lambda: f.serving() == {"n2"} and f.serving(VIP6) == {"n2"}, 30, "n2 took over", f, nodes)
        assert f.fetch(timeout=5) == "n2" and f.fetch(VIP6, timeout=5) == "n2"
        nodes[1].stop()  # a stop withdraws too
        until(lambda: not f.routes() and not f.routes(VIP6), 15, "withdrawn on stop", f, nodes)
        assert "pka-bgp" not in f.nodes[1].run("ip link")
    finally:
        stop_all(nodes, f)


def test_backup_announces_worse_and_router_fails_over_on_link_cut(lab2: Fabric) -> None:
    f = lab2
    bgp = "mode master\n        backup_anchor pka-bgpb"
    nodes = started([Node(f.nodes[0], conf(150, bgp)), Node(f.nodes[1], conf(100, bgp))])
    try:
        def both() -> bool:
            # The steady state, not a passing one: n2 may be MASTER for a moment at start (whichever
            # daemon is up first takes it) until n1 preempts; then n2's path is the prepended one.
            out = f.bgp("r", f"show bgp ipv4 unicast {VIP4}/32")
            return ("Paths: (2 available" in out and "65002 65002 65002" in out and "65001 65001" not in out
                    and f.serving() == {"n1"})
        until(both, 30, "master best, backup's path held", f, nodes)
        out = f.bgp("r", f"show bgp ipv4 unicast {VIP4}/32")
        assert "metric 200" in out, out
        until(lambda: f.fetch(timeout=5) == "n1", 10, "client reaches n1", f, nodes)
        f.lab.set_port(f.nodes[0], f.nodes[0].ifaces[0].lan, False)  # cut n1's link
        until(lambda: f.serving() == {"n2"}, 30, "router on the backup's path", f, nodes)
        until(lambda: f.fetch(timeout=5) == "n2", 30, "client reaches n2", f, nodes)
        assert "Paths: (1 available" in f.bgp("r", f"show bgp ipv4 unicast {VIP4}/32")
    finally:
        stop_all(nodes, f)


def test_anycast_every_healthy_node_announces_and_failed_one_withdraws(lab3: Fabric, tmp_path: Path) -> None:
    f = lab3
    nodes = []
    for h in f.nodes:
        health = tmp_path / f"{h.name}.health"
        health.write_text("0\n")
        extra = f"vrrp_track_file health {{\n    file {health}\n    weight 0\n}}"
        track = "track_file {\n        health\n    }"
        nodes.append(Node(h, conf(100, "mode anycast", f"{METRICS}\n{extra}", track)))
    started(nodes)
    try:
        until(lambda: f.serving() == {"n1", "n2", "n3"} and f.serving(VIP6) == {"n1", "n2", "n3"}, 30,
              "all three announce (ECMP)", f, nodes)
        seen = {f.fetch(timeout=5) for _ in range(60)}
        assert seen == {"n1", "n2", "n3"}, seen
        (tmp_path / "n2.health").write_text("1\n")  # n2's tracker fails: FAULT, withdrawn
        until(lambda: f.serving() == {"n1", "n3"} and f.serving(VIP6) == {"n1", "n3"}, 30, "n2 withdrew",
              f, nodes)
        seen = {f.fetch(timeout=5) for _ in range(40)}
        assert seen == {"n1", "n3"}, seen
        assert json.loads(ctl_bgp(nodes[1], "--json"))["bgp"]["VI_1"] == {
            "state": "FAULT", "mode": "anycast", "anchor": None, "addresses": []}
        assert announced_metrics(nodes[1]) == []
        assert announced_metrics(nodes[2]) == [
            f'pykeepalived_bgp_announced{{address="{a}",anchor="pka-bgp",iname="VI_1"}} 1.0'
            for a in (VIP6, VIP4)]
        (tmp_path / "n2.health").write_text("0\n")
        until(lambda: f.serving() == {"n1", "n2", "n3"}, 30, "n2 back", f, nodes)
    finally:
        stop_all(nodes, f)


@pytest.fixture
def lab1(tmp_path: Path) -> Iterator[Fabric]:
    with fabric(1) as f, web(f.nodes, tmp_path):
        yield f


def test_reload_turns_it_off_and_on(lab1: Fabric) -> None:
    f = lab1
    (n,) = nodes = started([Node(f.nodes[0], conf(150, "mode master"))])
    try:
        until(lambda: f.serving() == {"n1"}, 30, "n1 announces", f, nodes)
        without = re.sub(r"    bgp_announce \{.*?\n    \}\n", "", conf(150, "mode master"), flags=re.S)
        assert "bgp_announce" not in without
        n.conf.write_text(without)
        n.signal(signal.SIGHUP)
        until(lambda: not f.routes() and "pka-bgp" not in f.nodes[0].run("ip link"), 30, "off", f, nodes)
        n.conf.write_text(conf(150, "mode anycast\n        anchor pka-bgpb"))
        n.signal(signal.SIGHUP)
        until(lambda: f.serving() == {"n1"}, 30, "on again, kept MASTER", f, nodes)
        assert VIP4 in f.nodes[0].run("ip addr show dev pka-bgpb")
        assert "pka-bgp:" not in f.nodes[0].run("ip link"), "the anchor no longer named is gone"
        assert f.fetch(timeout=5) == "n1"
    finally:
        stop_all(nodes, f)


def test_master_mode_across_routed_segments(tmp_path: Path) -> None:
    """Beyond one L2 segment: each node on its own LAN, VRRP by unicast through the router."""
    with fabric(2, routed=True) as f, web(f.nodes, tmp_path):
        a, b = (str(h.ifaces[0].ipv4.ip) for h in f.nodes)

        def uni(me: str, peer: str) -> str:
            return f"unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}"
        nodes = started([Node(f.nodes[0], conf(150, "mode master", inst_extra=uni(a, b))),
                         Node(f.nodes[1], conf(100, "mode master", inst_extra=uni(b, a)))])
        try:
            until(lambda: f.serving() == {"n1"} and f.serving(VIP6) == {"n1"}, 30, "n1 announces", f, nodes)
            assert f.fetch(timeout=5) == "n1" and f.fetch(VIP6, timeout=5) == "n1"
            nodes[0].kill()
            until(lambda: f.serving() == {"n2"} and f.serving(VIP6) == {"n2"}, 30, "n2 took over", f, nodes)
            assert f.fetch(timeout=5) == "n2" and f.fetch(VIP6, timeout=5) == "n2"
        finally:
            stop_all(nodes, f)
