"""The running daemon's files, in namespaces: state/stats/JSON files placed by state_dump_file,
stats_dump_file, json_dump_file and data_use_instance, the json_version 1 shape compared with
keepalived 2.2.7's for the same configuration, scheduled reloads from reload_time_file (both
implementations, observed in their logs), and receive buffers read back from the kernel (ss)."""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, instance_conf, wait_for
from pykeepalived.options import SIGFUNCS

SYS_PIDFD_GETFD = 438

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _json(path: Path, timeout: float = 8) -> object:
    def ready() -> bool:
        try:
            json.loads(path.read_text())
            return True
        except (OSError, ValueError):
            return False

    wait_for(ready, timeout)
    return json.loads(path.read_text())


def test_dump_files_are_placed_and_json_v2(lab: Lab, nodes: list[Node]) -> None:
    node = Node(lab["n1"], "")
    dumps = node.dir / "dumps"
    dumps.mkdir()
    conf = "instance blue\n" + instance_conf(prio=150, state="MASTER", globals_=f"""
    state_dump_file {dumps}/
    stats_dump_file {dumps}/st.stats
    json_dump_file {dumps}/ka.json
    json_version 2
    data_use_instance
""") + """
vrrp_track_process SLEEPERS {
    process pyka-no-such-process
    weight 10
}
"""
    node.conf.write_text(conf)
    nodes.append(node.start())
    wait_for(lambda: node.has("192.0.2.100"), 15)
    node.signal(signal.SIGUSR1)  # the parent writes its own file and forwards to its children
    names = ("keepalived.blue.data", "keepalived_parent.blue.data")
    wait_for(lambda: all((dumps / f).exists() for f in names), 8)
    assert "VRRP Instance = VI_1" in (dumps / "keepalived.blue.data").read_text()
    parent = (dumps / "keepalived_parent.blue.data").read_text()  # keepalived's dump_global_data
    assert "\n Instance name = blue\n" in parent and "\n Use instance name in data dumps\n" in parent
    assert "Printing parent data for process(" in node.logs()
    node.signal(signal.SIGUSR2)
    wait_for(lambda: (dumps / "st.blue.stats").exists(), 8)
    assert "VRRP Instance: VI_1" in (dumps / "st.blue.stats").read_text()
    node.signal(SIGFUNCS["JSON"])
    doc = _json(dumps / "ka.json")
    assert "Printing VRRP as json for process(" in node.logs()
    assert isinstance(doc, dict) and set(doc) == {"vrrp", "track_process"}
    assert doc["vrrp"][0]["data"]["iname"] == "VI_1" and doc["vrrp"][0]["data"]["state"] == 2
    tp = doc["track_process"][0]
    assert tp["process"] == "pyka-no-such-process" and tp["current_processes"] == 0
    assert tp["have_quorum"] is False and tp["weight"] == 10 and tp["param_match"] == "none"
    assert not [p for p in node.dir.glob("keepalived*") if p.name != "keepalived.conf"]  # none in TMPDIR


