"""SNMP beside keepalived 2.2.7: one configuration, keepalived against one private snmpd and
pykeepalived against another (each in its own namespace, prefix p16); snmpwalk and snmpbulkwalk
of KEEPALIVED-MIB (global, vrrp), VRRP-MIB and VRRPV3-MIB give the same OIDs and values, and the
traps snmptrapd receives from start to stop are the same.

Masks (each value that cannot be equal between two runs):
- the interfaces' MAC addresses (vrrpOperVirtualMacAddr, vrrpv3OperationsVirtualMacAddr): each
  namespace's eth0 has its own random MAC; replaced by `<mac>` when it is the host's eth0 MAC;
- eth0's IPv6 link-local address (vrrpv3OperationsMasterIpAddr/PrimaryIpAddr and the IPv6
  vrrpv3NewMaster trap): derived from that MAC; replaced by `<link-local>`;
- vrrpOperVirtualRouterUpTime and vrrpv3OperationsUpTime: times (centiseconds since start);
- sysUpTime.0 in traps: snmpd's uptime.

Beyond the walks of one configuration: crafted adverts (rejected ones and a lower-priority one),
the tracker tables, routes and rules, an snmpd restart, a sync group with an IPv6 instance.
The process tables use a process that does not exist: keepalived 2.2.7 cannot use the proc
connector inside a network namespace ("Failed to set/clear process event listen") and counts none.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import signal
from collections.abc import Callable, Iterator

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, discard, dump_logs, log_lines, wait_for
from pykeepalived.lab.snmpd import PrivateSnmpd

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/snmpd"),
                                reason="Debian's snmpd is not installed")

SUBTREES = (".1.3.6.1.4.1.9586.100.5.1", ".1.3.6.1.4.1.9586.100.5.2", ".1.3.6.1.2.1.68", ".1.3.6.1.2.1.207")
UPTIMES = (".1.3.6.1.2.1.68.1.3.1.13.", ".1.3.6.1.2.1.207.1.1.1.1.12.")


def conf(socket: str) -> str:
    return f"""global_defs {{
    router_id snmp_node
    enable_snmp_vrrp
    enable_snmp_rfcv2
    enable_snmp_rfcv3
    enable_traps
    snmp_socket unix:{socket}
    notification_email {{
        root@example.org
        ops@example.org
    }}
    notification_email_from keepalived@example.org
    lvs_flush
    lvs_flush_on_stop VS
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    notify_master "/bin/true master"
    virtual_ipaddress {{
        192.0.2.100/24
        192.0.2.101/24 dev eth0 label eth0:vip
    }}
    virtual_ipaddress_excluded {{
        198.51.100.7/32
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    version 3
    advert_int 0.5
    nopreempt
    virtual_ipaddress {{
        192.0.2.102/24
    }}
}}
"""


@pytest.fixture
def sides() -> Iterator[list[tuple[Host, PrivateSnmpd]]]:
    with Lab(prefix=f"p16{os.getpid() % 100000}-") as lab:
        out = []
        for name in ("ka", "py"):
            lan = lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64")
            h = lab.add_host(name, [lan])
            out.append((h, PrivateSnmpd(h)))
        try:
            for _, s in out:
                s.start()
            yield out
        finally:
            for _, s in out:
                s.close()


def _mac(host: Host) -> str:
    mac = host.run(["cat", "/sys/class/net/eth0/address"]).strip()
    return " ".join(b.upper() for b in mac.split(":")) + " "


@contextlib.contextmanager
def running(configs: list[tuple[Host, str]]) -> Iterator[list[Node]]:
    """keepalived then pykeepalived, each with its configuration on its host, started; an assertion
    failure carries both logs; both are killed at the end."""
    nodes = [Node(h, c, impl=impl) for (h, c), impl in zip(configs, ("ka", "py"), strict=True)]
    try:
        for n in nodes:
            n.start()
        yield nodes
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
    finally:
        discard(*nodes)


def stop_and_compare_traps(nodes: list[Node], snmpds: list[PrivateSnmpd], count: int) -> None:
    """Stop both daemons (exit 0) and compare every trap received, once `count` have arrived."""
    for n in nodes:
        assert n.stop() == 0
    wait_for(lambda: all(len(s.traps()) >= count for s in snmpds), 10)
    traps = [masked(s.traps(), n.host) for s, n in zip(snmpds, nodes, strict=True)]
    assert traps[1] == traps[0]


def walked_equal(sides: list[tuple[Host, PrivateSnmpd]], oid: str) -> list[str]:
    """snmpwalk and snmpbulkwalk of `oid` give the same masked lines on both sides: those lines."""
    walks = [masked(s.walk(oid), h) for h, s in sides]
    assert walks[1] == walks[0], diff(walks[0], walks[1])
    bulk = [masked(s.walk(oid, bulk=True), h) for h, s in sides]
    assert bulk[1] == bulk[0] == walks[0]
    return walks[0]


def diff(ka: list[str], py: list[str]) -> str:
    return "\n".join(difflib.unified_diff(ka, py, "keepalived", "pykeepalived", lineterm="", n=0))


def _link_local(host: Host) -> str:
    """eth0's EUI-64 IPv6 link-local address (from its MAC) as snmpwalk prints it in hex: each
    namespace has its own."""
    mac = bytearray.fromhex(host.run(["cat", "/sys/class/net/eth0/address"]).strip().replace(":", ""))
    mac[0] ^= 0x02
    packed = bytes.fromhex("fe80000000000000") + bytes(mac[:3]) + b"\xff\xfe" + bytes(mac[3:])
    return " ".join(f"{b:02X}" for b in packed) + " "


def masked(lines: list[str], host: Host) -> list[str]:
    mac, ll = _mac(host), _link_local(host)
    out = []
    for line in lines:
        if line.startswith(UPTIMES):
            line = re.sub(r"Timeticks: .*", "Timeticks: <uptime>", line)
        line = line.replace(mac, "<mac>")
        out.append(line.replace(ll, "<link-local>"))
    return out


def test_walks_and_traps_match_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    with running([(h, conf(str(s.socket))) for h, s in sides]) as nodes:
        for n in nodes:  # both instances MASTER (VI_2 alone on its LAN takes over after its down timer)
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102"), 30)
        wait_for(lambda: all(len(s.traps()) >= 5 for _, s in sides), 10)
        for oid in SUBTREES:
            walks = [masked(s.walk(oid), h) for h, s in sides]
            assert walks[0], f"keepalived served nothing under {oid}"
            assert walks[1] == walks[0], oid
            bulk = [masked(s.walk(oid, bulk=True), h) for h, s in sides]
            assert bulk[1] == bulk[0] == walks[0], oid
        stop_and_compare_traps(nodes, [s for _, s in sides], 7)
        # with -D, each instance's "Sending SNMP notification" lines come where keepalived logs them:
        # after its addresses are set (vrrp_state_become_master, then send_instance_notifies), after
        # they are removed at stop (the GARP lines are left out: a delayed round may or may not
        # have come before the stop)
        for name in ("VI_1", "VI_2"):
            lines = [log_lines(n, re.compile(rf"\({name}\) (Entering|setting|removing|sent 0|Sending SNMP)"))
                     for n in nodes]
            assert lines[1] == lines[0], diff(lines[0], lines[1])
            assert f"({name}) Sending SNMP notification" in lines[0]


def rx_conf(socket: str) -> str:
    return f"""global_defs {{
    router_id snmp_node
    enable_snmp_rfcv2
    enable_snmp_rfcv3
    enable_traps
    snmp_socket unix:{socket}
}}
vrrp_instance VI_P {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority 100
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        192.0.2.110/24
    }}
}}
vrrp_instance VI_3 {{
    state BACKUP
    interface eth0
    virtual_router_id 62
    priority 100
    version 3
    advert_int 1
    virtual_ipaddress {{
        192.0.2.111/24
    }}
}}
"""


INJECT = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for line in open(sys.argv[1]).read().split():
    s.sendto(bytes.fromhex(line), ("224.0.0.18", 0))
    time.sleep(0.1)
"""


