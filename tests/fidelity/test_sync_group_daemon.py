"""Sync groups in the daemon: one member's tracked script fails, the whole group moves to the peer.

The same assertions run against keepalived 2.2.7 (impl "ka") and pykeepalived (impl "py"), so the
expected notify order below is keepalived's own.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP1, VIP2 = "192.0.2.101", "192.0.2.102"


def conf(prio: int, d: Path) -> str:
    return f"""global_defs {{
    router_id sg_{prio}
    vrrp_notify_fifo {d}/fifo
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
    notify "{d}/notify.sh"
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority {prio}
    advert_int 1
    track_script {{
        chk
    }}
    notify "{d}/notify.sh"
    virtual_ipaddress {{
        {VIP1}/24
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 62
    priority {prio}
    advert_int 1
    notify "{d}/notify.sh"
    virtual_ipaddress {{
        {VIP2}/24
    }}
}}
"""


def make_node(lab: Lab, host: str, prio: int, impl: str) -> Node:
    n = Node(lab[host], "", impl=impl)
    (n.dir / "chk.sh").write_text(f"#!/bin/sh\ntest -e {n.dir}/healthy\n")
    (n.dir / "notify.sh").write_text(f"#!/bin/sh\necho \"$*\" >> {n.dir}/notify.out\n")
    for f in ("chk.sh", "notify.sh"):
        (n.dir / f).chmod(0o755)
    (n.dir / "healthy").touch()
    n.conf.write_text(conf(prio, n.dir))
    return n


class FifoReader:
    """Reads the daemon's notify FIFO (the real one it created) from a thread, line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self.path.exists() and not self._stop:
            time.sleep(0.02)
        if self._stop:
            return
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        buf = b""
        try:
            while not self._stop:
                try:
                    chunk = os.read(fd, 4096)
                except BlockingIOError:
                    chunk = b""
                if not chunk:
                    # keepalived closes (and re-creates) its FIFO on reload: follow the new one
                    try:
                        moved = os.stat(self.path).st_ino != os.fstat(fd).st_ino
                    except FileNotFoundError:
                        moved = False
                    if moved:
                        os.close(fd)
                        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                    time.sleep(0.02)
                    continue
                buf += chunk
                *done, buf = buf.split(b"\n")
                self.lines += [d.decode() for d in done]
        finally:
            os.close(fd)

    def close(self) -> None:
        self._stop = True
        self._t.join(2)


def notified(n: Node) -> list[str]:
    try:
        return (n.dir / "notify.out").read_text().splitlines()
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_member_script_failure_moves_the_whole_group(lab: Lab, nodes: list[Node], impl: str) -> None:
    a = make_node(lab, "n1", 150, impl)
    b = make_node(lab, "n2", 100, impl)
    nodes += [a, b]
    fa, fb = FifoReader(a.dir / "fifo"), FifoReader(b.dir / "fifo")
    try:
        b.start()
        wait_for(lambda: b.has(VIP1) and b.has(VIP2), 20)
        a.start()
        wait_for(lambda: a.has(VIP1) and a.has(VIP2) and not b.has(VIP1) and not b.has(VIP2), 20)
        (a.dir / "healthy").unlink()  # VI_1's script fails on n1: G1 goes FAULT there, both VIPs move
        wait_for(lambda: b.has(VIP1) and b.has(VIP2), 10)
        assert not a.has(VIP1) and not a.has(VIP2), dump_logs(a, b)
        wait_for(lambda: len(fa.lines) >= 9 and len(fb.lines) >= 12, 5)
        time.sleep(0.5)
    finally:
        fa.close()
        fb.close()
    i = 'INSTANCE "VI_{}" {} {}'.format
    g = 'GROUP "G1" {} 0'.format
    up = [i(1, "BACKUP", "{p}"), i(2, "BACKUP", "{p}"), g("BACKUP"),
          i(2, "MASTER", "{p}"), i(1, "MASTER", "{p}"), g("MASTER")]
    assert fa.lines == [x.format(p=150) for x in up] + [
        i(1, "FAULT", 150), i(2, "FAULT", 150), g("FAULT")], dump_logs(a, b)
    assert fb.lines == [x.format(p=100) for x in up] + [
        i(2, "BACKUP", 100), i(1, "BACKUP", 100), g("BACKUP"),
        i(2, "MASTER", 100), i(1, "MASTER", 100), g("MASTER")], dump_logs(a, b)
    # the generic notify scripts got the same events (they run concurrently: order not guaranteed)
    for n, fifo in ((a, fa), (b, fb)):
        wait_for(lambda n=n, fifo=fifo: len(notified(n)) == len(fifo.lines), 5)
        assert sorted(notified(n)) == sorted(line.replace('"', "") for line in fifo.lines)
    assert "VRRP_Group(G1) Syncing instances to FAULT state" in a.logs()
