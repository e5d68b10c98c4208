"""keepalived.data and keepalived_parent.data (SIGUSR1), keepalived.json (JSON signal) and
keepalived.stats (SIGUSR2) written by keepalived 2.2.7 and by pykeepalived for the same configuration
on identical LANs (oracle_lab), compared line by line and byte by byte once the values that depend on
time and on the process are masked (VOLATILE below).

Lines that differ on purpose (INTENTIONAL): keepalived's `libnftnl version X.Y.Z` is the version of
the library it was compiled against (pykeepalived is not built against libnftnl: it runs `nft`).
The `------< Interfaces >------` section is compared too, every link of the namespace.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, differential, wait_for
from pykeepalived.options import SIGFUNCS

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

# (pattern, replacement): values that depend on when and in which process the dump was taken
VOLATILE = [
    (re.compile(r"= \d{10}\.\d{6} \([^)]*\)"), "= T (T)"),  # Last transition / Read timeout
    (re.compile(r"fd_in \d+, fd_out \d+"), "fd_in N, fd_out N"),  # socket descriptors
    (re.compile(r"fd_in \d+ fd_out = \d+"), "fd_in N fd_out = N"),
    (re.compile(r"fe80::[0-9a-f:]+"), "fe80::X"),  # link-local addresses come from random MACs
    (re.compile(r"^(   State = )(idle|running)$"), r"\1S"),  # a vrrp_script may be running right now
    # Interfaces: an ifindex depends on the order the namespace's links were made, a MAC (but a
    # VMAC's 00:00:5e:00:01:VRID) is random, the IPv6 forwarding flag is read at each NA sent
    (re.compile(r"^(   index = )\d+$"), r"\1N"),
    (re.compile(r"^(   MAC = )(?!00:00:5e:)\S+$"), r"\1M"),
    (re.compile(r"Last checked \d+\.\d{6} \([^)]*\)$"), "Last checked T (T)"),
]
INTENTIONAL = {" libnftnl version 1.2.3"}
INTERFACES = "------< Interfaces >------"

VETH = ("ip link add v0 type veth peer name v1",)

# VIPs with dev/label, an eVIP, a weighted track_script, track_interface on the instance's own
# interface (keepalived ignores it), PASS authentication, notify scripts, a virtual route
CONF_MASTER = """global_defs {
    router_id LVS_A
}
vrrp_script chk_ok {
    script "/bin/true"
    interval 2
    weight -20
    rise 2
    fall 3
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret1
    }
    virtual_ipaddress {
        192.0.2.100/24 dev eth0 label eth0:vip
        192.0.2.101
    }
    virtual_ipaddress_excluded {
        192.0.2.200/24
    }
    track_interface {
        eth0 weight 5
    }
    track_script {
        chk_ok
    }
    notify_master "/bin/echo master"
    notify_backup /bin/true
    notify /bin/true
    virtual_routes {
        198.51.100.0/24 via 192.0.2.254 dev eth0
    }
}
"""

# a sync group of a unicast IPv4 instance (peers with TTL limits, a VIP the kernel refuses: no `set`)
# and a VRRPv3 IPv6 instance with an IPv4 eVIP; mail settings, notify_deleted, promote_secondaries
CONF_SYNC = """global_defs {
    router_id R2
    vrrp_garp_master_refresh 60
    notification_email {
        ops@example.com
    }
    notification_email_from ka@example.com
    smtp_server 192.0.2.250 2525
    smtp_connect_timeout 10
    vrrp_skip_check_adv_addr
}
vrrp_sync_group G1 {
    group {
        VI_A
        VI_B
    }
    notify_master "/bin/echo group"
    smtp_alert
    global_tracking
    notify_priority_changes true
    notify_priority_changes false
}
vrrp_instance VI_A {
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority 90
    advert_int 1
    nopreempt
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.9
        192.0.2.10 min_ttl 1 max_ttl 64
    }
    virtual_ipaddress {
        192.0.2.110/24 brd 192.0.2.255 scope link
    }
    track_interface {
        v0 weight -10
    }
    notify_fault /bin/true
    smtp_alert
    notify_priority_changes false
    notify_priority_changes true
}
vrrp_instance VI_B {
    interface eth0
    virtual_router_id 62
    priority 80
    version 3
    advert_int 0.5
    virtual_ipaddress {
        2001:db8::100/64
    }
    virtual_ipaddress_excluded {
        192.0.2.120 dev eth0
    }
    notify_deleted
    promote_secondaries
}
"""

# FAULT from the start: a down tracked interface and a failing unweighted script; static address and
# route, a virtual rule, VRRPv3 by default, preempt_delay
CONF_FAULT = """global_defs {
    router_id C3
    vrrp_garp_master_repeat 2
    vrrp_version 3
}
static_ipaddress {
    192.0.2.210/32 dev eth0
}
static_routes {
    203.0.113.0/24 via 192.0.2.254 dev eth0
}
vrrp_script chk_fail {
    script "/bin/false"
    interval 1
}
vrrp_instance VI_F {
    state BACKUP
    interface eth0
    virtual_router_id 71
    priority 100
    advert_int 1
    preempt_delay 5
    track_script {
        chk_fail
    }
    track_interface {
        v0
    }
    virtual_ipaddress {
        192.0.2.130/24
    }
    virtual_rules {
        from 192.0.2.130 table 100
    }
    notify_fault "/bin/echo fault"
    notify_stop /bin/true
}
"""

# BACKUP under a keepalived master of priority 200 on each LAN (Master router, Master priority and
# advert interval lines), on a VMAC, VRRPv3, no_accept (nftables table chosen automatically)
CONF_BACKUP = """global_defs {
    router_id V
}
vrrp_instance VI_V {
    state BACKUP
    interface eth0
    use_vmac
    virtual_router_id 81
    priority 100
    version 3
    advert_int 1
    no_accept
    virtual_ipaddress {
        192.0.2.140/24
    }
}
"""
CONF_PEER = """vrrp_instance VI_V {
    state MASTER
    interface eth0
    virtual_router_id 81
    priority 200
    version 3
    advert_int 1
    virtual_ipaddress {
        192.0.2.140/24
    }
}
"""

# routes and rules in keepalived's forms: table/metric/src/scope, a blackhole (`add`: keepalived's
# IPROUTE_BIT_ADD is its type bit), onlink with metrics, nexthops, explicit and implied no_track,
# `from all` (0.0.0.0/0), fwmark/mask, goto, not/prohibit, port/uid ranges and ipproto by number
CONF_ROUTES = """global_defs {
    router_id R5
}
vrrp_instance VI_R {
    state MASTER
    interface eth0
    virtual_router_id 91
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.150/24
        192.0.2.151/24 brd + label eth0:x
    }
    virtual_routes {
        198.51.100.0/24 via 192.0.2.254 dev eth0 table 100 metric 10
        src 192.0.2.150 203.0.113.0/25 dev eth0 scope link
        blackhole 203.0.113.128/25
        198.51.100.128/25 via 192.0.2.253 dev eth0 onlink mtu lock 1400 advmss 1300 rto_min 300 initcwnd 10
        default nexthop via 192.0.2.252 dev eth0 weight 2 nexthop via 192.0.2.251 dev eth0 table 101
        no_track 10.0.0.0/8 via 192.0.2.254
    }
    virtual_rules {
        from 192.0.2.150 table 100
        to 203.0.113.0/24 priority 200 table 101 fwmark 0x10/0xff
        from all iif eth0 tos 0x10 goto 300 priority 250
        not from 192.0.2.151 priority 260 prohibit
        from 192.0.2.152 priority 270 table 102 sport 1000-2000 ipproto tcp uidrange 100-200
    }
}
"""

# a static track group (an unknown member dropped) on a static address and route (keepalived then
# watches IPv4 routes: no `[installed ifindex 0]` on its static routes), a static rule
CONF_TRACK_GROUP = """global_defs {
    router_id T6
}
track_group TG1 {
    group {
        VI_T
        VI_NONE
    }
}
static_ipaddress {
    192.0.2.220/32 dev eth0 track_group TG1
    192.0.2.221/24
}
static_routes {
    203.0.113.0/24 via 192.0.2.254 dev eth0 track_group TG1
    198.51.100.0/24 via 192.0.2.254 dev eth0
}
static_rules {
    from 192.0.2.220 table 100 track_group TG1
}
vrrp_instance VI_T {
    state MASTER
    interface eth0
    virtual_router_id 95
    priority 150
    virtual_ipaddress {
        192.0.2.160/24
    }
}
"""

# a track_file (its own weight and the instance's) and two vrrp_track_process (parameters: keepalived's
# full_command; quorum_max, reverse), none running; TRACK_FILE is replaced by a per-test path
CONF_TRACKERS = """global_defs {
    router_id T7
}
track_file tf1 {
    file TRACK_FILE
    weight -5
    init_file 0 overwrite
}
vrrp_track_process sleeper {
    process pyka-dump-no-such-process 1000
    weight 10
    delay 2
}
vrrp_track_process nothing {
    process pyka-dump-no-such-process
    quorum 2
    quorum_max 3
    weight 7 reverse
}
vrrp_instance VI_P {
    state MASTER
    interface eth0
    virtual_router_id 96
    priority 150
    track_file {
        tf1 weight 3
    }
    track_process {
        sleeper
        nothing
    }
    virtual_ipaddress {
        192.0.2.170/24
    }
}
"""

# track_bfd on two bfd_instances (own weights, one reverse) and an untracked one, no BFD peer: all Down.
# A repeated `weight` (keepalived bfd_parser.c bfd_vrrp_weight_handler): the last value wins, a
# `reverse` on any of the lines stays (bfd2: -20 reverse, down: +20); the dump's Weight lines and
# the effective priority show it
CONF_BFD = """global_defs {
    router_id T8
}
bfd_instance bfd1 {
    neighbor_ip 192.0.2.9
    weight -20
    weight -30
}
bfd_instance bfd2 {
    neighbor_ip 192.0.2.8
    weight -10 reverse
    weight -20
}
bfd_instance bfd3 {
    neighbor_ip 192.0.2.7
}
vrrp_instance VI_B {
    state MASTER
    interface eth0
    virtual_router_id 97
    priority 150
    track_bfd {
        bfd1
        bfd2
    }
    virtual_ipaddress {
        192.0.2.180/24
    }
}
"""

# global keywords the dumps print back: enable_snmp_rfc (both RFC MIBs, no agentx master to reach),
# vrrp_rx_bufs_policy naming MTU and ADVERT (keepalived keeps MTU), a vrrp_garp_extra_if whose `all`
# stays although its missing time makes keepalived ignore the line (every instance then has the
# all-interfaces flag: `Flags:`)
CONF_GLOBALS = """global_defs {
    router_id G9
    enable_snmp_rfc
    snmp_socket unix:TRACK_FILE.agentx
    vrrp_rx_bufs_policy ADVERT MTU
    vrrp_garp_extra_if all
    vrrp_netlink_cmd_rcv_bufs 0
}
vrrp_instance VI_G {
    state MASTER
    interface eth0
    virtual_router_id 98
    priority 150
    virtual_ipaddress {
        192.0.2.190/24
    }
}
"""

# configuration, commands run in both hosts first, log lines both must have written before the dumps,
# and the configuration of a keepalived master run beside each (or None)
CASES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str | None]] = {
    "master": (CONF_MASTER, (), ("(VI_1) Entering MASTER STATE", "VRRP_Script(chk_ok) succeeded"), None),
    "sync_group": (CONF_SYNC, (*VETH, "ip link set v0 up", "ip link set v1 up"),
                   ("(VI_A) Entering MASTER STATE", "(VI_B) Entering MASTER STATE"), None),
    "fault": (CONF_FAULT, VETH, ("(VI_F) entering FAULT state", "VRRP_Script(chk_fail) failed"), None),
    "backup_vmac": (CONF_BACKUP, (), ("(VI_V) Entering BACKUP STATE",), CONF_PEER),
    "routes_rules": (CONF_ROUTES, (), ("(VI_R) Entering MASTER STATE",), None),
    "static_track_group": (CONF_TRACK_GROUP, (), ("(VI_T) Entering MASTER STATE",), None),
    "trackers": (CONF_TRACKERS, (), ("(VI_P) Entering MASTER STATE",), None),
    "bfd": (CONF_BFD, (), ("(VI_B) Entering MASTER STATE",), None),
    "globals": (CONF_GLOBALS, (), ("(VI_G) Entering MASTER STATE",), None),
}


def _mask(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if line in INTENTIONAL:
            continue
        for pat, rep in VOLATILE:
            line = pat.sub(rep, line)
        out.append(line)
    return out


def _dump(n: Node, name: str, sig: int, also: str | None = None) -> str:
    """Signal the daemon and read the file once it is complete (keepalived writes it in place);
    `also`: another file the signal writes, read the same way and returned after a NUL."""
    for f in (name, also):
        if f is not None:
            (n.dir / f).unlink(missing_ok=True)
    n.signal(sig)
    text = _complete(n.dir / name)
    return text if also is None else text + "\0" + _complete(n.dir / also)


def _complete(path: Path) -> str:
    last: list[str] = []

    def stable() -> bool:
        text = path.read_text() if path.exists() else ""
        done = text.endswith("\n") and last == [text]
        last[:] = [text]
        return done

    wait_for(stable, 15, step=0.2)
    return last[0]


def _json_masked(text: str) -> str:
    text = re.sub(r'"last_transition":\d+\.\d{6}', '"last_transition":T', text)
    return re.sub(r'("stats":\{[^}]*\})', lambda m: re.sub(r":\d+", ":N", m.group(1)), text)


def _run(lab: Lab, hosts: tuple[Host, Host], conf: str, setup: tuple[str, ...],
         ready: tuple[str, ...], peer: str | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    peers = []
    if peer is not None:  # a keepalived master on each LAN, the same address (192.0.2.2) on both
        peers = [Node(lab.add_host(f"m{h.name}", [h.ifaces[0].lan]), peer, impl="ka") for h in hosts]
    with differential(hosts, conf) as pair:
        two = list(pair)
        for m in peers:
            pair.append(m.start())  # killed (and logged on failure) with the pair
        for m in peers:
            wait_for(lambda m=m: "Entering MASTER STATE" in m.logs(), 30)
        for h in hosts:
            for cmd in setup:
                h.run(cmd)
        for n in two:
            n.start()
        for n in two:
            wait_for(lambda n=n: all(r in n.logs() for r in ready), 30)
            if peer is not None:  # the master's first advert has been received
                wait_for(lambda n=n: n.stats()["VI_V"]["advert_rcvd"] > 0, 30, step=0.3)
        for n in two:
            out[n.impl] = {
                "data": _dump(n, "keepalived.data", signal.SIGUSR1, also="keepalived_parent.data"),
                "json": _dump(n, "keepalived.json", SIGFUNCS["JSON"]),
                "stats": _dump(n, "keepalived.stats", signal.SIGUSR2),
                "log": n.logs(),
            }
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_dumps_as_keepalived(oracle_lab: tuple[Lab, Host, Host], tmp_path: Path, case: str) -> None:
    conf, setup, ready, peer = CASES[case]
    conf = conf.replace("TRACK_FILE", str(tmp_path / "track_file"))
    lab, ka_host, py_host = oracle_lab
    files = _run(lab, (ka_host, py_host), conf, setup, ready, peer)
    ka, py = files["ka"], files["py"]
    for f in (ka, py):
        f["data"], f["parent"] = f["data"].split("\0")
    # the parent's file: dump_global_data alone (no `Default interface`, lower priority GARP unset)
    assert _mask(py["parent"]) == _mask(ka["parent"])
    assert INTERFACES in ka["data"] and INTERFACES in py["data"]
    assert _mask(py["data"]) == _mask(ka["data"])
    # the libnftnl line is the only one left out before the Interfaces section
    lines = [len(f["data"].split(INTERFACES)[0].splitlines()) for f in (py, ka)]
    assert lines[0] == lines[1] - 1
    assert _json_masked(py["json"]) == _json_masked(ka["json"])
    assert re.sub(r"\d+", "N", py["stats"]) == re.sub(r"\d+", "N", ka["stats"])
    # the VRRP child (not the parent) logs the missing default script user again at each dump
    user = "Script user 'keepalived_script' does not exist"
    assert py["log"].count(user) == ka["log"].count(user)


def test_parent_dump_allow_if_changes_as_keepalived(oracle_lab: tuple[Lab, Host, Host],
                                                    tmp_path: Path) -> None:
    """`dynamic_interfaces allow_if_changes` in keepalived_parent.data (`Allow interface changes =
    true`). The VRRP child's file is not compared: keepalived marks its interfaces there (`Interface
    type/base can be changed`), pykeepalived does not (docs/compatibility.md, dynamic_interfaces)."""
    conf = CONF_GLOBALS.replace("router_id G9", "router_id G9\n    dynamic_interfaces allow_if_changes")
    lab, ka_host, py_host = oracle_lab
    files = _run(lab, (ka_host, py_host), conf.replace("TRACK_FILE", str(tmp_path / "track_file")), (),
                 ("(VI_G) Entering MASTER STATE",), None)
    ka, py = (files[impl]["data"].split("\0")[1] for impl in ("ka", "py"))
    assert " Allow interface changes = true" in ka
    assert _mask(py) == _mask(ka)


def test_json_escapes_as_keepalived() -> None:
    """keepalived's json_writer: compact, `\\/`, %g numbers, %f last_transition."""
    from pykeepalived.daemon.dump_format import Fixed, ka_json

    doc = [{"data": {"a": "'/usr/bin/echo' 'x\"y'", "f": 0.5, "g": 1.0, "t": Fixed(12.25), "b": True}}]
    assert ka_json(doc) == ('[{"data":{"a":"\'\\/usr\\/bin\\/echo\' \'x\\"y\'","f":0.5,"g":1,'
                            '"t":12.250000,"b":true}}]')


def test_last_transition_after_a_reload_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    """keepalived 2.2.7 builds every instance anew at a reload (alloc_vrrp sets last_transition) and
    copies only the state of one that still exists: the `Last transition` of a kept MASTER, of a kept
    BACKUP and the JSON's last_transition are the reload's time, not the instance's last change."""
    import time

    from pykeepalived.lab.node import instance_conf

    _, ka, py = oracle_lab
    conf = instance_conf(state="MASTER", prio=150) + instance_conf(
        "VI_2", vrid=52, advert="30", vips=("192.0.2.101/24",)).split("}\n", 1)[1]  # BACKUP for 90 s
    with differential([ka, py], conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: "(VI_1) Entering MASTER STATE" in n.logs(), 30)
        time.sleep(2)
        for n in pair:
            n.conf.write_text(conf.replace("priority 150", "priority 140"))
        reload_at = time.time()
        for n in pair:
            n.signal(signal.SIGHUP)
        for n in pair:
            wait_for(lambda n=n: "Reload complete" in n.logs(), 30)
        found = {}
        for n in pair:
            data = _dump(n, "keepalived.data", signal.SIGUSR1)
            found[n.impl] = [(name, float(t) >= reload_at) for name, t in re.findall(
                r"VRRP Instance = (\S+)\n(?:.*\n)*?   Last transition = (\d+\.\d+)", data)]
            js = _dump(n, "keepalived.json", SIGFUNCS["JSON"])
            found[n.impl] += [("json", float(t) >= reload_at)
                              for t in re.findall(r'"last_transition":(\d+\.\d+)', js)]
        assert found["py"] == found["ka"]
        assert found["ka"] == [("VI_1", True), ("VI_2", True), ("json", True), ("json", True)]