def bad_adverts(src: str) -> list[bytes]:
    """The adverts the injector sends, in order: each is rejected for a reason keepalived traps
    (vrrpTrapAuthFailure: wrong password, wrong auth type; vrrpv3ProtoError: TTL, version,
    checksum), then a valid lower-priority VRRPv3 advert, which makes VI_3's take-over 'preempted'."""
    from ipaddress import IPv4Address

    from pykeepalived.vrrp.params import ChecksumMode
    from tests.vrrp.vrrp_pkt import Pkt

    s = IPv4Address(src)
    p = Pkt(vrid=61, priority=50, auth_type=1, auth_data=b"wrong", addresses=(IPv4Address("192.0.2.110"),),
            src=s)
    v3 = Pkt(version=3, vrid=62, priority=50, adver_int=100, addresses=(IPv4Address("192.0.2.111"),), src=s,
             checksum_mode=ChecksumMode.PSEUDO_HEADER)
    return [p.datagram(), p.replace(auth_type=0, auth_data=b"").datagram(),
            v3.replace(ttl=64).datagram(), v3.replace(version=2, adver_int=1).datagram(),
            v3.replace(csum_xor=0x10).datagram(), v3.datagram()]


@pytest.fixture
def rx_sides() -> Iterator[list[tuple[Host, Host, PrivateSnmpd]]]:
    with Lab(prefix=f"p16b{os.getpid() % 100000}-") as lab:
        out = []
        for name in ("ka", "py"):
            lan = lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64")
            h = lab.add_host(name, [lan])
            inj = lab.add_host(f"x{name}", [lan])
            inj.run(["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"])
            out.append((h, inj, PrivateSnmpd(h)))
        try:
            for _, _, s in out:
                s.start()
            yield out
        finally:
            for _, _, s in out:
                s.close()