def test_json_v1_shape_as_keepalived(lab: Lab, nodes: list[Node]) -> None:
    docs = {}
    for impl, host, vrid in (("py", "n1", 61), ("ka", "n2", 62)):
        n = Node(lab[host], instance_conf(prio=150, state="MASTER", vrid=vrid), impl=impl)
        nodes.append(n.start())
        wait_for(lambda n=n: n.has("192.0.2.100"), 15)
        n.signal(SIGFUNCS["JSON"])
        docs[impl] = _json(n.dir / "keepalived.json")
    py, ka = docs["py"], docs["ka"]
    assert isinstance(py, list) and isinstance(ka, list) and len(py) == len(ka) == 1
    assert set(py[0]) == set(ka[0]) == {"data", "stats"}
    assert set(py[0]["stats"]) == set(ka[0]["stats"])
    missing = set(py[0]["data"]) - set(ka[0]["data"])
    assert not missing, f"keys keepalived does not write: {missing}"
    for key in ("iname", "vrid", "state", "base_priority", "effective_priority", "version", "vips"):
        assert py[0]["data"][key] == ka[0]["data"][key] or key == "vrid", key


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_scheduled_reload(lab: Lab, nodes: list[Node], impl: str) -> None:
    node = Node(lab["n1"], "", impl=impl)
    at = node.dir / "reload_at"
    node.conf.write_text(instance_conf(prio=150, state="MASTER", globals_=f"    reload_time_file {at}\n"))
    nodes.append(node.start())
    wait_for(lambda: node.has("192.0.2.100"), 15)
    when = time.time() + 3
    at.write_text(time.strftime("%H:%M:%S", time.localtime(when)) + "\n")
    wait_for(lambda: "Scheduling reload for" in node.logs(), 5)
    m = re.search(r"Scheduling reload for (\S+ \S+)", node.logs())
    assert m and m.group(1) == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(when)))
    assert "Reloading ..." not in node.logs()
    wait_for(lambda: "Reloading ..." in node.logs(), 8)
    assert time.time() >= int(when) - 0.1
    wait_for(lambda: not at.exists(), 3)  # no reload_repeat: the file goes
    assert node.proc is not None and node.proc.poll() is None and node.has("192.0.2.100")


def _sockets_of(pid: int) -> list[tuple[int, int, int, int]]:
    """(family, type, protocol, SO_RCVBUF) of every socket of process pid, read with getsockopt on
    duplicates taken with pidfd_getfd(2) (as root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    out = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    continue
            except OSError:
                continue
            dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
            if dup < 0:
                continue
            with socket.socket(fileno=dup) as s:
                out.append((s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN),
                            s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE),
                            s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL),
                            s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)))
    finally:
        os.close(pidfd)
    return out


def test_receive_buffers_read_back_from_the_kernel(lab: Lab, nodes: list[Node]) -> None:
    host = lab["n1"]
    mtu = int(re.search(r"mtu (\d+)", host.ip("link", "show", "eth0")).group(1))  # type: ignore[union-attr]
    node = Node(host, instance_conf(prio=150, state="MASTER", globals_="""
    vrrp_rx_bufs_policy MTU
    vrrp_rx_bufs_multiplier 7
    vrrp_netlink_monitor_rcv_bufs 333333
    vrrp_netlink_cmd_rcv_bufs 222222
