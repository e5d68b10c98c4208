"""The checker child's control plane without namespaces: its control socket over a real unix socket
with a real CheckerRuntime probing real loopback TCP listeners, pykeepalivedctl against it (the VRRP
child absent), the LVS counters with gen2brain/keepalived_exporter's names, the counters cache's time
bound, and the metrics endpoint moving between addresses."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pykeepalived.check.model import RealServerSpec, TcpCheckSpec, TimingOpts, VirtualServerSpec
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.config.model import Model
from pykeepalived.control import ctl
from pykeepalived.control.check_plane import CheckerPlane
from pykeepalived.control.check_server import LvsStatsCache, stats_text
from pykeepalived.control.endpoint import MetricsEndpoint
from pykeepalived.control.metrics import CheckerCollector, make_registry, render
from pykeepalived.control.server import check_socket_for, check_socket_path
from pykeepalived.lvs.model import DestKey, LvsCounters, LvsStats, Protocol, ServiceKey, ServiceStats

VS_KEY = ServiceKey(4, Protocol.TCP, "203.0.113.10", 80)
FAST = TimingOpts(delay_loop=0.2, retry=0, delay_before_retry=0.1, warmup=0, connect_timeout=1)


def test_check_socket_paths() -> None:
    assert check_socket_path(None, "/run/checkers.pid") == "/run/pykeepalived_check.sock"
    assert check_socket_path("/x/ctl.sock", "/run/c.pid") == "/x/ctl_check.sock"
    assert check_socket_path("off", "/run/c.pid") is None
    assert check_socket_for("/run/pykeepalived.sock") == "/run/pykeepalived_check.sock"


async def listener() -> asyncio.Server:
    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def ctl_run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return ctl.main(list(args), out), out.getvalue()


def test_checker_control_socket_and_ctl(tmp_path: Path) -> None:
    vsock = str(tmp_path / "pykeepalived.sock")  # absent: the checker's is pykeepalived_check.sock

    async def go() -> dict[str, Any]:
        a, b = await listener(), await listener()
        pa, pb = (s.sockets[0].getsockname()[1] for s in (a, b))
        spec = VirtualServerSpec(key=VS_KEY, scheduler="wrr", quorum=3, real_servers=(
            RealServerSpec(addr="127.0.0.1", port=pa, weight=2, checks=(TcpCheckSpec(timing=FAST),)),
            RealServerSpec(addr="127.0.0.1", port=pb, weight=1, checks=(TcpCheckSpec(timing=FAST),))))
        fifo: list[str] = []
        child = SimpleNamespace(rt=None, backend=None, dataplane="none",
                                data_text=lambda: "------< Health checkers >------\n")
        plane = CheckerPlane(child, str(tmp_path / "checkers.pid"))  # type: ignore[arg-type]
        child.rt = rt = CheckerRuntime([spec], None, fifo=plane.tee(fifo.append))
        await rt.start()
        await plane.start(Model())
        res: dict[str, Any] = {"pa": pa, "pb": pb}
        try:
            while any(c.last is None for c in rt.checkers):
                await asyncio.sleep(0.05)
            res["json"] = await asyncio.to_thread(ctl_run, "-s", vsock, "--json", "status")
            # the global options also after the command (issue 13)
            res["json_after"] = await asyncio.to_thread(ctl_run, "status", "--json", "-s", vsock)
            res["table"] = await asyncio.to_thread(ctl_run, "-s", vsock, "status", "--checkers")
            res["services"] = await asyncio.to_thread(ctl_run, "-s", vsock, "services",
                                                      "--expect", f"127.0.0.1:{pa}=UP")
            res["instances"] = await asyncio.to_thread(ctl_run, "-s", vsock, "instances")
            follow = asyncio.create_task(asyncio.to_thread(ctl_run, "-s", vsock, "--json", "follow",
                                                           "--count", "2"))
            while not plane.control or not plane.control.followers:
                await asyncio.sleep(0.02)
            a.close()  # the weight-2 server dies: it goes down and the quorum (3) is lost
            await a.wait_closed()
            res["follow"] = await asyncio.wait_for(follow, 10)
            res["fifo"] = list(fifo)
            res["lost"] = await asyncio.to_thread(ctl_run, "-s", vsock, "services", "--checkers")
            res["expect"] = [await asyncio.to_thread(ctl_run, "-s", vsock, "status", "--expect", e)
                             for e in (f"[127.0.0.1]:tcp:{pa}=DOWN", f"127.0.0.1:{pb}@{VS_KEY}=DOWN",
                                       f"{VS_KEY}=DOWN", "VI_1=MASTER")]
            res["dump"] = await asyncio.to_thread(ctl_run, "-s", vsock, "dump")
            res["stats"] = await asyncio.to_thread(ctl_run, "-s", vsock, "--json", "stats")
        finally:
            await plane.close()
            await rt.stop()
            b.close()
        res["closed"] = await asyncio.to_thread(ctl_run, "-s", vsock, "status")
        return res

    res = asyncio.run(go())
    pa, pb = res["pa"], res["pb"]
    assert pa != pb
    code, text = res["json"]
    assert code == ctl.EXIT_OK, text
    reply = json.loads(text)
    code_after, text_after = res["json_after"]
    assert code_after == ctl.EXIT_OK, text_after
    after, same = json.loads(text_after), json.loads(text)
    for r in (same, after):  # the last check's time moves on between the two
        for vs in r["virtual_servers"]:
            for rs in vs["real_servers"]:
                for chk in rs["checkers"]:
                    chk.pop("last_check")
    assert after == same
    assert reply["children"]["vrrp"]["absent"] and reply["children"]["checker"]["ok"]
    assert reply["vrrp"] == [] and reply["dataplane"] == "none"
    (vs,) = reply["virtual_servers"]
    assert (vs["virtual_server"], vs["lb_algo"], vs["lb_kind"]) == ("[203.0.113.10]:tcp:80", "wrr", "NAT")
    assert vs["quorum_up"] and vs["alive_weight"] == 3 and vs["sorry_server"] is None
    rs = {r["port"]: r for r in vs["real_servers"]}
    assert rs[pa]["real_server"] == f"[127.0.0.1]:tcp:{pa}" and rs[pa]["alive"]
    assert rs[pa]["effective_weight"] == 2 and rs[pb]["weight"] == 1
    (chk,) = rs[pa]["checkers"]
    assert chk["type"] == "TCP_CHECK" and chk["up"] and chk["last_result"] == "success"
    assert chk["last_check"] > 0
    code, table = res["table"]
    assert code == ctl.EXIT_OK and "INSTANCE" not in table, table
    assert f"  -> [127.0.0.1]:tcp:{pa}" in table and "TCP_CHECK" in table and "last success" in table, table
    assert res["services"][0] == ctl.EXIT_OK
    assert res["instances"][0] == ctl.EXIT_UNREACHABLE  # only the absent VRRP child was asked

    code, out = res["follow"]
    assert code == ctl.EXIT_OK, out
    events = [json.loads(line) for line in out.splitlines()]
    assert {"event": "real_server", "virtual_server": str(VS_KEY), "real_server": f"[127.0.0.1]:tcp:{pa}",
            "state": "DOWN"}.items() <= events[0].items(), events
    assert events[0]["reason"], events
    assert {"event": "quorum", "virtual_server": str(VS_KEY), "state": "DOWN"}.items() <= events[1].items()
    # keepalived starts a virtual server with quorum down and gains it as the pool is programmed
    assert res["fifo"] == [f"VS {VS_KEY} UP", f"RS [127.0.0.1]:tcp:{pa} {VS_KEY} DOWN", f"VS {VS_KEY} DOWN"]

    code, table = res["lost"]
    assert code == ctl.EXIT_QUORUM and "QUORUM LOST" in table and "last failure" in table, table
    assert f"! {VS_KEY} has lost quorum" in table
    codes = [c for c, _ in res["expect"]]
    # expectations that hold leave the lost quorum's 5; one that does not gives 4; an unknown name 4
    assert codes == [ctl.EXIT_QUORUM, ctl.EXIT_UNEXPECTED, ctl.EXIT_QUORUM,
                     ctl.EXIT_UNEXPECTED], res["expect"]
    assert "Health checkers" in res["dump"][1]
    stats = json.loads(res["stats"][1])
    assert stats["checker"]["services"] == [] and "Prot LocalAddress:Port" in stats["checker"]["text"]
    assert res["closed"][0] == ctl.EXIT_UNREACHABLE  # both sockets gone


def counters() -> LvsCounters:
    s2 = ServiceKey(4, Protocol.UDP, "203.0.113.10", 53)
    s6 = ServiceKey(6, Protocol.TCP, "2001:db8::10", 443)
    fw = ServiceKey(4, Protocol.NONE, None, 0, fwmark=7)
    return {
        VS_KEY: ServiceStats(LvsStats(conns=3, inpkts=30, outpkts=20, inbytes=3000, outbytes=9000),
                             {DestKey("192.0.2.11", 80): LvsStats(conns=2, inpkts=20, inbytes=2000),
                              DestKey("192.0.2.12", 80): LvsStats(conns=1, inpkts=10, inbytes=1000)}),
        s2: ServiceStats(LvsStats(conns=5, inpkts=5),
                         {DestKey("192.0.2.11", 80): LvsStats(conns=5, inpkts=5)}),
        s6: ServiceStats(LvsStats(conns=1), {DestKey("2001:db8::11", 443): LvsStats(conns=1)}),
        fw: ServiceStats(LvsStats(conns=4), {}),
    }


def test_lvs_counters_with_gen2brain_names_types_and_labels() -> None:
    runtime = CheckerRuntime([])
    c = counters()
    text = render(make_registry(CheckerCollector(runtime, lambda: c), process=False)).decode()
    lines = set(text.splitlines())
    for who in ("vip", "rs"):
        for n in ("in_packets", "out_packets", "in_bytes", "out_bytes", "conn"):
            assert f"# TYPE keepalived_lvs_{who}_{n} counter" in lines, text
    assert "_total" not in "".join(line for line in lines if "keepalived_lvs_" in line)
    assert 'keepalived_lvs_vip_in_packets{addr="203.0.113.10:80",proto="6"} 30.0' in lines
    assert 'keepalived_lvs_vip_out_bytes{addr="203.0.113.10:80",proto="6"} 9000.0' in lines
    assert 'keepalived_lvs_vip_conn{addr="203.0.113.10:53",proto="17"} 5.0' in lines
    assert 'keepalived_lvs_vip_conn{addr="2001:db8::10:443",proto="6"} 1.0' in lines  # as Go prints it
    assert 'keepalived_lvs_vip_conn{addr="FWM 7",proto="0"} 4.0' in lines
    # one destination under two TCP services would be a duplicate series: summed instead
    assert 'keepalived_lvs_rs_conn{addr="192.0.2.11:80",proto="6"} 2.0' in lines
    assert 'keepalived_lvs_rs_conn{addr="192.0.2.11:80",proto="17"} 5.0' in lines
    assert 'keepalived_lvs_rs_in_bytes{addr="192.0.2.12:80",proto="6"} 1000.0' in lines
    table = stats_text(c).splitlines()
    assert table[0].split() == ["Prot", "LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes",
                                "OutBytes"]
    i = next(i for i, line in enumerate(table) if "203.0.113.10:80" in line)
    assert table[i].split() == ["TCP", "203.0.113.10:80", "3", "30", "20", "3000", "9000"]
    assert table[i + 1].split() == ["->", "192.0.2.11:80", "2", "20", "0", "2000", "0"]
    assert "TCP  [2001:db8::10]:443" in stats_text(c) and "FWM  7" in stats_text(c)


class SlowPlane:
    """A data plane whose counters take `delay` seconds to read (or fail)."""

    def __init__(self, delay: float, fail: bool = False) -> None:
        self.delay, self.fail, self.calls = delay, fail, 0

    async def stats(self) -> LvsCounters:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise OSError("netlink went away")
        return counters()


def test_counters_cache_is_bounded_shared_and_survives_errors(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        plane = SlowPlane(0.4)
        cache = LvsStatsCache(lambda: plane, max_age=1.0, bound=0.1)  # type: ignore[arg-type, return-value]
        t0 = time.monotonic()
        await asyncio.gather(cache.refresh(), cache.refresh(), cache.refresh())
        assert time.monotonic() - t0 < 0.35  # bounded: the scrape did not wait for the slow read
        assert cache.get() == {} and plane.calls == 1  # one read in flight, shared
        await asyncio.sleep(0.4)
        assert cache.get() == counters()  # the read completed in the background
        await cache.refresh()
        assert plane.calls == 1  # fresh enough: no new read
        plane.fail, plane.delay = True, 0.0
        cache.fetched -= 2
        await cache.refresh()
        assert plane.calls == 2 and cache.get() == counters()  # the last good counters stay
        await cache.close()

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        asyncio.run(go())
    assert "did not answer within 0.1s" in caplog.text
    assert "Unable to read the LVS counters: OSError('netlink went away')" in caplog.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def get(port: int) -> int:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /metrics HTTP/1.0\r\n\r\n")
    head = await r.readline()
    w.close()
    return int(head.split()[1])


def test_metrics_endpoint_follows_the_address(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        ep = MetricsEndpoint(lambda: make_registry(CheckerCollector(CheckerRuntime([])), process=False))
        p1, p2, p3 = free_port(), free_port(), free_port()
        await ep.configure(("127.0.0.1", p1))
        assert await get(p1) == 200
        server = ep.server
        await ep.configure(("127.0.0.1", p1))  # unchanged: the same listener
        assert ep.server is server
        await ep.configure(("127.0.0.1", p2))
        assert await get(p2) == 200
        with pytest.raises(ConnectionRefusedError):
            await get(p1)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", p3))
            busy.listen()
            await ep.configure(("127.0.0.1", p3))  # cannot bind: logged, no listener, no exception
            assert ep.server is None
        await ep.configure(("127.0.0.1", p3))  # the next reload tries again
        assert await get(p3) == 200
        await ep.configure(None)
        with pytest.raises(ConnectionRefusedError):
            await get(p3)
        await ep.close()

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        asyncio.run(go())
    assert "Metrics address changed: closing http://127.0.0.1:" in caplog.text
    assert "Cannot listen for metrics on 127.0.0.1 port" in caplog.text
    assert "Metrics address removed: closing" in caplog.text


def test_ctl_expectations_on_services() -> None:
    reply = {"vrrp": [{"data": {"iname": "VI_1", "state": 2}}], "virtual_servers": [
        {"virtual_server": "FWM 1", "services": ["FWM 1"], "quorum_up": True, "suspended": False,
         "real_servers": [{"real_server": "[192.0.2.11]:tcp:80", "address": "192.0.2.11", "port": 80,
                           "alive": False}]},
        {"virtual_server": "[203.0.113.10]:tcp:80", "services": ["[203.0.113.10]:tcp:80"], "quorum_up": True,
         "suspended": False, "real_servers": [{"real_server": "[192.0.2.11]:tcp:80", "address": "192.0.2.11",
                                               "port": 80, "alive": True}]}]}
    assert ctl.check_expectations(reply, ["VI_1=MASTER", "FWM 1=UP"]) == (ctl.EXIT_OK, [])
    # in every virtual server that has it, unless one is named
    code, problems = ctl.check_expectations(reply, ["192.0.2.11=UP"])
    assert code == ctl.EXIT_UNEXPECTED and problems == ["192.0.2.11 is DOWN/UP, expected UP"]
    assert ctl.check_expectations(reply, ["192.0.2.11:80@[203.0.113.10]:tcp:80=up"])[0] == ctl.EXIT_OK
    assert ctl.check_expectations(reply, ["192.0.2.99=UP"])[1] == ["192.0.2.99 is unknown, expected UP"]
    reply["vrrp"][0]["data"]["state"] = 3
    reply["virtual_servers"][0]["quorum_up"] = False
    assert ctl.check_expectations(reply, [])[0] == ctl.EXIT_FAULT  # FAULT before a lost quorum
    assert ctl.check_expectations(reply, ["VI_1=FAULT", "x=UP"])[0] == ctl.EXIT_UNEXPECTED