def test_rejected_adverts_and_preemption_match_keepalived(
        rx_sides: list[tuple[Host, Host, PrivateSnmpd]]) -> None:
    """vrrpTrapAuthFailure and vrrpv3ProtoError for rejected adverts, the RFC 2787/6527 checksum,
    version and TTL counters, the protocol-error reason and the new-master reason (2, preempted,
    after a lower-priority advert; 3 without adverts) as keepalived 2.2.7 serves and sends them;
    keepalived.stats agrees with the walk."""
    with running([(h, rx_conf(str(s.socket))) for h, _, s in rx_sides]) as nodes:
        for (_, inj, _), n in zip(rx_sides, nodes, strict=True):
            wait_for(lambda n=n: n.logs().count("Entering BACKUP STATE") >= 2, 20)
            data = n.dir / "inject.hex"
            data.write_text("\n".join(d.hex() for d in bad_adverts(str(inj.ipv4))))
            script = n.dir / "inject.py"
            script.write_text(INJECT)
            inj.run(["python3", str(script), str(data)])
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.110") and n.has("192.0.2.111"), 30)
        wait_for(lambda: all(len(s.traps()) >= 8 for _, _, s in rx_sides), 10)
        for oid in (".1.3.6.1.2.1.68", ".1.3.6.1.2.1.207"):
            walks = [masked(s.walk(oid), h) for h, _, s in rx_sides]
            assert walks[1] == walks[0], oid
        rfc3 = "\n".join(walks[0])
        for cell in ("1.3.6.1.2.1.207.1.2.1.0 = Counter64: 1",  # checksum errors
                     "1.3.6.1.2.1.207.1.2.2.0 = Counter64: 1",  # version errors
                     "1.3.6.1.2.1.207.1.1.2.5.1.2.2.62.1 = INTEGER: 2",  # VI_3 new master: preempted
                     "1.3.6.1.2.1.207.1.1.2.5.1.6.2.62.1 = INTEGER: 3"):  # VI_3 last error: checksum
            assert cell.replace(".1.1.2.5", ".1.2.5") in rfc3, cell
        traps = [sorted(s.traps()) for _, _, s in rx_sides]
        assert traps[1] == traps[0]
        assert sum(".1.3.6.1.2.1.68.0.2" in t for t in traps[0]) == 2, traps[0]
        assert sum(".1.3.6.1.2.1.207.0.2" in t for t in traps[0]) == 3, traps[0]
        stats = [n.stats() for n in nodes]
        for inst in ("VI_P", "VI_3"):  # advert_sent: how long each has been MASTER
            assert ({k: v for k, v in stats[1][inst].items() if k != "advert_sent"}
                    == {k: v for k, v in stats[0][inst].items() if k != "advert_sent"}), inst
        assert stats[0]["VI_P"]["auth_failure"] == 1 and stats[0]["VI_3"]["ip_ttl_err"] == 1, stats


