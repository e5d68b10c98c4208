"""Control plane parts without namespaces: timing statistics, the extension keywords, sd_notify,
the metrics endpoint over real loopback HTTP with a real VRRP engine, pykeepalivedctl's exits."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import time
from ipaddress import IPv4Address
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from pykeepalived.check.model import RealServerSpec, VirtualServerSpec
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.check.state import VirtualServerState
from pykeepalived.config import load_config
from pykeepalived.config.ext import parse_listen
from pykeepalived.control import ctl, sdnotify
from pykeepalived.control.metrics import (
    CheckerCollector,
    MetricsServer,
    VrrpCollector,
    listen_address,
    make_registry,
)
from pykeepalived.control.server import socket_path
from pykeepalived.control.timing import LATE_US, TimingStats
from pykeepalived.daemon.vrrp.instances import InstanceTable
from pykeepalived.lvs.model import Protocol, ServiceKey
from pykeepalived.vrrp.effects import State
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, InstanceParams


# ---------------------------------------------------------------------------- timing
def test_timer_lateness_and_late_events() -> None:
    t = TimingStats()
    t.record_timer(1_000_000, 1_000_300)  # 300 µs late
    t.record_timer(2_000_000, 2_000_000 + LATE_US + 1)  # late event
    t.record_timer(3_000_000, 2_999_990)  # early reads as 0
    assert t.timer_lateness.count == 3
    assert t.late_timer_events == 1
    assert t.max_lateness_us == LATE_US + 1
    buckets = dict(t.timer_lateness.cumulative())
    assert buckets["0.0001"] == 1 and buckets["0.0005"] == 2 and buckets["+Inf"] == 3


def test_advert_jitter_ignores_gaps_and_restarts_after_leaving_master() -> None:
    t = TimingStats()
    t.record_advert("VI_1", 0, SEC)
    t.record_advert("VI_1", SEC + 2_000, SEC)  # 2 ms jitter
    t.record_advert("VI_1", 2 * SEC + 1_500, SEC)  # 500 µs early -> 500 µs jitter
    t.record_advert("VI_1", 10 * SEC, SEC)  # gap: was not master in between
    assert t.advert_jitter.count == 2
    assert t.advert_jitter.sum_us == 2_000 + 500
    t.forget("VI_1")
    t.record_advert("VI_1", 10 * SEC + 10, SEC)
    assert t.advert_jitter.count == 2


# ---------------------------------------------------------------------------- keywords
def test_parse_listen_forms() -> None:
    assert parse_listen("9100") == ("127.0.0.1", 9100)
    assert parse_listen("192.0.2.1:9100") == ("192.0.2.1", 9100)
    assert parse_listen("192.0.2.1") == ("192.0.2.1", 9650)
    assert parse_listen("[2001:db8::1]:9100") == ("2001:db8::1", 9100)
    assert parse_listen("2001:db8::1") == ("2001:db8::1", 9650)
    for bad in ("host:9100", "192.0.2.1:0", "192.0.2.1:70000", "[2001:db8::1", "1.2.3.4:x"):
        assert parse_listen(bad) is None, bad


def test_extension_keywords_in_global_defs(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n  pykeepalived_metrics_address\n"
                    "  pykeepalived_control_socket /x/c.sock\n}\n")
    model, diags = load_config(str(conf), None, False)
    assert diags == []
    assert listen_address(model.global_defs.pykeepalived_metrics_address) == ("127.0.0.1", 9650)
    assert socket_path(model.global_defs.pykeepalived_control_socket, "/run/vrrp.pid") == "/x/c.sock"
    assert socket_path(None, "/tmp/d/vrrp.pid") == "/tmp/d/pykeepalived.sock"
    assert socket_path("off", "/run/vrrp.pid") is None


def test_bad_metrics_address_names_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n  router_id r\n  pykeepalived_metrics_address localhost:80\n}\n")
    model, diags = load_config(str(conf), None, False)
    text = "\n".join(d.format() for d in diags)
    assert "Line 3" in text and "pykeepalived_metrics_address 'localhost:80'" in text, text
    assert listen_address(model.global_defs.pykeepalived_metrics_address) is None


# ---------------------------------------------------------------------------- sd_notify
def test_sd_notify_datagram_and_ready_pipe(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as srv:
        srv.bind(path)
        srv.settimeout(5)
        assert sdnotify.notify("READY=1\nSTATUS=x", {"NOTIFY_SOCKET": path})
        assert srv.recv(100) == b"READY=1\nSTATUS=x"
    assert not sdnotify.notify("READY=1", {})
    got: list[str] = []
    pipe = sdnotify.ReadyPipe(got.append)
    pipe.start()
    os.environ.update(pipe.child_env())
    sdnotify.child_ready("vrrp")
    assert sdnotify.READY_FD_ENV not in os.environ
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == ["vrrp"]


# ---------------------------------------------------------------------------- metrics over HTTP
def params(name: str = "VI_1", prio: int = 100) -> InstanceParams:
    return InstanceParams(name=name, vrid=51, family=4, version=2, base_priority=prio, interface="eth9",
                          adver_int_us=SEC, vips=(IPv4Address("192.0.2.100"),), wants_master=True)


async def http_get(port: int, path: str) -> tuple[int, str]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = await r.read()
    w.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_endpoint_reads_the_live_engine() -> None:
    engine = VrrpEngine()
    inst = engine.add_instance(VrrpInstance(params()))
    timing = TimingStats()
    registry = make_registry(VrrpCollector(InstanceTable(engine), timing), process=False)

    async def go() -> tuple[str, str, int]:
        server = MetricsServer(registry, "127.0.0.1", 0, interval=0)  # every scrape renders anew
        await server.start()
        try:
            engine.start(0)
            inst.set_source_address(IPv4Address("192.0.2.1"), 0)
            code1, before = await http_get(server.port, "/metrics")
            assert code1 == 200
            deadline = engine.next_deadline()
            assert deadline is not None
            engine.handle_timer(deadline)  # master down timer: becomes MASTER
            timing.record_timer(deadline, deadline + 20_000)
            _, after = await http_get(server.port, "/metrics")
            code404, _ = await http_get(server.port, "/nope")
            return before, after, code404
        finally:
            await server.close()

    before, after, code404 = asyncio.run(go())
    assert code404 == 404
    vip = (("iname", "VI_1"), ("intf", "eth9"), ("ip_address", "192.0.2.100/32"), ("vrid", "51"))
    common = (("iname", "VI_1"), ("intf", "eth9"), ("vrid", "51"))
    b, a = samples(before), samples(after)
    assert b[("keepalived_up", ())] == 1
    assert b[("keepalived_vrrp_state", vip)] == 1  # BACKUP
    assert b[("keepalived_become_master_total", common)] == 0
    assert inst.state == State.MASTER
    assert a[("keepalived_vrrp_state", vip)] == 2
    assert a[("keepalived_become_master_total", common)] == 1
    assert a[("keepalived_advertisements_sent_total", common)] == inst.stats["advert_sent"] >= 1
    assert a[("pykeepalived_late_timer_events_total", ())] == 1
    assert a[("pykeepalived_timer_lateness_seconds_count", ())] == 1


def test_checker_collector_follows_real_server_state() -> None:
    rs = (RealServerSpec(addr="192.0.2.11", port=80, weight=3),
          RealServerSpec(addr="192.0.2.12", port=80, weight=2))
    spec = VirtualServerSpec(key=ServiceKey(4, Protocol.TCP, "203.0.113.10", 80), quorum=4, real_servers=rs)
    runtime = CheckerRuntime([spec])
    vs = VirtualServerState(spec)
    runtime.states = [vs]
    registry = make_registry(CheckerCollector(runtime), process=False)
    from prometheus_client import generate_latest

    s0 = samples(generate_latest(registry).decode())
    vs.checker_result(0, 1, False)
    s1 = samples(generate_latest(registry).decode())
    key = (("real_server", "[192.0.2.11]:tcp:80"), ("virtual_server", vs.fmt))
    assert s0[("pykeepalived_real_server_up", key)] == 1 and s1[("pykeepalived_real_server_up", key)] == 0
    assert s0[("pykeepalived_virtual_server_quorum_up", (("virtual_server", vs.fmt),))] == 1
    assert s1[("pykeepalived_virtual_server_quorum_up", (("virtual_server", vs.fmt),))] == 0
    assert s1[("pykeepalived_virtual_server_alive_weight", (("virtual_server", vs.fmt),))] == 2


# ---------------------------------------------------------------------------- pykeepalivedctl
def test_ctl_unreachable_and_usage(tmp_path: Path) -> None:
    out = io.StringIO()
    assert ctl.main(["-s", str(tmp_path / "none.sock"), "status"], out) == ctl.EXIT_UNREACHABLE
    assert ctl.main(["-s", str(tmp_path / "none.sock"), "--json", "status"], out) == ctl.EXIT_UNREACHABLE
    assert '"ok": false' in out.getvalue()
    assert ctl.main(["frobnicate"], out) == ctl.EXIT_USAGE


def test_ctl_expectations() -> None:
    reply = {"vrrp": [{"data": {"iname": "A", "state": 2}}, {"data": {"iname": "B", "state": 3}}]}
    assert ctl.check_expectations(reply, [])[0] == ctl.EXIT_FAULT
    assert ctl.check_expectations(reply, ["A=backup"])[0] == ctl.EXIT_UNEXPECTED
    ok = {"vrrp": [{"data": {"iname": "A", "state": 2}}]}
    assert ctl.check_expectations(ok, ["A=master"]) == (ctl.EXIT_OK, [])
    assert ctl.check_expectations(ok, ["Z=MASTER"])[0] == ctl.EXIT_UNEXPECTED
