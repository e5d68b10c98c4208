"""notify_priority_changes / vrrp_notify_priority_changes: the FIFO lines on effective priority
changes, against keepalived 2.2.7 (each daemon alone on its own LAN, so both are MASTER; the
instance's own setting beats its sync group's, which beats the global one)."""

from __future__ import annotations

import signal
import time

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for

pytestmark = pytest.mark.netns

CONF = """global_defs {
    router_id prio
    notify_fifo DIR/fifo
    notify_fifo_script DIR/reader.sh
    vrrp_notify_priority_changes
    script_user root
}
vrrp_track_file tf {
    file DIR/tf
    weight 10
}
vrrp_sync_group G1 {
    group {
        VI_2
    }
    notify_priority_changes false
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    track_file {
        tf
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    track_file {
        tf
    }
    virtual_ipaddress {
        192.0.2.102/24
    }
}
vrrp_instance VI_3 {
    state BACKUP
    interface eth0
    virtual_router_id 53
    priority 100
    advert_int 1
    notify_priority_changes no
    track_file {
        tf
    }
    virtual_ipaddress {
        192.0.2.103/24
    }
}
"""

READER = """#!/bin/sh
cat "$1" >> "$(dirname "$1")/lines"
"""


def priority_lines(n: Node) -> list[str]:
    path = n.dir / "lines"
    text = path.read_text() if path.exists() else ""
    return [line for line in text.splitlines() if "PRIORITY" in line]


def test_priority_change_fifo_lines_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, *pair = oracle_lab
    nodes = [Node(h, "", impl=impl) for h, impl in zip(pair, ("ka", "py"), strict=True)]
    try:
        for n in nodes:
            n.conf.write_text(CONF.replace("DIR", str(n.dir)))
            (n.dir / "reader.sh").write_text(READER)
            (n.dir / "reader.sh").chmod(0o755)
            (n.dir / "tf").write_text("0\n")
            n.start()
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.103"), 20)
        for value, want in (("3", 130), ("-2", 80)):
            for n in nodes:
                (n.dir / "tf").write_text(f"{value}\n")
            for n in nodes:
                wait_for(lambda n=n, w=want: f'INSTANCE "VI_1" MASTER_PRIORITY {w}' in priority_lines(n), 10)
        time.sleep(0.3)  # a line for VI_2/VI_3 would have arrived with VI_1's
        ka, py = (priority_lines(n) for n in nodes)
        assert ka == ['INSTANCE "VI_1" MASTER_PRIORITY 130', 'INSTANCE "VI_1" MASTER_PRIORITY 80']
        assert py == ka
        for n in nodes:
            n.signal(signal.SIGTERM)
            n.stop()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
    finally:
        for n in nodes:
            n.kill()
