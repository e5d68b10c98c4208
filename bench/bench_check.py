"""TCP_CHECK throughput of the checker runtime against 1,000 real listeners on 127.0.0.1 ports.

A helper process owns the listeners and accepts/closes connections; this process runs CheckerRuntime
with 1,000 real servers x TCP_CHECK at delay_loop 0.1 s (offered load 10,000 checks/s;
the next check starts delay_loop after the previous one completes, as in keepalived) for a few seconds
and reports the sustained checks per second and this process's CPU use (goal: 5,000 checks/s on one core).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

N = 1000
DELAY_LOOP = 0.1
SECONDS = 5.0

LISTENERS = r"""
import selectors, socket, sys
sel = selectors.DefaultSelector(); ports = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(1024); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ); ports.append(s.getsockname()[1])
print(" ".join(map(str, ports)), flush=True)
while True:
    for key, _ in sel.select():
        try:
            while True:
                c, _ = key.fileobj.accept(); c.close()
        except BlockingIOError:
            pass
"""


async def run(ports: list[int]) -> tuple[float, float, int]:
    from pykeepalived.check.model import RealServerSpec, TcpCheckSpec, TimingOpts, VirtualServerSpec
    from pykeepalived.check.scheduler import CheckerRuntime
    from pykeepalived.lvs.model import Protocol, ServiceKey

    rss = tuple(RealServerSpec(addr="127.0.0.1", port=p, checks=(TcpCheckSpec(),)) for p in ports)
    vs = VirtualServerSpec(key=ServiceKey(4, Protocol.TCP, "203.0.113.10", 80), real_servers=rss,
                           timing=TimingOpts(delay_loop=DELAY_LOOP, warmup=DELAY_LOOP, connect_timeout=2))
    rt = CheckerRuntime([vs])
    counts = {"n": 0, "fail": 0}
    orig = rt.feed

    def feed(c, res):  # type: ignore[no-untyped-def]
        counts["n"] += 1
        counts["fail"] += not res.ok
        return orig(c, res)

    rt.feed = feed  # type: ignore[method-assign]
    await rt.start()
    await asyncio.sleep(1.0)  # past the warmup spread
    n0, c0, t0 = counts["n"], time.process_time(), time.monotonic()
    await asyncio.sleep(SECONDS)
    n1, c1, t1 = counts["n"], time.process_time(), time.monotonic()
    await rt.stop(clear=False)
    return (n1 - n0) / (t1 - t0), (c1 - c0) / (t1 - t0), counts["fail"]


def main() -> list[dict[str, object]]:
    import logging

    logging.getLogger("pykeepalived").setLevel(logging.WARNING)
    helper = subprocess.Popen([sys.executable, "-c", LISTENERS, str(N)], stdout=subprocess.PIPE, text=True)
    try:
        assert helper.stdout
        ports = [int(p) for p in helper.stdout.readline().split()]
        rate, cpu, fails = asyncio.run(run(ports))
    finally:
        helper.kill()
        helper.wait()
    return [
        {"name": f"TCP_CHECK checks/s sustained ({N} real servers, offered {N / DELAY_LOOP:.0f}/s)",
         "value": round(rate), "unit": "checks/s", "keepalived": None, "goal": ">= 5000 on one core"},
        {"name": "checker CPU during TCP_CHECK run", "value": round(cpu * 100, 1), "unit": "% of one core",
         "keepalived": None, "goal": "<= 100"},
        {"name": "TCP_CHECK failures during run", "value": fails, "unit": "checks", "keepalived": None,
         "goal": "0"},
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
