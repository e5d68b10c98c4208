"""The checker child's KEEPALIVED-MIB check subtree (…9586.100.5.3) and its traps, against the MIB's
definitions: a private snmpd (AgentX master) and snmptrapd in a namespace (prefix p16c), pykeepalived
with an nftables-plane virtual server whose real servers are TCP listeners in that namespace.

keepalived 2.2.7 cannot be the reference here: its checker child needs IPVS for virtual servers and
this kernel has none (it logs `IPVS: Can't initialize ipvs` and the checker terminates), so nothing it
would serve under …5.3 can be walked on this machine. The side-by-side comparison belongs to the qemu
IPVS VM tier (tests/check/test_ipvs_vm.py), whose kernel has IPVS. Here instead:
- every column KEEPALIVED-MIB (keepalived's own doc/KEEPALIVED-MIB.txt, as Debian installs it) defines
  for virtualServerTable and realServerTable is walked for each row, with the SNMP type its SYNTAX
  gives, except the columns check_snmp.c leaves out for such a row (each listed with why);
- the values are the configuration's (addresses, ports, weights, quorum, timers, scripts) and the
  checkers' states (real server status, failed checks, real servers up, quorum status);
- a real server taken down gives realServerStateChange and, as its weight drops the virtual server
  below its quorum, virtualServerQuorumStateChange, with check_snmp_rs_trap's varbinds; stopping the
  daemon gives one realServerStateChange per live real server and the quorum "stopping" (3);
- the group, sync daemon and timeout objects from a second configuration; a reload; both children
  with SNMP (the global subtree registered once);
- the statistics columns after connections through the nftables NAT service (lb_lab: client,
  director, real server): the data plane's counters; the rate columns are 0 (docs/snmp.md).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for
from pykeepalived.lab.snmpd import PrivateSnmpd

MIB = Path("/usr/share/snmp/mibs/KEEPALIVED-MIB.txt")  # the keepalived package's
pytestmark = [
    pytest.mark.skipif(not os.path.exists("/usr/sbin/snmpd"), reason="Debian's snmpd is not installed"),
    pytest.mark.skipif(not MIB.exists(), reason="keepalived's KEEPALIVED-MIB.txt is not installed"),
]

CHECK = ".1.3.6.1.4.1.9586.100.5.3"
VS_E, RS_E = f"{CHECK}.3.1", f"{CHECK}.4.1"
RS1, RS2, SORRY, VIP = "192.0.2.11", "192.0.2.12", "192.0.2.20", "203.0.113.10"

LISTEN = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 80)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
"""


def conf(socket: str, d: Path) -> str:
    return f"""global_defs {{
    router_id chk_node
    lvs_dataplane nftables
    enable_snmp_checker
    enable_traps
    snmp_socket unix:{socket}
}}
virtual_server {VIP} 80 {{
    snmp_name web
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    persistence_timeout 30
    quorum 4
    quorum_up "{d}/quorum.sh up"
    quorum_down "{d}/quorum.sh down"
    sorry_server {SORRY} 8080
    real_server {RS1} 80 {{
        snmp_name rs_one
        weight 3
        notify_down "{d}/down.sh {RS1}"
        uthreshold 100
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
    real_server {RS2} 80 {{
        weight 2
        retry 2
        delay_before_retry 2
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
"""


# ------------------------------------------------------------------ the MIB's definitions
def mib_columns(entry: str) -> dict[int, str]:
    """column -> SYNTAX of every readable column of `entry` (virtualServerEntry...)."""
    text = MIB.read_text()
    out = {}
    for m in re.finditer(r"(\w+)\s+OBJECT-TYPE\s+SYNTAX\s+(.+?)\s+(?:UNITS.+?)?MAX-ACCESS\s+([\w-]+)"
                         r".+?::=\s*\{\s*(\w+)\s+(\d+)\s*\}", text, re.S):
        if m.group(4) == entry and m.group(3) != "not-accessible":
            out[int(m.group(5))] = m.group(2).split()[0]
    return out