def tables_conf(socket: str, trackfile: str) -> str:
    return f"""global_defs {{
    router_id snmp_node
    enable_snmp_vrrp
    snmp_socket unix:{socket}
}}
static_ipaddress {{
    203.0.113.9/24 dev eth0 label eth0:st
    198.51.100.9/32 dev eth0 scope host
}}
vrrp_script chk_true {{
    script "/bin/true"
    interval 1
    weight 10
    rise 2
    fall 3
}}
vrrp_script chk_false {{
    script "/bin/false"
    interval 2
    weight -20 reverse
}}
vrrp_track_file tfile {{
    file {trackfile}
    weight 5
}}
vrrp_track_process tproc {{
    process pyka-no-such-process -f
    param_match initial
    quorum 1
    weight 7 reverse
    fork_delay 0.5
    terminate_delay 1.5
}}
bfd_instance nbr {{
    neighbor_ip 192.0.2.77
    weight 11 reverse
    weight 12
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    track_interface {{
        eth0 weight 5
        lo
    }}
    track_script {{
        chk_true
        chk_false weight 3
    }}
    track_file {{
        tfile weight 2 reverse
    }}
    track_process {{
        tproc
    }}
    track_bfd {{
        nbr weight 4
    }}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    track_script {{
        chk_false
    }}
    virtual_ipaddress {{
        192.0.2.102/24
    }}
}}
"""


def test_tracker_tables_match_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """KEEPALIVED-MIB vrrp's static address rows (index 0), tracked interface/script/file/BFD/process
    tables and the script, file, BFD and process tables, walked beside keepalived 2.2.7."""
    f = sides[0][1].dir / "track.file"  # one file for both (its path is served)
    f.write_text("3\n")
    with running([(h, tables_conf(str(s.socket), str(f))) for h, s in sides]) as nodes:
        for n in nodes:
            wait_for(lambda n=n: all(n.has(a) for a in ("192.0.2.100", "192.0.2.102", "203.0.113.9")), 30)
        oid = ".1.3.6.1.4.1.9586.100.5.2"
        # the scripts' results settle after their rise/fall runs
        wait_for(lambda: all(".1.3.6.1.4.1.9586.100.5.2.9.1.6.1 = INTEGER: 3" in s.walk(oid + ".9")
                             for _, s in sides), 20, step=0.5)
        text = "\n".join(walked_equal(sides, oid))
        for table in (4, 5, 6, 9, 12, 13, 17, 18, 20, 21):
            assert f"{oid}.{table}.1." in text, table
        assert f"{oid}.6.1.3.0.1 = " in text  # the static address row


