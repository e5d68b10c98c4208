"""Test driver: the checker runtime with the nftables data plane, run inside the director namespace.

Usage: python lb_driver.py SPEC.json   (prints keepalived's log lines on stdout; stops on SIGTERM)
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

from pykeepalived.check.model import RealServerSpec, TcpCheckSpec, TimingOpts, VirtualServerSpec
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.linux.nft_lb import NftLoadBalancer
from pykeepalived.lvs.model import Protocol, ServiceKey


async def main(path: str) -> None:
    with open(path) as fh:
        cfg = json.load(fh)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    timing = TimingOpts(delay_loop=cfg["delay_loop"], retry=cfg["retry"],
                        delay_before_retry=cfg["delay_before_retry"], connect_timeout=cfg["connect_timeout"],
                        warmup=0)
    rss = tuple(RealServerSpec(addr=r["addr"], port=80, weight=r["weight"], checks=(TcpCheckSpec(),))
                for r in cfg["rs"])
    vs = VirtualServerSpec(key=ServiceKey(4, Protocol.TCP, cfg["vip"], 80), scheduler=cfg["sched"],
                           timing=timing, real_servers=rss,
                           sorry_server=RealServerSpec(addr=cfg["sorry"], port=80) if cfg.get("sorry")
                           else None)
    backend = NftLoadBalancer()
    await backend.flush()
    rt = CheckerRuntime([vs], backend)
    await rt.start()
    await rt.wait_synced()
    print("READY", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await rt.stop()
    await backend.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
