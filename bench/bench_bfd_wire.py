"""BFD event delivery inside the consumers: from a `NAME UP|DOWN` line written into the event pipe to the
VRRP child's tracker call (daemon/bfd_events.py BfdEventReader + VrrpBfdTracker on a real asyncio loop
and a real pipe). The BFD child's own detection is bench_bfd.py; this is what the wiring adds on top.
Figures: median and p99 latency in µs over alternating UP/DOWN events, one at a time."""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time

EVENTS = 2000


def _measure() -> list[float]:
    from pykeepalived.daemon.bfd_events import BfdEventReader, VrrpBfdTracker

    logging.getLogger("pykeepalived").setLevel(logging.WARNING)  # the per-change log line is not timed
    lat: list[float] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        tracker = VrrpBfdTracker.from_tracks([("VI_1", [("bfd", "B1")])])
        got = asyncio.Event()

        def set_tracker(kind: str, name: str, value: object) -> None:
            got.set()

        r, w = os.pipe()
        reader = BfdEventReader(r, lambda ev: tracker.event(ev, set_tracker))
        reader.start(loop)
        try:
            for i in range(EVENTS):
                got.clear()
                t0 = time.perf_counter()
                os.write(w, b"B1 UP\n" if i % 2 == 0 else b"B1 DOWN\n")
                await got.wait()
                lat.append((time.perf_counter() - t0) * 1e6)
        finally:
            reader.close()
            os.close(w)

    asyncio.run(go())
    return lat


def main() -> list[dict[str, object]]:
    lat = sorted(_measure())
    p99 = lat[int(len(lat) * 0.99) - 1]
    return [
        {"name": "bfd event pipe -> VRRP tracker, median", "value": round(statistics.median(lat), 1),
         "unit": "us", "keepalived": None, "goal": "< 1000"},
        {"name": "bfd event pipe -> VRRP tracker, p99", "value": round(p99, 1), "unit": "us",
         "keepalived": None, "goal": "< 5000"},
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