SNMP_TYPE = {"Unsigned32": "Gauge32", "Gauge32": "Gauge32", "InetPortNumber": "Gauge32",
             "InetAddressPrefixLength": "Gauge32", "Counter32": "Counter32", "Counter64": "Counter64",
             "TruthValue": "INTEGER", "INTEGER": "INTEGER", "Integer32": "INTEGER",
             "InetAddressType": "INTEGER", "DisplayString": "STRING", "InetAddress": "STRING",
             "OCTET": "STRING"}


def parse(lines: list[str]) -> dict[str, tuple[str, str]]:
    """OID -> (type, value) of `snmpwalk -On` lines; Hex-STRING counts as STRING."""
    out = {}
    for line in lines:
        oid, _, rest = line.partition(" = ")
        typ, _, val = rest.partition(": ")
        out[oid] = ("STRING" if typ == "Hex-STRING" else typ, val.strip())
    return out


def hexs(addr: str) -> str:
    import ipaddress
    return " ".join(f"{b:02X}" for b in ipaddress.ip_address(addr).packed)


def cells(walk: dict[str, tuple[str, str]], entry: str, index: str) -> dict[int, tuple[str, str]]:
    out = {}
    for oid, v in walk.items():
        if oid.startswith(entry + ".") and oid.endswith("." + index):
            col = oid[len(entry) + 1:-len(index) - 1]
            if col.isdigit():
                out[int(col)] = v
    return out


def check_against_mib(row: dict[int, tuple[str, str]], columns: dict[int, str], absent: set[int]) -> None:
    assert set(row) == set(columns) - absent, (sorted(set(columns) - absent - set(row)),
                                               sorted(set(row) - (set(columns) - absent)))
    for col, (typ, _) in row.items():
        assert typ == SNMP_TYPE[columns[col]], (col, columns[col], typ)


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def host() -> Iterator[tuple[Host, PrivateSnmpd]]:
    with Lab(prefix=f"p16c{os.getpid() % 100000}-") as lab:
        lan = lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64")
        h = lab.add_host("py", [lan])
        for a in (RS1, RS2):
            h.run(["ip", "addr", "add", f"{a}/32", "dev", "lo"])
        s = PrivateSnmpd(h)
        try:
            s.start()
            yield h, s
        finally:
            s.close()


