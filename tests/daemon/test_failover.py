"""The daemon on real interfaces: two nodes in namespaces, election, takeover, graceful stop."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for

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
    # (under load n2 may start first and be master for a moment before n1 preempts: both are fine)
    assert "(VI_1) Entering BACKUP STATE" in b.logs()
    # the client reaches the VIP and learns the master's MAC
    lab["client"].run(["ping", "-c1", "-W2", VIP])


def test_hard_kill_backup_takes_over(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    time.sleep(1)
    a.kill()
    # master down interval for priority 100, v2 1 s: 3 + 156/256 s = 3.609375 s
    took = wait_for(lambda: b.has(VIP), 15)
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


def test_equal_priority_backup_never_preempts_and_masters_tie_break_by_address(
    lab: Lab, nodes: list[Node]
) -> None:
    a = Node(lab["n1"], instance_conf(prio=100)).start()
    nodes.append(a)
    wait_for(lambda: a.has(VIP), 15)
    # an equal-priority backup joining never preempts the running master, whatever the addresses
    b = Node(lab["n2"], instance_conf(prio=100)).start()
    nodes.append(b)
    time.sleep(6)
    assert a.has(VIP) and not b.has(VIP), dump_logs(a, b)
    # split brain: with adverts dropped both ways both are masters; once healed the higher address wins
    for h in (lab["n1"], lab["n2"]):
        h.run(["nft", "add table inet splitbrain; add chain inet splitbrain in "
               "{ type filter hook input priority 0; }; add rule inet splitbrain in ip protocol vrrp drop"])
    wait_for(lambda: b.has(VIP), 15)
    for h in (lab["n1"], lab["n2"]):
        h.run(["nft", "delete table inet splitbrain"])
    try:
        wait_for(lambda: b.has(VIP) and not a.has(VIP), 15)
    except AssertionError as exc:
        raise AssertionError(dump_logs(a, b)) from exc
    assert "with same priority 100 but higher IP address than ours" in a.logs()


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
    wait_for(lambda: c.has(VIP) and not a.has(VIP), 20)
    assert "received lower priority (100) advert from 192.0.2.1 - discarding" in c.logs()


def test_link_down_goes_fault_and_back(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    lab["n1"].ip("link", "set", "eth0", "down")
    wait_for(lambda: "(VI_1) Entering FAULT STATE" in a.logs(), 5)
    wait_for(lambda: b.has(VIP), 15)
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
    wait_for(lambda: a.has(v6), 15)
    time.sleep(1.5)
    assert not b.has(v6)
    a.kill()
    wait_for(lambda: b.has(v6), 15)


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
    wait_for(lambda: b.has(VIP) and not a.has(VIP), 15)
    assert "VRRP_Script(chk) failed (exited with status 1)" in a.logs()
    assert "(VI_1) Changing effective priority from 150 to 90" in a.logs()
    flag.write_text("1")
    wait_for(lambda: a.has(VIP) and not b.has(VIP), 15)
    wait_for(lambda: rec.exists() and rec.read_text().count("INSTANCE VI_1 MASTER 150") >= 2, 5)
    lines = rec.read_text().splitlines()
    assert lines[0] == "INSTANCE VI_1 BACKUP 150"
    assert "INSTANCE VI_1 BACKUP 90" in lines


def test_virtual_and_static_routes_rules_follow_mastership(lab: Lab, nodes: list[Node]) -> None:
    static = """static_ipaddress {
    203.0.113.1/32 dev eth0
}
static_routes {
    203.0.113.128/25 dev eth0 table 101
}
"""
    extra = """    virtual_routes {
        198.51.100.0/24 via 192.0.2.254 dev eth0
    }
    virtual_rules {
        from 192.0.2.100 table 100 priority 100
    }"""
    a = Node(lab["n1"], static + instance_conf(prio=150, extra=extra)).start()
    nodes.append(a)
    wait_for(lambda: a.has("203.0.113.1"), 15)
    assert "203.0.113.128/25" in lab["n1"].run(["ip", "route", "show", "table", "101"])
    wait_for(lambda: a.has(VIP), 15)
    wait_for(lambda: "198.51.100.0/24 via 192.0.2.254" in lab["n1"].run(["ip", "route"]), 5)
    assert "from 192.0.2.100 lookup 100" in lab["n1"].run(["ip", "rule"])
    assert a.stop() == 0
    nodes.remove(a)
    # everything the daemon added is gone after it stops
    assert "198.51.100.0/24" not in lab["n1"].run(["ip", "route"])
    assert "192.0.2.100" not in lab["n1"].run(["ip", "rule"])
    assert not a.has("203.0.113.1") and not a.has(VIP)
    assert "203.0.113.128" not in lab["n1"].run(["ip", "route", "show", "table", "101"], check=False)


def test_use_vmac(lab: Lab, nodes: list[Node]) -> None:
    lab["client"].sysctl("net.ipv4.conf.all.arp_accept", 1)  # let gratuitous ARP create entries
    lab["client"].sysctl("net.ipv4.conf.eth0.arp_accept", 1)
    a = Node(lab["n1"], instance_conf(prio=150, extra="    use_vmac")).start()
    nodes.append(a)
    wait_for(lambda: a.has(VIP, dev="vrrp.51"), 15)
    link = lab["n1"].run(["ip", "-d", "link", "show", "vrrp.51"])
    assert "00:00:5e:00:01:33" in link and "macvlan mode private" in link
    assert lab["n1"].sysctl("net.ipv4.conf.eth0.arp_ignore") == "1"
    # the gratuitous ARPs announce the virtual MAC for the VIP
    wait_for(lambda: "00:00:5e:00:01:33" in lab["client"].run(["ip", "neigh", "show", VIP]), 5)
    lab["client"].run(["ping", "-c1", "-W2", VIP])
    assert a.stop() == 0
    nodes.remove(a)
    assert "vrrp.51" not in lab["n1"].run(["ip", "link"]), "VMAC left behind"
    assert lab["n1"].sysctl("net.ipv4.conf.eth0.arp_ignore") == "0", "sysctl not restored"


def test_vrrp_child_killed_is_respawned_and_converges(lab: Lab, nodes: list[Node]) -> None:
    a, b = start_pair(lab, nodes, instance_conf(prio=150), instance_conf(prio=100))
    wait_for(lambda: a.has(VIP), 15)
    old = a.vrrp_pid()
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: a.vrrp_pid() not in (None, old), 3)
    assert f"VRRP child process({old}) died: Respawning" in a.logs()
    # the new child drops the stale VIP and starts as BACKUP; the backup may hold the VIP meanwhile,
    # then n1 (priority 150) becomes master again
    wait_for(lambda: a.logs().count("(VI_1) Entering MASTER STATE") == 2, 20)
    wait_for(lambda: a.has(VIP) and not b.has(VIP), 15)
    time.sleep(1.5)
    assert a.has(VIP) and not b.has(VIP), dump_logs(a, b)


def test_respawned_child_removes_what_the_killed_one_left_before_its_backup_line(
        lab: Lab, nodes: list[Node]) -> None:
    """A VRRP child killed as master leaves its VIPs; the new child removes them (keepalived
    vrrp_restore_interfaces_startup) before it logs its instances' BACKUP lines, and becomes master
    again only after the master down interval (advert_int 3: ~9 s)."""
    vips = tuple(f"192.0.2.{k}/32" for k in range(100, 140))
    a = Node(lab["n1"], instance_conf(prio=150, advert="3", vips=vips)).start()
    nodes.append(a)
    wait_for(lambda: all(a.has(v.split("/")[0]) for v in vips), 20)
    old = a.vrrp_pid()
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: a.logs().count("(VI_1) Entering BACKUP STATE") == 2, 10)
    if a.logs().count("(VI_1) Entering MASTER STATE") == 1:  # still in the master down interval
        assert not a.addresses() & {v.split("/")[0] for v in vips}, dump_logs(a)
    wait_for(lambda: a.logs().count("(VI_1) Entering MASTER STATE") == 2, 20)


def test_unicast_peers(lab: Lab, nodes: list[Node]) -> None:
    def conf(prio: int, me: str, peer: str) -> str:
        extra = f"    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}"
        return instance_conf(prio=prio, extra=extra)

    a, b = start_pair(lab, nodes, conf(150, "192.0.2.1", "192.0.2.2"), conf(100, "192.0.2.2", "192.0.2.1"))
    wait_for(lambda: a.has(VIP), 15)
    time.sleep(2)
    assert not b.has(VIP)
    # no multicast adverts at all: only unicast between the peers
    tcpdump = ["timeout", "2.5", "tcpdump", "-c", "1", "-ni", "eth0", "ip proto 112"]
    out = lab["client"].run(tcpdump, check=False)
    assert "224.0.0.18" not in out
    a.kill()
    wait_for(lambda: b.has(VIP), 15)
