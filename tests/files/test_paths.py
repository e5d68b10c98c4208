"""Placement of the dump files, reload_time_file parsing and the ReloadTimer on real files, and
receive buffer sizes set on real kernel sockets (no namespace needed: sockets of this process)."""

from __future__ import annotations

import ctypes
import os
import socket
import time
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.bag_fields import netlink_bufs, rx_bufs_policy
from pykeepalived.config.glibc_random import GlibcRandom
from pykeepalived.config.include_check import ALL, INCLUDE_M, INCLUDE_R, apply_include_check
from pykeepalived.daemon.dumpfiles import DumpPaths, paths_of, save_config, tmp_dir
from pykeepalived.daemon.parent.parent_files import (
    ParentConf,
    ReloadTimer,
    create_reload_file,
    parse_reload_time,
    read_parent_conf,
    remove_reload_file,
)
from pykeepalived.linux.rcvbuf import SocketRxBufs, advert_len, apply_netlink_bufs, instance_rx_buf


def test_tmp_dir_is_keepalived_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", "relative/dir")
    assert tmp_dir() == "/tmp"
    monkeypatch.setenv("TMPDIR", "/var/tmp/x")  # absolute: used as is, as keepalived does
    assert tmp_dir() == "/var/tmp/x"
    monkeypatch.delenv("TMPDIR")
    assert tmp_dir() == "/tmp"


@pytest.mark.parametrize(("kw", "process", "expected"), [
    ({}, "", "/T/keepalived.data"),
    ({}, "_check", "/T/keepalived_check.data"),
    ({"data_use_instance": True}, "_bfd", "/T/keepalived_bfd.data"),  # no instance nor namespace
    ({"data_use_instance": True, "instance": "inst"}, "_check", "/T/keepalived_check.inst.data"),
    ({"data_use_instance": True, "namespace": "ns1"}, "", "/T/keepalived.ns1.data"),
    ({"data_use_instance": True, "namespace": "ns1", "instance": "i"}, "_parent",
     "/T/keepalived_parent.ns1_i.data"),
    ({"instance": "inst"}, "", "/T/keepalived.data"),  # without data_use_instance
    ({"state_dump_file": "/srv/dumps/"}, "_check", "/srv/dumps/keepalived_check.data"),
    ({"state_dump_file": "/srv/state.txt"}, "", "/srv/state.txt"),
    ({"state_dump_file": "/srv/state.txt"}, "_bfd", "/srv/state_bfd.txt"),
    ({"state_dump_file": "/srv/state"}, "_check", "/srv/state_check"),
    ({"state_dump_file": "rel/state.d"}, "", "/T/state.d"),  # relative: in tmp_dir
    ({"state_dump_file": "/srv/s.data", "data_use_instance": True, "instance": "a"}, "_check",
     "/srv/s_check.a.data"),
])
def test_state_file_placement(monkeypatch: pytest.MonkeyPatch, kw: dict[str, object], process: str,
                              expected: str) -> None:
    monkeypatch.setenv("TMPDIR", "/T")
    assert DumpPaths(**kw).state(process) == expected  # type: ignore[arg-type]


def test_stats_and_json_placement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", "/T")
    p = DumpPaths()
    assert (p.stats(), p.json()) == ("/T/keepalived.stats", "/T/keepalived.json")
    p = DumpPaths(stats_dump_file="/d/", json_dump_file="/d/k.json", data_use_instance=True, instance="x")
    assert (p.stats(), p.json()) == ("/d/keepalived.x.stats", "/d/k.json")