def listener(h: Host, addr: str) -> subprocess.Popen[bytes]:
    p: subprocess.Popen[bytes] = h.popen([sys.executable, "-c", LISTEN, addr], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
    return p


def scripts(d: Path) -> None:
    for name in ("quorum.sh", "down.sh"):
        p = d / name
        p.write_text("#!/bin/sh\nexit 0\n")
        p.chmod(0o755)


def test_check_subtree_and_traps_follow_the_mib(host: tuple[Host, PrivateSnmpd], tmp_path: Path) -> None:
    h, snmpd = host
    tmp_path.chmod(0o755)
    scripts(tmp_path)
    servers = {a: listener(h, a) for a in (RS1, RS2)}
    node = Node(h, conf(str(snmpd.socket), tmp_path))
    try:
        node.start()
        wait_for(lambda: len(snmpd.walk(CHECK)) > 100, 30)

        def walk() -> dict[str, tuple[str, str]]:
            return parse(snmpd.walk(CHECK))

        def up_both() -> bool:
            w = walk()
            return w.get(f"{VS_E}.21.1", ("", ""))[1] == "2"

        wait_for(up_both, 30)
        w = walk()
        assert parse(snmpd.walk(CHECK, bulk=True)) == w
        vs_cols, rs_cols = mib_columns("virtualServerEntry"), mib_columns("realServerEntry")
        assert len(vs_cols) == 70 and len(rs_cols) == 54  # 71 and 55 with the index
        # virtualServerTable: a plain IPv4 TCP service, NAT, persistent, no tunnel: keepalived leaves
        # out the group name (3), fwmark (4), virtualhost (12), IPv6 granularity (51), the tunnel
        # columns (68-70)
        vs = cells(w, VS_E, "1")
        check_against_mib(vs, vs_cols, {3, 4, 12, 51, 68, 69, 70})
        expect = {2: "2", 5: "1", 6: hexs(VIP), 7: "80", 8: "1", 9: "2", 10: "1", 11: "1", 13: "1",
                  14: "30", 15: "FF FF FF FF", 16: "1", 17: "2", 18: "2", 19: "2", 20: "2", 21: "2",
                  22: "4", 23: "1", 24: f'"\'{tmp_path}/quorum.sh\' \'up\'"',
                  25: f'"\'{tmp_path}/quorum.sh\' \'down\'"',
                  26: "0", 56: "1", 57: "0", 60: "1", 64: "1000000", 67: "5000000", 71: '"web"'}
        assert {c: vs[c][1] for c in expect} == expect
        assert {vs[c][1] for c in (27, 28, 29, 30, 31, 32, 33, 34, 35, 36)} == {"0"}  # no traffic
        # realServerTable: (1, 1) the sorry server, (1, 2) and (1, 3) the real servers
        sorry, r1, r2 = (cells(w, RS_E, f"1.{i}") for i in (1, 2, 3))
        # check_snmp_realserver leaves out for the sorry server: status, weight, thresholds, action,
        # notifies, failed checks (6-13); for all: unset thresholds (8, 9), notifies (11, 12),
        # virtualhost (41), tunnel (52-54), unset snmp_name (55)
        tail = {41, 52, 53, 54}
        check_against_mib(sorry, rs_cols, {6, 7, 8, 9, 10, 11, 12, 13, 55} | tail)
        check_against_mib(r1, rs_cols, {9, 11} | tail)
        check_against_mib(r2, rs_cols, {8, 9, 11, 12, 55} | tail)
        assert r1[55][1] == '"rs_one"'
        assert [(r[2][1], r[4][1], r[5][1]) for r in (sorry, r1, r2)] == [
            ("2", hexs(SORRY), "8080"), ("1", hexs(RS1), "80"), ("1", hexs(RS2), "80")]
        assert [(r[6][1], r[7][1], r[13][1]) for r in (r1, r2)] == [("1", "3", "0"), ("1", "2", "0")]
        assert (r1[8][1], r1[12][1]) == ("100", f'"\'{tmp_path}/down.sh\' \'{RS1}\'"')  # cmd_str_r
        # timers: the real server's own, else the virtual server's (retry 0 and 2, delay_before_retry
        # unset and 2 s); the sorry server's stay unset (connection timeout UINT_MAX)
        assert [(r[43][1], r[44][1], r[46][1], r[51][1]) for r in (sorry, r1, r2)] == [
            ("0", "0", "0", "4294967295"), ("0", "0", "1", "5000000"), ("2", "2", "1", "5000000")]
        # the global subtree comes from the checker (keepalived's checker registers the base MIB)
        assert parse(snmpd.walk(".1.3.6.1.4.1.9586.100.5.1.2"))[".1.3.6.1.4.1.9586.100.5.1.2.0"] == (
            "STRING", '"chk_node"')

        # RS1 down: realServerStateChange, and 2 < quorum 4: virtualServerQuorumStateChange
        before = len(snmpd.traps())
        servers[RS1].kill()
        servers[RS1].wait()
        wait_for(lambda: len(snmpd.traps()) >= before + 2, 30)
        rs_trap, q_trap = snmpd.traps()[before:before + 2]
        trap_oid = ".1.3.6.1.6.3.1.1.4.1.0 = OID: "
        assert trap_oid + f"{CHECK}.5.0.1" in rs_trap
        for vb in (f"{RS_E}.3 = INTEGER: 1", f"{RS_E}.4 = Hex-STRING: {hexs(RS1)}",
                   f"{RS_E}.5 = Gauge32: 80", f"{RS_E}.6 = INTEGER: 2", f"{VS_E}.2 = INTEGER: 2",
                   f"{VS_E}.5 = INTEGER: 1", f"{VS_E}.6 = Hex-STRING: {hexs(VIP)}",
                   f"{VS_E}.7 = Gauge32: 80", f"{VS_E}.8 = INTEGER: 1", f"{VS_E}.21 = Gauge32: 1",
                   f"{VS_E}.20 = Gauge32: 2", '.1.3.6.1.4.1.9586.100.5.1.2.0 = STRING: "chk_node"'):
            assert vb in rs_trap, (vb, rs_trap)
        assert trap_oid + f"{CHECK}.5.0.2" in q_trap
        for vb in (f"{VS_E}.23 = INTEGER: 2", f"{VS_E}.22 = Gauge32: 4", f"{VS_E}.21 = Gauge32: 1"):
            assert vb in q_trap, (vb, q_trap)
        assert f"{RS_E}.3 " not in q_trap
        w = walk()
        assert [w[f"{RS_E}.{c}.1.2"][1] for c in (6, 13)] == ["2", "1"]
        assert [w[f"{VS_E}.{c}.1"][1] for c in (21, 23)] == ["1", "2"]

        # stop: RS2 (still alive) then the quorum "stopping"
        before = len(snmpd.traps())
        assert node.stop() == 0
        wait_for(lambda: len(snmpd.traps()) >= before + 2, 15)
        rs_trap, q_trap = snmpd.traps()[before:before + 2]
        assert f"{RS_E}.4 = Hex-STRING: {hexs(RS2)}" in rs_trap and f"{RS_E}.6 = INTEGER: 2" in rs_trap
        assert f"{VS_E}.23 = INTEGER: 3" in q_trap
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(node)}") from exc
    finally:
        node.kill()
        for p in servers.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