def routes_conf(socket: str) -> str:
    return f"""global_defs {{
    router_id snmp_node
    enable_snmp_vrrp
    snmp_socket unix:{socket}
}}
static_routes {{
    203.0.113.0/26 via 192.0.2.254 dev eth0 metric 20 mtu lock 1400
    198.51.100.128/25 dev eth0 scope link table 100 rtt 30 advmss 1300
    blackhole 203.0.113.192/26
}}
static_rules {{
    from 203.0.113.0/24 table 100 priority 200
    to 198.51.100.0/24 fwmark 7/0xff lookup 101 priority 201
    from 192.0.2.0/24 to 203.0.113.64/26 prohibit priority 202
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        192.0.2.100/24
    }}
    virtual_routes {{
        203.0.113.128/26 via 192.0.2.253 dev eth0 protocol static src 192.0.2.100
        198.51.100.64/26 nexthop via 192.0.2.251 dev eth0 weight 2 nexthop via 192.0.2.252 dev eth0
        2001:db8:99::/48 via 2001:db8::fe dev eth0 hoplimit 9
    }}
    virtual_rules {{
        from 192.0.2.100 table 102 priority 300
        iif eth0 goto 301 priority 302
        from 2001:db8::/64 table 103 priority 303
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    virtual_ipaddress {{
        192.0.2.102/24
    }}
    virtual_routes {{
        198.51.100.0/28 via 192.0.2.250
    }}
}}
"""


def test_route_and_rule_tables_match_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """vrrpRouteTable, vrrpRouteNextHopTable and vrrpRuleTable (static as instance 0, then each
    instance's virtual ones; set while the instance is MASTER), walked beside keepalived 2.2.7."""
    with running([(h, routes_conf(str(s.socket))) for h, s in sides]) as nodes:
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102"), 30)
        oid = ".1.3.6.1.4.1.9586.100.5.2"
        text = "\n".join(walked_equal(sides, oid))
        for table in (7, 8, 11):
            assert f"{oid}.{table}.1." in text, table


def test_reregisters_after_snmpd_restart_as_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """snmpd stopped and started again: both daemons log net-snmp's 'AgentX master disconnected us,
    reconnecting in 15', connect again (net-snmp retries after 15 s; so does the subagent), serve
    the same walk as before, and the traps raised afterwards (at stop) reach snmptrapd."""
    with running([(h, conf(str(s.socket))) for h, s in sides]) as nodes:
        oid = ".1.3.6.1.4.1.9586.100.5.2"
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102"), 30)
        wait_for(lambda: all(len(s.traps()) >= 5 for _, s in sides), 10)
        before = [masked(s.walk(oid), h) for h, s in sides]
        assert before[1] == before[0], diff(before[0], before[1])
        for _, s in sides:
            s.stop_snmpd()
            s.socket.unlink(missing_ok=True)
        for _, s in sides:
            s.start_snmpd()
        for n in nodes:
            wait_for(lambda n=n: n.logs().count("AgentX subagent connected") == 2, 40, step=0.5)
        after = [masked(s.walk(oid), h) for h, s in sides]
        assert after == before
        lines = [log_lines(n, re.compile(r"AgentX|SNMP subagent")) for n in nodes]
        assert lines[1] == lines[0] == [
            "Starting SNMP subagent", "NET-SNMP version 5.9.3 AgentX subagent connected",
            "AgentX master disconnected us, reconnecting in 15",
            "NET-SNMP version 5.9.3 AgentX subagent connected"], lines
        stop_and_compare_traps(nodes, [s for _, s in sides], 7)


def sync_conf(socket: str) -> str:
    return f"""global_defs {{
    router_id snmp_node
    enable_snmp_vrrp
    enable_snmp_rfcv2
    enable_snmp_rfcv3
    enable_traps
    snmp_socket unix:{socket}
}}
vrrp_sync_group SG_1 {{
    group {{
        VI_4
        VI_6
    }}
    notify_master "/bin/true sg master"
    global_tracking
}}
vrrp_instance VI_4 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority 100
    advert_int 1
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 62
    priority 100
    version 3
    advert_int 1
    virtual_ipaddress {{
        fe80::62/64
        2001:db8::62/64
    }}
}}
"""


