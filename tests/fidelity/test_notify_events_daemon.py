"""notify_priority_changes, notify_master_rx_lower_pri and notify_deleted through the daemon.

The same assertions run against keepalived 2.2.7 ("ka") and pykeepalived ("py").
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for
from tests.fidelity.test_sync_group_daemon import FifoReader

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def n1_conf(d: Path, with_vi2: bool) -> str:
    vi2 = f"""
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    notify_deleted
    notify "{d}/notify.sh"
    virtual_ipaddress {{
        192.0.2.102/24
    }}
}}
""" if with_vi2 else ""
    return f"""global_defs {{
    router_id n1
    vrrp_notify_fifo {d}/fifo
}}
track_file tf {{
    file {d}/tf
    weight 1
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_peer {{
        192.0.2.250
    }}
    track_file {{
        tf
    }}
    notify_priority_changes
    notify_master_rx_lower_pri "{d}/rx_lower.sh"
    notify "{d}/notify.sh"
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
{vi2}"""


def n2_conf(peer: str) -> str:
    return f"""global_defs {{
    router_id n2
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"""


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_priority_change_and_deleted(lab: Lab, nodes: list[Node], impl: str) -> None:
    a = Node(lab["n1"], "", impl=impl)
    d = a.dir
    (d / "tf").write_text("0\n")
    (d / "notify.sh").write_text(f"#!/bin/sh\necho \"$*\" >> {d}/notify.out\n")
    (d / "rx_lower.sh").write_text(f"#!/bin/sh\necho rx_lower \"$*\" >> {d}/rx_lower.out\n")
    for f in ("notify.sh", "rx_lower.sh"):
        (d / f).chmod(0o755)
    a.conf.write_text(n1_conf(d, True))
    nodes.append(a)
    fifo = FifoReader(d / "fifo")
    try:
        a.start()
        wait_for(lambda: 'INSTANCE "VI_1" MASTER 150' in fifo.lines, 15)
        (d / "tf").write_text("5\n")
        wait_for(lambda: 'INSTANCE "VI_1" MASTER_PRIORITY 155' in fifo.lines, 10)
        # reload without VI_2: notify_deleted makes its generic notify say DELETED
        a.conf.write_text(n1_conf(d, False))
        a.signal(signal.SIGHUP)
        wait_for(lambda: 'INSTANCE "VI_2" DELETED 100' in fifo.lines, 10)
        wait_for(lambda: "INSTANCE VI_2 DELETED 100" in (d / "notify.out").read_text(), 5)
    finally:
        fifo.close()
    seq = [line for line in fifo.lines if line in (
        'INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_1" MASTER_PRIORITY 155',
        'INSTANCE "VI_2" DELETED 100')]
    assert seq == ['INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_1" MASTER_PRIORITY 155',
                   'INSTANCE "VI_2" DELETED 100'], dump_logs(a)


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_master_rx_lower_pri(lab: Lab, nodes: list[Node], impl: str) -> None:
    a = Node(lab["n1"], "", impl=impl)
    d = a.dir
    (d / "tf").write_text("5\n")
    (d / "notify.sh").write_text("#!/bin/sh\n")
    (d / "rx_lower.sh").write_text(f"#!/bin/sh\necho rx_lower \"$*\" >> {d}/rx_lower.out\n")
    for f in ("notify.sh", "rx_lower.sh"):
        (d / f).chmod(0o755)
    a.conf.write_text(n1_conf(d, False))
    nodes.append(a)
    fifo = FifoReader(d / "fifo")
    try:
        a.start()
        wait_for(lambda: 'INSTANCE "VI_1" MASTER 155' in fifo.lines, 15)
        # n2 never hears n1 (n1 advertises to an absent peer): it becomes master and n1 hears it
        b = Node(lab["n2"], n2_conf(str(lab["n1"].ipv4)), impl=impl).start()
        nodes.append(b)
        wait_for(lambda: 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 155' in fifo.lines, 15)
        wait_for(lambda: (d / "rx_lower.out").exists(), 5)
        assert (d / "rx_lower.out").read_text() == "rx_lower \n"
        text = f"(VI_1) Received advert from {lab['n2'].ipv4} with lower priority 100, ours 155, forcing new "
        assert text + "election" in a.logs()
    finally:
        fifo.close()