def group_conf(socket: str) -> str:
    return f"""global_defs {{
    router_id chk_node
    lvs_dataplane nftables
    enable_snmp_checker
    snmp_socket unix:{socket}
    lvs_timeouts tcp 7200 tcpfin 120 udp 300
    lvs_sync_daemon eth0 id 5 maxlen 1400 port 8848 ttl 2 group 239.1.2.3
}}
virtual_server_group G {{
    203.0.113.20 80
    203.0.113.30-31 80
    fwmark 7
}}
virtual_server group G {{
    delay_loop 2
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server {RS2} 80 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
"""


def test_groups_sync_daemon_and_timeouts(host: tuple[Host, PrivateSnmpd]) -> None:
    h, snmpd = host
    server = listener(h, RS2)
    node = Node(h, group_conf(str(snmpd.socket)))
    try:
        node.start()
        wait_for(lambda: len(snmpd.walk(CHECK)) > 100, 30)
        w = parse(snmpd.walk(CHECK))
        assert parse(snmpd.walk(CHECK, bulk=True)) == w
        assert w[f"{CHECK}.1.1.2.1"] == ("STRING", '"G"')
        members = {i: cells(w, f"{CHECK}.2.1", f"1.{i}") for i in (1, 2, 3)}
        member_cols = mib_columns("virtualServerGroupMemberEntry")
        # keepalived lists the group's fwmark entries first, then its addresses and ranges
        for i, absent in ((1, {4, 5, 6, 7, 8}), (2, {3, 6, 7}), (3, {3, 5})):
            check_against_mib(members[i], member_cols, absent)
        assert {i: {c: v for c, (_, v) in m.items()} for i, m in members.items()} == {
            1: {2: "1", 3: "7"},
            2: {2: "2", 4: "1", 5: hexs("203.0.113.20"), 8: "80"},
            3: {2: "3", 4: "1", 6: hexs("203.0.113.30"), 7: hexs("203.0.113.31"), 8: "80"}}
        # a group's virtual server: no address, port or fwmark of its own; both granularity columns
        # (its address family is unset in keepalived)
        vs = cells(w, VS_E, "1")
        check_against_mib(vs, mib_columns("virtualServerEntry"), {4, 6, 7, 12, 14, 24, 25, 68, 69, 70, 71})
        assert [vs[c][1] for c in (2, 3, 9, 10, 16)] == ["3", '"G"', "1", "2", "2"]
        # lvsSyncDaemon (…3.6) and lvsTimeouts (…3.7)
        scalars = {k[len(CHECK) + 1:]: v[1] for k, v in w.items()
                   if k.startswith((f"{CHECK}.6.", f"{CHECK}.7."))}
        assert scalars == {
            "6.1.0": "1", "6.2.0": '"eth0"', "6.4.0": "5", "6.5.0": "1400", "6.6.0": "8848", "6.7.0": "2",
            "6.8.0": "1", "6.9.0": hexs("239.1.2.3"), "7.1.0": "7200", "7.2.0": "120", "7.3.0": "300"}
        assert node.stop() == 0
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(node)}") from exc
    finally:
        node.kill()
        server.send_signal(signal.SIGKILL)
        server.wait()