def test_sync_group_and_ipv6_instance_match_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """A sync group of an IPv4 VRRPv2 and an IPv6 VRRPv3 instance: the four subtrees walked and the
    traps from start to stop (vrrpSyncGroupStateChange, the instances' traps, vrrpv3NewMaster with an
    IPv6 master address) as keepalived 2.2.7 serves and sends them."""
    with running([(h, sync_conf(str(s.socket))) for h, s in sides]) as nodes:
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("2001:db8::62"), 30)
        wait_for(lambda: all(len(s.traps()) >= 6 for _, s in sides), 10)
        for oid in SUBTREES:
            text = "\n".join(walked_equal(sides, oid))
            if oid.endswith("207"):
                assert ".1.3.6.1.2.1.207.1.1.1.1.6.2.62.2 = INTEGER: 3" in text  # IPv6, master
        assert any(".1.3.6.1.4.1.9586.100.5.2.10.0.1" in t for t in sides[0][1].traps())
        stop_and_compare_traps(nodes, [s for _, s in sides], 10)


def started_then_reloaded(nodes: list[Node], sides: list[tuple[Host, PrivateSnmpd]],
                          new_conf: Callable[[str], str]) -> None:
    """Both daemons hold VI_1's and VI_2's VIPs and their 5 start-up traps have arrived; then each
    reloads (SIGHUP) `new_conf(its snmpd's socket)`."""
    for n in nodes:
        wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102"), 30)
    wait_for(lambda: all(len(s.traps()) >= 5 for _, s in sides), 10)
    for n, (_, s) in zip(nodes, sides, strict=True):
        n.conf.write_text(new_conf(str(s.socket)))
        n.signal(signal.SIGHUP)


def test_reload_serves_the_new_configuration_as_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """SIGHUP with a changed file (router_id, e-mail addresses, a static address, a new instance,
    traps off): the same subagent serves the new values and sends no trap for the new instance,
    as keepalived 2.2.7 does (before, the global and static objects kept the start's values)."""
    def new_conf(socket: str) -> str:
        text = conf(socket).replace("router_id snmp_node", "router_id snmp_reloaded")
        text = text.replace("        ops@example.org\n", "").replace("    enable_traps\n", "")
        return text + STATIC + NEW_INSTANCE

    with running([(h, conf(str(s.socket))) for h, s in sides]) as nodes:
        started_then_reloaded(nodes, sides, new_conf)
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.103") and n.has("203.0.113.77"), 30)
        for oid in SUBTREES:
            text = "\n".join(walked_equal(sides, oid))
            if oid == SUBTREES[0]:
                assert '= STRING: "snmp_reloaded"' in text
        stop_and_compare_traps(nodes, [s for _, s in sides], 5)


STATIC = """static_ipaddress {
    203.0.113.77/32 dev eth0
}
"""
NEW_INSTANCE = """vrrp_instance VI_3 {
    state MASTER
    interface eth0
    virtual_router_id 53
    priority 200
    virtual_ipaddress {
        192.0.2.103/24
    }
}
"""


INSTANCE = ".1.3.6.1.4.1.9586.100.5.2.3.1"  # vrrpInstanceEntry
# (column.index, type, value): keepalived 2.2.7's write handlers (vrrp_snmp.c) read the value's
# first byte: a priority of 0 or 256 is wrongValue, 300 sets 44; preempt takes 1 or 2; a VRRPv3
# instance's accept is noAccess (no ALLOW_SNMP_SET_ACCEPT), a VRRPv2 one's and the other columns
# notWritable; an unknown instance; a string where an integer is expected.
SETS = [("7.1", "i", "0"), ("7.1", "i", "256"), ("7.1", "s", "x"), ("7.1", "i", "120"), ("7.1", "i", "300"),
        ("7.1", "i", "-1"), ("7.2", "i", "200"), ("13.2", "i", "3"), ("13.2", "i", "1"), ("13.1", "i", "2"),
        ("13.1", "u", "1"), ("27.2", "i", "1"), ("27.1", "i", "1"), ("28.1", "i", "1"), ("8.1", "i", "10"),
        ("7.9", "i", "10"), ("2.1", "s", "VI_9")]
