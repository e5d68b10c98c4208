"""A track_script on the vrrp_sync_group itself (keepalived.md §1.9) reaches every member: when it
fails on the master, the whole group goes FAULT there and both VIPs move to the peer; when it
recovers, the group comes back (preempting, higher priority). Runs against pykeepalived and, as the
oracle, keepalived 2.2.7."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP1, VIP2 = "192.0.2.111", "192.0.2.112"


def conf(prio: int, d: Path) -> str:
    inst = """vrrp_instance VI_{n} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""
    return f"""global_defs {{
    router_id sgt_{prio}
}}
vrrp_script chk {{
    script "{d}/chk.sh"
    interval 1
    fall 1
    rise 1
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
    track_script {{
        chk
    }}
}}
""" + inst.format(n=1, vrid=71, prio=prio, vip=VIP1) + inst.format(n=2, vrid=72, prio=prio, vip=VIP2)


def make_node(lab: Lab, host: str, prio: int, impl: str) -> Node:
    n = Node(lab[host], "", impl=impl)
    (n.dir / "chk.sh").write_text(f"#!/bin/sh\ntest -e {n.dir}/healthy\n")
    (n.dir / "chk.sh").chmod(0o755)
    (n.dir / "healthy").touch()
    n.conf.write_text(conf(prio, n.dir))
    return n


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_group_level_script_moves_the_whole_group(lab: Lab, nodes: list[Node], impl: str) -> None:
    a = make_node(lab, "n1", 150, impl)
    b = make_node(lab, "n2", 100, impl)
    nodes += [a, b]
    b.start()
    wait_for(lambda: b.has(VIP1) and b.has(VIP2), 20)
    a.start()
    wait_for(lambda: a.has(VIP1) and a.has(VIP2) and not b.has(VIP1) and not b.has(VIP2), 20)
    (a.dir / "healthy").unlink()  # the group's script fails on n1: both members go FAULT there
    wait_for(lambda: b.has(VIP1) and b.has(VIP2), 10)
    assert not a.has(VIP1) and not a.has(VIP2), dump_logs(a, b)
    assert "VRRP_Group(G1) Syncing instances to FAULT state" in a.logs(), dump_logs(a, b)
    (a.dir / "healthy").touch()  # recovered: n1 (priority 150) takes the whole group back
    wait_for(lambda: a.has(VIP1) and a.has(VIP2) and not b.has(VIP1) and not b.has(VIP2), 15)