def test_paths_of_reads_global_and_root_keywords(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("instance blue\nnet_namespace ns\nglobal_defs {\n    state_dump_file /d/\n"
                    "    json_version 2\n    data_use_instance true\n}\n")
    model, _ = load_config(str(conf))
    p = paths_of(model)
    assert p.json_version == 2 and p.state() == "/d/keepalived.ns_blue.data"
    conf.write_text("global_defs {\n}\n")
    assert paths_of(load_config(str(conf))[0], namespace="cli").namespace == "cli"  # -s


# ------------------------------------------------------------------ reload_time_file
def test_parse_reload_time_forms() -> None:
    now = time.time()
    soon = time.localtime(now + 60)
    t = parse_reload_time(time.strftime("%H:%M:%S", soon), now)
    assert isinstance(t, tuple) and 55 < t[0] - now < 65 and t[1] is False
    t = parse_reload_time(time.strftime("%H:%M:%S", time.localtime(now - 60)), now)
    assert isinstance(t, tuple) and 86_000 < t[0] - now < 86_400  # tomorrow
    t = parse_reload_time(time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(now + 120)), now)
    assert isinstance(t, tuple) and 115 < t[0] - now < 125 and t[1] is True
    t = parse_reload_time(time.strftime("%y-%m-%d %H:%M:%S", soon), now)
    assert isinstance(t, tuple) and t[1] is True
    assert parse_reload_time("2001-01-01 00:00:00", now) == "past"
    assert parse_reload_time("12:00", now) == "Reload time 12:00 format is incorrect - ignoring"
    assert parse_reload_time("25:61:00", now) == "Reload date/time 25:61:00 invalid - ignoring"


def test_reload_timer_on_a_real_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    f = tmp_path / "reload_at"
    timer = ReloadTimer(str(f), repeat=False)
    timer.start()
    assert timer.reload_time == 0 and not timer.poll()
    now = time.time()
    f.write_text(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now + 100)) + "\n")
    assert not timer.poll(now)
    assert "Scheduling reload for" in caplog.text and timer.timeout(now) is not None
    later = now + 200
    f.write_text(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(later)) + "\n")
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # a distinct mtime on coarse clocks
    timer.poll(now)
    assert "Reload time updated from" in caplog.text
    assert timer.poll(later + 1) is True
    assert not f.exists()  # not reload_repeat: the file is removed
    f.write_text("xx\n")
    timer.start()
    assert "Invalid reload time 'xx' specified - ignoring" in caplog.text and timer.reload_time == 0


def test_reload_timer_repeat_keeps_time_of_day_file(tmp_path: Path) -> None:
    f = tmp_path / "reload_at"
    now = time.time()
    f.write_text(time.strftime("%H:%M:%S", time.localtime(now + 30)))
    timer = ReloadTimer(str(f), repeat=True)
    timer.start(now)
    assert timer.poll(now + 31) is True and f.exists()
    timer.start(now + 31)  # after the reload: the same time tomorrow
    assert 86_300 < timer.reload_time - now < 86_500
    f.unlink()
    assert timer.poll(now + 32) is False and timer.reload_time == 0  # removed: cancelled