def test_reload_serves_the_new_file(host: tuple[Host, PrivateSnmpd], tmp_path: Path) -> None:
    """SIGHUP: the checker's subagent stays registered and its objects follow the new file (quorum,
    snmp_name, a real server's weight, lvs_timeouts), as keepalived 2.2.7's checker reload does."""
    h, snmpd = host
    tmp_path.chmod(0o755)
    scripts(tmp_path)
    servers = {a: listener(h, a) for a in (RS1, RS2)}
    node = Node(h, conf(str(snmpd.socket), tmp_path))
    try:
        node.start()
        wait_for(lambda: parse(snmpd.walk(CHECK)).get(f"{VS_E}.21.1", ("", ""))[1] == "2", 30)
        w = parse(snmpd.walk(CHECK))
        assert (w[f"{VS_E}.22.1"][1], w[f"{VS_E}.71.1"][1], w[f"{RS_E}.7.1.3"][1]) == ("4", '"web"', "2")
        assert f"{CHECK}.7.1.0" not in w
        new = conf(str(snmpd.socket), tmp_path).replace("quorum 4", "quorum 3").replace(
            "snmp_name web", "snmp_name web2").replace("weight 2", "weight 1").replace(
            "    enable_traps\n", "    enable_traps\n    lvs_timeouts tcp 100\n")
        node.conf.write_text(new)
        node.signal(signal.SIGHUP)

        def reloaded() -> bool:
            w = parse(snmpd.walk(CHECK))
            return (w.get(f"{VS_E}.22.1", ("", ""))[1], w.get(f"{VS_E}.71.1", ("", ""))[1],
                    w.get(f"{RS_E}.7.1.3", ("", ""))[1], w.get(f"{CHECK}.7.1.0", ("", ""))[1]) == (
                "3", '"web2"', "1", "100")

        wait_for(reloaded, 30)
        assert node.stop() == 0
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(node)}") from exc
    finally:
        node.kill()
        for p in servers.values():
            p.send_signal(signal.SIGKILL)
            p.wait()


