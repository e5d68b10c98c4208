"""SIGHUP reload: unchanged instances are left alone, broken files are refused, new instances start."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pykeepalived.lab import Lab
from tests.daemon.node import Node, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP = "192.0.2.100"


def test_reload_unchanged_does_not_flap(lab: Lab, nodes: list[Node]) -> None:
    a = Node(lab["n1"], instance_conf(prio=150)).start()
    b = Node(lab["n2"], instance_conf(prio=100)).start()
    nodes += [a, b]
    wait_for(lambda: a.has(VIP), 15)
    time.sleep(1)
    before_a, before_b = a.logs().count("Entering"), b.logs().count("Entering")
    garps = a.logs().count("Sending gratuitous ARP")
    a.signal(signal.SIGHUP)
    b.signal(signal.SIGHUP)
    wait_for(lambda: "Reloading" in a.logs() and "Reloading" in b.logs(), 5)
    time.sleep(4.5)  # longer than b's master down interval: a must have kept advertising
    assert a.has(VIP) and not b.has(VIP)
    assert a.logs().count("Entering") == before_a
    assert b.logs().count("Entering") == before_b
    assert a.logs().count("Sending gratuitous ARP") == garps + 0 or "garp" not in a.logs()


def test_reload_with_broken_file_keeps_running(lab: Lab, nodes: list[Node]) -> None:
    a = Node(lab["n1"], instance_conf(prio=150)).start()
    nodes.append(a)
    wait_for(lambda: a.has(VIP), 15)
    good = a.conf.read_text()
    a.conf.write_text(good.replace("virtual_router_id 51", "virtual_router_id 999"))
    a.signal(signal.SIGHUP)
    wait_for(lambda: "keeping the running configuration" in a.logs(), 5)
    time.sleep(1)
    assert a.has(VIP)
    assert a.proc is not None and a.proc.poll() is None


def test_reload_adds_and_removes_instances(lab: Lab, nodes: list[Node]) -> None:
    a = Node(lab["n1"], instance_conf(prio=150)).start()
    nodes.append(a)
    wait_for(lambda: a.has(VIP), 15)
    second = instance_conf(name="VI_2", prio=150, vrid=52, vips=("192.0.2.101/24",))
    conf = a.conf.read_text()
    a.conf.write_text(conf + second[second.index("vrrp_instance"):])  # VI_2 without its global_defs
    a.signal(signal.SIGHUP)
    wait_for(lambda: a.has("192.0.2.101"), 8)
    assert a.has(VIP)
    assert a.logs().count("(VI_1) Entering MASTER STATE") == 1
    a.conf.write_text(conf)  # VI_2 removed again: it releases its address
    a.signal(signal.SIGHUP)
    wait_for(lambda: not a.has("192.0.2.101"), 5)
    assert a.has(VIP)
