"""The checker child's observability costs: the on-loop collection of CheckerCollector (real server
states plus the LVS traffic counters) and the control socket's `status` reply, for 50 virtual servers
of 20 real servers each."""

from __future__ import annotations

import time

from pykeepalived.check.model import RealServerSpec, TcpCheckSpec, VirtualServerSpec
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.control.check_server import CheckControlServer, LvsStatsCache
from pykeepalived.control.metrics import CheckerCollector, make_registry, render, snapshot
from pykeepalived.lvs.model import DestKey, LvsStats, Protocol, ServiceKey, ServiceStats

N_VS, N_RS = 50, 20


def main() -> list[dict[str, object]]:
    specs = [VirtualServerSpec(
        key=ServiceKey(4, Protocol.TCP, f"203.0.113.{v + 1}", 80),
        real_servers=tuple(RealServerSpec(addr=f"192.0.2.{r + 1}", port=8000 + v, checks=(TcpCheckSpec(),))
                           for r in range(N_RS))) for v in range(N_VS)]
    rt = CheckerRuntime(specs)
    rt._build()  # states and checkers without starting the probes
    counters = {s.key: ServiceStats(LvsStats(10, 100, 90, 10_000, 90_000), {
        DestKey(r.addr, r.port): LvsStats(1, 10, 9, 1000, 9000) for r in s.real_servers}) for s in specs}
    registry = make_registry(CheckerCollector(rt, lambda: counters), process=False)
    server = CheckControlServer("/nonexistent", lambda: rt, lambda: "nftables", lambda: "",
                                LvsStatsCache(lambda: None), {}, time.time())
    reps = 30
    t0 = time.perf_counter()
    for _ in range(reps):
        snap = snapshot(registry)
    loop_ms = (time.perf_counter() - t0) / reps * 1000
    t0 = time.perf_counter()
    for _ in range(reps):
        body = render(snap)
    render_ms = (time.perf_counter() - t0) / reps * 1000
    t0 = time.perf_counter()
    for _ in range(reps):
        server.status()
    status_ms = (time.perf_counter() - t0) / reps * 1000
    return [
        {"name": f"checker /metrics on-loop collection, {N_VS} VS x {N_RS} RS with LVS counters",
         "value": loop_ms, "unit": "ms", "keepalived": None, "goal": "< 10 (event loop held per scrape)"},
        {"name": f"checker /metrics render off-loop ({len(body)} bytes)", "value": render_ms, "unit": "ms",
         "keepalived": None, "goal": None},
        {"name": f"checker control socket status reply, {N_VS} VS x {N_RS} RS", "value": status_ms,
         "unit": "ms", "keepalived": None, "goal": "< 10 (event loop held per request)"},
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