"""))
    nodes.append(node.start())
    wait_for(lambda: node.has("192.0.2.100"), 15)
    pid = node.vrrp_pid()
    assert pid
    socks = _sockets_of(pid)
    raw = [rb for fam, typ, proto, rb in socks
           if fam == socket.AF_INET and typ == socket.SOCK_RAW and proto == 112]
    assert 2 * 7 * mtu in raw, socks  # the VRRP receive socket: multiplier x MTU, doubled by the kernel
    nl = [rb for fam, _, proto, rb in socks if fam == socket.AF_NETLINK and proto == socket.NETLINK_ROUTE]
    assert 2 * 333333 in nl and 2 * 222222 in nl, socks


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_failed_include_check_stops_the_daemon(lab: Lab, nodes: list[Node], impl: str) -> None:
    node = Node(lab["n1"], "", impl=impl)
    node.conf.write_text(instance_conf(globals_="    include_check match\n").replace(
        "vrrp_instance", f"include {node.dir}/nosuch.conf\nvrrp_instance", 1))
    nodes.append(node.start())
    assert node.proc is not None
    assert node.proc.wait(20) == 6  # KEEPALIVED_EXIT_NO_CONFIG
    assert f"Config files missing '{node.dir}/nosuch.conf'." in node.logs()
    assert node.vrrp_pid() is None


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_config_save_dir_around_a_reload(lab: Lab, nodes: list[Node], impl: str) -> None:
    node = Node(lab["n1"], "", impl=impl)
    saved = node.dir / "saved"  # created by the parent
    node.conf.write_text(instance_conf(prio=150, state="MASTER", globals_=f"    config_save_dir {saved}\n"))
    nodes.append(node.start())
    wait_for(lambda: node.has("192.0.2.100"), 15)
    assert node.proc is not None
    parent = node.proc.pid if impl == "ka" else int((node.dir / "parent.pid").read_text())
    assert sorted(p.name for p in saved.iterdir()) == [f"keepalived.conf.{parent}.0"]  # the copy read
    node.signal(signal.SIGHUP)
    pid = node.vrrp_pid()
    wait_for(lambda: (saved / f"keepalived_vrrp.{pid}.1.post").exists(), 10)
    assert (saved / f"keepalived.conf.{parent}.1").exists()
    assert (saved / f"keepalived_vrrp.{pid}.1.pre").exists()
    assert "VI_1" in (saved / f"keepalived_vrrp.{pid}.1.post").read_text()


def test_random_seed_makes_random_repeatable_in_the_daemon(lab: Lab, nodes: list[Node]) -> None:
    """As keepalived documents random_seed (its 2.2.7 parser clears the seed before using it):
    ${_RANDOM} is glibc's random() after srandom(N), at start and after a reload."""
    libc = ctypes.CDLL(None)
    libc.random.restype = ctypes.c_long
    libc.srandom(ctypes.c_uint(777))
    expected = libc.random() % 200 + 50
    n = Node(lab["n1"], instance_conf(state="MASTER", vrid=71, globals_="    random_seed 777\n")
             .replace("priority 100", "priority ${_RANDOM 50 249}"))
    nodes.append(n.start())
    wait_for(lambda: n.has("192.0.2.100"), 15)
    prios = []
    for _ in range(2):
        n.signal(SIGFUNCS["JSON"])
        prios.append(_json(n.dir / "keepalived.json")[0]["data"]["base_priority"])  # type: ignore[index]
        (n.dir / "keepalived.json").unlink()
        n.signal(signal.SIGHUP)
        wait_for(lambda: n.logs().count("Reloading") >= 2, 10)
        time.sleep(0.5)
    assert prios == [expected, expected]


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_tmp_config_directory_cannot_change_at_a_reload(lab: Lab, nodes: list[Node], impl: str) -> None:
    node = Node(lab["n1"], "", impl=impl)
    a, b = node.dir / "a", node.dir / "b"
    a.mkdir()
    b.mkdir()
    node.conf.write_text(instance_conf(prio=150, state="MASTER", globals_=f"    tmp_config_directory {a}\n"))
    nodes.append(node.start())
    wait_for(lambda: node.has("192.0.2.100"), 15)
    assert "Cannot open config directory" not in node.logs()
    changed = node.conf.read_text().replace(str(a), str(b)).replace("priority 150", "priority 140")
    node.conf.write_text(changed)
    node.signal(signal.SIGHUP)
    refused = "Cannot change config_directory at a reload - please restart keepalived"
    wait_for(lambda: refused in node.logs(), 8)
    time.sleep(1)
    assert node.logs().count("Reloading") == 1  # the parent's "Reloading ...": the children were not told


def test_checker_monitor_buffer_read_back(lab: Lab, nodes: list[Node]) -> None:
    node = Node(lab["n1"], """global_defs {
    lvs_dataplane nftables
    lvs_netlink_monitor_rcv_bufs 444444
}
virtual_server 198.51.100.10 80 {
    ha_suspend
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 203.0.113.5 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
""")
    nodes.append(node.start())
    pidfile = node.dir / "check.pid"  # created, then written (as keepalived's): wait for the number
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), 15)
    pid = int(pidfile.read_text())

    def monitor() -> list[int]:
        return [rb for fam, _, proto, rb in _sockets_of(pid)
                if fam == socket.AF_NETLINK and proto == socket.NETLINK_ROUTE and rb == 2 * 444444]

    wait_for(lambda: bool(monitor()), 15)  # opened once ha_suspend needs the address events