SET_LOG = re.compile(r"via SNMP|with SNMP|Changing effective priority")


def test_sets_match_keepalived(sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """snmpset of each object gives the same answer, log lines and walk afterwards on both sides."""
    with running([(h, conf(str(s.socket))) for h, s in sides]) as nodes:
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.100") and n.has("192.0.2.102"), 30)
        for col, vtype, value in SETS:
            answers = [s.set(f"{INSTANCE}.{col}", vtype, value) for _, s in sides]
            assert answers[1] == answers[0], (col, vtype, value)
        walked_equal(sides, ".1.3.6.1.4.1.9586.100.5.2.3")
        walked_equal(sides, ".1.3.6.1.2.1.68")
        logs = [log_lines(n, SET_LOG) for n in nodes]
        assert logs[1] == logs[0], diff(logs[0], logs[1])
        assert any("via SNMP" in line for line in logs[0])


CAPTURE = """
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton("224.0.0.18"),
             socket.inet_aton(sys.argv[1])))
s.settimeout(0.5)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        b = s.recv(2048)
    except TimeoutError:
        continue
    v = b[(b[0] & 15) * 4:]
    print(v[1], v[2], flush=True)
"""

WIRE_CONF = """global_defs {{
    router_id snmp_node
    enable_snmp_vrrp
    snmp_socket unix:{socket}
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"""


def test_set_priority_reaches_the_adverts_as_keepalived(
        rx_sides: list[tuple[Host, Host, PrivateSnmpd]]) -> None:
    """After an snmpset of vrrpInstanceBasePriority the MASTER's adverts carry the new priority,
    on both sides (captured by a peer on the LAN)."""
    with running([(h, WIRE_CONF.format(socket=s.socket)) for h, _, s in rx_sides]) as nodes:
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.100"), 30)
        seen = []
        for (_, peer, s), n in zip(rx_sides, nodes, strict=True):
            script = n.dir / "capture.py"
            script.write_text(CAPTURE)
            assert "exit 0" in s.set(f"{INSTANCE}.7.1", "i", "120")
            out = peer.run(["python3", str(script), str(peer.ipv4), "2.5"])
            seen.append(sorted({tuple(map(int, line.split())) for line in out.splitlines()}))
        assert seen[1] == seen[0] == [(51, 120)], seen



@pytest.mark.parametrize("deleted", [False, True], ids=["fault", "notify_deleted"])
def test_reload_dropping_an_instance_traps_as_keepalived(sides: list[tuple[Host, PrivateSnmpd]],
                                                         deleted: bool) -> None:
    """SIGHUP with a file without VI_2 and a new router_id: keepalived 2.2.7 has read the new
    global_defs when clear_diff_vrrp stops VI_2 with send_instance_notifies, whose
    vrrpInstanceStateChange says FAULT (3), or DELETED (6) with notify_deleted, and carries the new
    router_id; the traps from start to stop are the same (pykeepalived sent none for VI_2 before)."""
    def start_conf(socket: str) -> str:
        text = conf(socket)
        return text.replace("    nopreempt\n", "    nopreempt\n    notify_deleted\n") if deleted else text

    def new_conf(socket: str) -> str:
        text = conf(socket).replace("router_id snmp_node", "router_id snmp_reloaded")
        return text[:text.index("vrrp_instance VI_2")]

    with running([(h, start_conf(str(s.socket))) for h, s in sides]) as nodes:
        started_then_reloaded(nodes, sides, new_conf)
        for n in nodes:
            wait_for(lambda n=n: not n.has("192.0.2.102"), 30)
        wait_for(lambda: all(len(s.traps()) >= 6 for _, s in sides), 10)
        dropped = [t for t in sides[0][1].traps() if '"VI_2"' in t and "snmp_reloaded" in t]
        assert len(dropped) == 1 and f"3.1.4 = INTEGER: {6 if deleted else 3}" in dropped[0], dropped
        stop_and_compare_traps(nodes, [s for _, s in sides], 7)


def order_conf(socket: str) -> str:
    """A sync group (VI_4, VI_6: VI_4's down timer ends first, so VI_6's take-over syncs VI_4) and
    two instances beside it (VI_2 takes over first, then VI_1), every one BACKUP at start."""
    text = sync_conf(socket).replace("priority 100\n    version 3", "priority 90\n    version 3")
    single = conf(socket)
    single = single[single.index("vrrp_instance VI_1"):]
    for a, b in (("192.0.2.100/24", "192.0.2.120/24"), ("192.0.2.101/24", "192.0.2.121/24"),
                 ("192.0.2.102/24", "192.0.2.122/24"), ("state MASTER", "state BACKUP")):
        single = single.replace(a, b)
    return text + single


ORDER_LINES = re.compile(r"\(VI_\d\) (Entering|Receive advertisement timeout|setting|removing|sent 0"
                         r"|Sending SNMP)|VRRP_Group")


# the VRRP child's start-up lines around its subagent's start (keepalived start_vrrp: after the file
# is read, before vrrp_complete_init's script security line and the interfaces' addresses)
START_LINES = re.compile(r"Script user|Starting SNMP subagent|AgentX subagent connected|SECURITY VIOLATION"
                         r"|Assigned address|Registering gratuitous")


def test_trap_lines_and_order_with_a_sync_group_match_keepalived(
        sides: list[tuple[Host, PrivateSnmpd]]) -> None:
    """With -D, every "Sending SNMP notification" line among the instances' lines, and the traps in
    the order snmptrapd receives them, as keepalived 2.2.7's, with a sync group and two instances:
    - start (vrrp_init_state): the group's, then each instance's right after its
      "Entering BACKUP STATE (init)";
    - take-overs: after the instance's "setting VIPs.", a synced member's "Entering MASTER STATE"
      after them, the group's last;
    - reload dropping VI_2 and adding VI_3: VI_2's after its removals, VI_3's after its "(init)";
    - stop (vrrp_terminate_phase1): every instance's priority 0 and removals first, then every
      instance's trap (notify_shutdown), then the group's.
    The subagent starts where keepalived's does (START_LINES)."""
    def new_conf(socket: str) -> str:
        text = order_conf(socket)
        text = text[:text.index("vrrp_instance VI_2")]
        new = NEW_INSTANCE.replace("state MASTER", "state BACKUP").replace("priority 200", "priority 100")
        return text + new

    with running([(h, order_conf(str(s.socket))) for h, s in sides]) as nodes:
        for n in nodes:
            wait_for(lambda n=n: all(n.has(a) for a in ("192.0.2.100", "2001:db8::62", "192.0.2.120",
                                                        "192.0.2.122")), 30)
        wait_for(lambda: all(len(s.traps()) >= 16 for _, s in sides), 10)
        for n, (_, s) in zip(nodes, sides, strict=True):
            n.conf.write_text(new_conf(str(s.socket)))
            n.signal(signal.SIGHUP)
        for n in nodes:
            wait_for(lambda n=n: n.has("192.0.2.103") and not n.has("192.0.2.122"), 30)
        wait_for(lambda: all(len(s.traps()) >= 21 for _, s in sides), 10)
        stop_and_compare_traps(nodes, [s for _, s in sides], 26)
        lines = [log_lines(n, ORDER_LINES) for n in nodes]
        assert lines[1] == lines[0], diff(lines[0], lines[1])
        start = [[re.sub(r"Assigned address \S+", "Assigned address <addr>", line)
                  for line in log_lines(n, START_LINES)][:7] for n in nodes]
        assert start[1] == start[0], diff(start[0], start[1])
        for line in ("VRRP_Group(SG_1): Sending SNMP notification", "(VI_3) Sending SNMP notification",
                     "(VI_2) Sending SNMP notification",
                     "(VI_6) Sending SNMP notification vrrpv3NotifyNewMaster, reason 3"):
            assert line in lines[0], line