def test_both_children_share_the_global_subtree(host: tuple[Host, PrivateSnmpd], tmp_path: Path) -> None:
    """enable_snmp_vrrp and enable_snmp_checker with both children running: the checker serves the
    global subtree and the VRRP child leaves it (keepalived's vrrp_handles_global_oid), so snmpd takes
    every registration (a second one of …5.1 would be refused) and both subtrees answer."""
    h, snmpd = host
    tmp_path.chmod(0o755)
    scripts(tmp_path)
    servers = {a: listener(h, a) for a in (RS1, RS2)}
    text = conf(str(snmpd.socket), tmp_path).replace(
        "    enable_snmp_checker\n", "    enable_snmp_checker\n    enable_snmp_vrrp\n") + """
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"""
    node = Node(h, text)
    try:
        node.start()
        wait_for(lambda: len(snmpd.walk(".1.3.6.1.4.1.9586.100.5.2")) > 10
                 and len(snmpd.walk(CHECK)) > 100, 30)
        router = parse(snmpd.walk(".1.3.6.1.4.1.9586.100.5.1.2"))
        assert router == {".1.3.6.1.4.1.9586.100.5.1.2.0": ("STRING", '"chk_node"')}
        # sysORTable: each MIB module registered once ("The MIB module for ..." descriptions)
        descrs = [v for _, (_, v) in parse(snmpd.walk(".1.3.6.1.2.1.1.9.1.3")).items()]
        ours = sorted(d for d in descrs if "Keepalived" in d or "Healthchecker" in d or "KEEPALIVED" in d)
        assert ours == sorted(['"The MIB module for Keepalived"', '"The MIB module for Healthchecker"',
                               '"The MIB module for KEEPALIVED-VRRP"']), descrs
        assert "AgentX:" not in node.logs()
        assert node.stop() == 0
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(node)}") from exc
    finally:
        node.kill()
        for p in servers.values():
            p.send_signal(signal.SIGKILL)
            p.wait()


SERVE = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 80)); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(1024); c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nok\\n"); c.close()
"""
CLIENT = """
import socket, sys
ok = 0
for _ in range(int(sys.argv[2])):
    s = socket.create_connection((sys.argv[1], 80), timeout=5); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    ok += b"ok" in s.recv(1024); s.close()
print(ok)
"""


def test_statistics_come_from_the_nftables_counters() -> None:
    """Connections from a client through the director's nftables NAT service to a real server: the
    statistics columns (virtualServerStatsConns/InPkts/InBytes and their 64-bit forms, the real
    server's) read the data plane's counters, refreshed every 5 s (keepalived's STATS_REFRESH)."""
    from pykeepalived.lab import lb_lab

    rs = "192.0.2.11"
    with lb_lab([rs], prefix=f"p16c{os.getpid() % 100000}s-") as lab:
        snmpd = PrivateSnmpd(lab.director)
        server = lab.servers[rs].popen([sys.executable, "-c", SERVE], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        node = Node(lab.director, f"""global_defs {{
    router_id director
    lvs_dataplane nftables
    enable_snmp_checker
    snmp_socket unix:{snmpd.socket}
}}
virtual_server {lab.vip} 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {rs} 80 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
""")
        try:
            snmpd.start()
            node.start()
            wait_for(lambda: parse(snmpd.walk(CHECK)).get(f"{VS_E}.21.1", ("", ""))[1] == "1", 30)
            assert lab.client.run([sys.executable, "-c", CLIENT, lab.vip, "5"]).strip() == "5"

            def counted() -> bool:
                w = parse(snmpd.walk(CHECK))
                return w.get(f"{VS_E}.27.1", ("", ""))[1] == "5"

            wait_for(counted, 20, step=0.5)
            w = parse(snmpd.walk(CHECK))
            vs = {c: w[f"{VS_E}.{c}.1"] for c in (27, 28, 30, 38, 39)}
            assert vs[27] == ("Gauge32", "5") and vs[38] == ("Counter64", "5"), vs
            assert vs[28][0] == "Counter32" and int(vs[28][1]) >= 10, vs  # SYN, ACK, request, FIN...
            assert vs[39] == ("Counter64", vs[28][1]) and int(vs[30][1]) > int(vs[28][1]) * 40, vs
            assert w[f"{RS_E}.14.1.1"] == ("Gauge32", "5") and w[f"{RS_E}.18.1.1"] == vs[28]
            assert node.stop() == 0
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{dump_logs(node)}") from exc
        finally:
            node.kill()
            server.send_signal(signal.SIGKILL)
            server.wait()
            snmpd.close()
