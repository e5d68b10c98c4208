"""The daemon on real interfaces: two nodes in namespaces, election, takeover, graceful stop."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pykeepalived.lab import Lab
from tests.daemon.node import Node, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP = "192.0.2.100"


def start_pair(lab: Lab, nodes: list[Node], c1: str, c2: str) -> tuple[Node, Node]:
    a = Node(lab["n1"], c1).start()
    b = Node(lab["n2"], c2).start()
    nodes += [a, b]
    return a, b


def test_higher_priority_becomes_master_and_holds_vip(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    time.sleep(1.5)
    assert not b.has(VIP)
    assert "(VI_1) Entering BACKUP STATE (init)" in a.logs()
    assert "(VI_1) Entering MASTER STATE" in a.logs()
    assert "(VI_1) Entering MASTER STATE" not in b.logs()
    # the client reaches the VIP and learns the master's MAC
    lab["client"].run(["ping", "-c1", "-W2", VIP])


def test_hard_kill_backup_takes_over(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    time.sleep(1)
    a.kill()
    # master down interval for priority 100, v2 1 s: 3 + 156/256 s = 3.609375 s
    took = wait_for(lambda: b.has(VIP), 8)
    assert took > 2.5, took
    assert "(VI_1) Entering MASTER STATE" in b.logs()


def test_graceful_stop_sends_priority_zero_and_releases(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    time.sleep(1)
    t0 = time.monotonic()
    a.signal(signal.SIGTERM)
    wait_for(lambda: b.has(VIP), 3)
    took = time.monotonic() - t0
    # graceful takeover happens after the skew time (0.609 s), far below the master down interval
    assert took < 2.5, took
    assert a.proc is not None and a.proc.wait(10) == 0
    a.proc = None
    assert not a.has(VIP), "addresses left behind at stop"
    assert "Stopped" in a.logs()


def test_equal_priority_higher_address_wins(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=100), instance_conf(prio=100))
    # n2 has 192.0.2.2 > 192.0.2.1: it must end up master, n1 backup
    wait_for(lambda: b.has(VIP) and not a.has(VIP), 20)
    time.sleep(2.5)
    assert b.has(VIP) and not a.has(VIP)


def test_preemption_and_nopreempt(lab: Lab, nodes: list[Node]) -> None:
    a = Node(lab["n1"], instance_conf(prio=100)).start()
    nodes.append(a)
    wait_for(lambda: a.has(VIP), 15)
    b = Node(lab["n2"], instance_conf(prio=150, extra="    nopreempt")).start()
    nodes.append(b)
    time.sleep(6)
    assert a.has(VIP) and not b.has(VIP), "nopreempt backup took over"
    b.stop()
    nodes.remove(b)
    c = Node(lab["n2"], instance_conf(prio=150)).start()
    nodes.append(c)
    # preempting backup: discards the lower-priority adverts and takes over at its master down interval
    wait_for(lambda: c.has(VIP) and not a.has(VIP), 10)
    assert "received lower priority (100) advert from 192.0.2.1 - discarding" in c.logs()


def test_link_down_goes_fault_and_back(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    lab["n1"].ip("link", "set", "eth0", "down")
    wait_for(lambda: "(VI_1) Entering FAULT STATE" in a.logs(), 5)
    wait_for(lambda: b.has(VIP), 6)
    lab["n1"].ip("link", "set", "eth0", "up")
    wait_for(lambda: a.has(VIP) and not b.has(VIP), 12)


def test_vip_deleted_by_hand_is_put_back(lab: Lab, nodes: list[Node]) -> None:
    (a,) = [Node(lab["n1"], instance_conf(prio=150)).start()]
    nodes.append(a)
    wait_for(lambda: a.has(VIP), 15)
    lab["n1"].ip("addr", "del", f"{VIP}/24", "dev", "eth0")
    wait_for(lambda: a.has(VIP), 5)


def test_ipv6_instance(lab: Lab, nodes: list[Node]) -> None:
    v6 = "2001:db8::100"
    conf = lambda p: instance_conf(prio=p, vips=("fe80::100/64", f"{v6}/64"), vrid=52)  # noqa: E731
    a, b = start_pair(lab, nodes, conf(150), conf(100))
    wait_for(lambda: a.has(v6), 10)
    time.sleep(1.5)
    assert not b.has(v6)
    a.kill()
    wait_for(lambda: b.has(v6), 8)


def test_check_script_weight_moves_vip_and_notify_records(lab: Lab, nodes: list[Node], tmp_path) -> None:  # type: ignore[no-untyped-def]
    flag = tmp_path / "healthy"
    flag.write_text("1")
    rec = tmp_path / "notify.log"
    notify = tmp_path / "notify.sh"
    notify.write_text(f'#!/bin/sh\necho "$@" >> {rec}\n')
    notify.chmod(0o755)
    script = f"""vrrp_script chk {{
    script "/usr/bin/test -e {flag}"
    interval 0.2
    weight -60
}}
"""
    track = "    track_script {\n        chk\n    }\n" + f"    notify {notify}\n"
    a = Node(lab["n1"], script + instance_conf(prio=150, extra=track)).start()
    b = Node(lab["n2"], instance_conf(prio=100)).start()
    nodes += [a, b]
    wait_for(lambda: a.has(VIP), 15)
    flag.unlink()  # check fails: 150 - 60 = 90 < 100, the backup preempts
    wait_for(lambda: b.has(VIP) and not a.has(VIP), 8)
    assert "VRRP_Script(chk) failed (exited with status 1)" in a.logs()
    assert "(VI_1) Changing effective priority from 150 to 90" in a.logs()
    flag.write_text("1")
    wait_for(lambda: a.has(VIP) and not b.has(VIP), 8)
    wait_for(lambda: rec.exists() and rec.read_text().count("INSTANCE VI_1 MASTER 150") >= 2, 5)
    lines = rec.read_text().splitlines()
    assert lines[0] == "INSTANCE VI_1 BACKUP 150"
    assert "INSTANCE VI_1 BACKUP 90" in lines