# ------------------------------------------------------------------ receive buffers
def _rcvbuf(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def test_netlink_bufs_set_on_a_real_netlink_socket() -> None:
    assert netlink_bufs([], "vrrp_netlink_cmd") is None
    # as written (the data dump prints 0); applied, a size of 0 is keepalived's 64 KiB
    assert netlink_bufs([("vrrp_netlink_cmd_rcv_bufs_force", True)], "vrrp_netlink_cmd") == (0, True)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        assert apply_netlink_bufs(s, netlink_bufs([("vrrp_netlink_cmd_rcv_bufs", 0)], "vrrp_netlink_cmd"),
                                  "vrrp_netlink_cmd")
        assert _rcvbuf(s) == 2 * 65536
        bufs = netlink_bufs([("vrrp_netlink_cmd_rcv_bufs", 150_000)], "vrrp_netlink_cmd")
        assert apply_netlink_bufs(s, bufs, "vrrp_netlink_cmd")
        assert _rcvbuf(s) == 300_000  # the kernel doubles what it is given
        assert not apply_netlink_bufs(s, netlink_bufs([("vrrp_netlink_cmd_rcv_bufs", 1)], "lvs_netlink_cmd"),
                                      "lvs_netlink_cmd")
    if os.geteuid() == 0:  # SO_RCVBUFFORCE passes net.core.rmem_max
        rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
        big = rmem_max * 4
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
            apply_netlink_bufs(s, netlink_bufs([("process_monitor_rcv_bufs", big)], "process_monitor"),
                               "process_monitor")
            assert _rcvbuf(s) == 2 * rmem_max  # capped
            forced = [("process_monitor_rcv_bufs", big), ("process_monitor_rcv_bufs_force", True)]
            apply_netlink_bufs(s, netlink_bufs(forced, "process_monitor"), "process_monitor")
            assert _rcvbuf(s) == 2 * big


def test_vrrp_rx_bufs_policy_arithmetic() -> None:
    assert rx_bufs_policy([]) == (None, 0, 3)
    mtu5 = [("vrrp_rx_bufs_policy", ("MTU",)), ("vrrp_rx_bufs_multiplier", 5)]
    assert rx_bufs_policy(mtu5) == ("MTU", 0, 5)
    assert rx_bufs_policy([("vrrp_rx_bufs_policy", ("20000",))]) == ("SIZE", 20000, 3)
    assert advert_len(4, 2, 1) == 20 + 8 + 8 + 4
    assert advert_len(4, 3, 2) == 20 + 8 + 8
    assert advert_len(6, 3, 1) == 8 + 16
    assert instance_rx_buf(("MTU", 0, 3), 0, 40, 1500) == 4500
    assert instance_rx_buf(("ADVERT", 0, 4), 0, 40, 1500) == 160
    assert instance_rx_buf(("MTU", 0, 3), 9000, 40, 1500) == 9000  # kernel_rx_buf_size first
    assert instance_rx_buf((None, 0, 3), 0, 40, 1500) == 0


def test_socket_rx_bufs_sum_instances_on_one_real_socket() -> None:
    bufs = SocketRxBufs()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        default = _rcvbuf(s)
        assert bufs.attach(s, "VI_1", 0) == 0 and _rcvbuf(s) == default  # nothing configured
        bufs.attach(s, "VI_1", 30_000)
        assert bufs.attach(s, "VI_2", 20_000) == 50_000
        assert _rcvbuf(s) == 100_000
        assert bufs.attach(s, "VI_2", 20_000) == 50_000  # attaching again does not add twice


# ------------------------------------------------------------------ random_seed, include_check
def test_glibc_random_matches_the_c_library() -> None:
    libc = ctypes.CDLL(None)
    libc.random.restype = ctypes.c_long
    for seed in (0, 1, 7, 12345, 2**31 + 5, 2**32 - 1):
        libc.srandom(ctypes.c_uint(seed))
        expected = [libc.random() for _ in range(40)]
        g = GlibcRandom(seed)
        assert [g.random() for _ in range(40)] == expected


def test_random_seed_makes_random_reproducible(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    body = "vrrp_instance V {\n interface eth0\n virtual_router_id ${_RANDOM 1 255}\n" \
           " priority ${_RANDOM 1 254}\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n"
    conf.write_text("global_defs {\n random_seed 4242\n}\n" + body)
    libc = ctypes.CDLL(None)
    libc.random.restype = ctypes.c_long
    libc.srandom(ctypes.c_uint(4242))
    vrid, prio = libc.random() % 255 + 1, libc.random() % 254 + 1  # keepalived's get_random()
    for _ in range(2):  # every read, the first one too
        model, diags = load_config(str(conf))
        assert [(i.vrid, i.priority) for i in model.vrrp_instances] == [(vrid, prio)], diags


def test_include_check_words() -> None:
    assert apply_include_check(0, ()) == (ALL, [])
    assert apply_include_check(0, ("match",)) == (INCLUDE_R | INCLUDE_M, [])
    assert apply_include_check(ALL, ("-match", "+brace_match")) == (ALL & ~INCLUDE_M, [])
    flags, errors = apply_include_check(0, ("read", "match", "bogus"))
    assert flags == INCLUDE_R
    assert errors == ["Duplicate include_check 'match' specified - ignoring",
                      "Duplicate include_check 'bogus' specified - ignoring"]
    assert apply_include_check(0, ("+nope",))[1] == ["Unknown include_check type 'nope' - ignoring"]


def test_config_save_dir_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class CheckerChild:  # named as the daemon's class: the process part of the name comes from it
        def __init__(self, model: object) -> None:
            self.model = model

        def data_text(self) -> str:
            return "checker dump\n"

    conf = tmp_path / "k.conf"
    conf.write_text(f"global_defs {{\n config_save_dir {tmp_path}/saved/\n}}\n")
    (tmp_path / "saved").mkdir()
    model, _ = load_config(str(conf))
    child = CheckerChild(model)
    pre = save_config(child, post=False)
    post = save_config(child, post=True)
    assert pre and post and Path(pre).read_text() == "checker dump\n"
    n = pre.rsplit(".", 2)[1]
    assert pre == f"{tmp_path}/saved/keepalived_check.{os.getpid()}.{n}.pre"
    assert post == f"{tmp_path}/saved/keepalived_check.{os.getpid()}.{n}.post"
    assert save_config(CheckerChild(None), post=False) is None  # not configured: nothing written


def test_reload_file_names_and_mode(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    cases = {"reload_file": "/run/keepalived.reload",
             f"reload_file {tmp_path}/r": f"{tmp_path}/r"}
    for kw, expected in cases.items():
        conf.write_text(f"global_defs {{\n {kw}\n}}\n")
        assert read_parent_conf(str(conf), None, False).reload_file == expected
    conf.write_text("instance blue\nglobal_defs {\n reload_file\n reload_time_file /x\n reload_repeat\n}\n")
    pc = read_parent_conf(str(conf), None, False)
    assert pc == ParentConf("/x", True, "/run/keepalived/keepalived_blue.reload", False)
    old = os.umask(0o077)
    try:
        create_reload_file(f"{tmp_path}/r")
    finally:
        os.umask(old)
    assert (os.stat(f"{tmp_path}/r").st_mode & 0o777) == 0o644
    remove_reload_file(f"{tmp_path}/r")
    assert not os.path.exists(f"{tmp_path}/r")


# ------------------------------------------------------------------ iproute_etc_dir / iproute_usr_dir
def _routes_conf(tmp_path: Path, globals_: str) -> list[object]:
    conf = tmp_path / "k.conf"
    conf.write_text(f"global_defs {{\n{globals_}}}\nstatic_routes {{\n 198.51.100.0/24 dev eth0 table blue\n"
                    " 203.0.113.0/24 dev eth0 table green\n 192.0.2.0/24 dev eth0 table red\n}\n")
    model, diags = load_config(str(conf))
    return [*(r.table for r in model.static_routes), *(d.message for d in diags)]  # type: ignore[attr-defined]


def test_iproute_dirs(tmp_path: Path) -> None:
    etc, usr = tmp_path / "etc", tmp_path / "usr"
    for d in (etc / "rt_tables.d", usr / "rt_tables.d"):
        d.mkdir(parents=True)
    (usr / "rt_tables").write_text("100 blue\n")
    (usr / "rt_tables.d" / "a.conf").write_text("101 green\n")
    (usr / "rt_tables.d" / "b.conf").write_text("102 red\n")
    (etc / "rt_tables.d" / "b.conf").write_text("103 red # etc overrides usr\n")
    out = _routes_conf(tmp_path, f" iproute_etc_dir {etc}\n iproute_usr_dir {usr}\n")
    assert out == [100, 101, 103]  # rt_tables from usr (none in etc), .d from both, etc's b.conf wins
    (etc / "rt_tables").write_text("200 blue\n")
    assert _routes_conf(tmp_path, f" iproute_etc_dir {etc}\n iproute_usr_dir {usr}/\n")[0] == 200
    plain = _routes_conf(tmp_path, "")  # keepalived 2.2.7: /etc/iproute2/rt_tables only
    assert "Routing table blue not found for route" in plain
