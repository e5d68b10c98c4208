"""The timerfd-backed one-shot timer of the VRRP child's clock (no timing assertions: order only)."""

from __future__ import annotations

import asyncio
import time

from pykeepalived.linux.timerfd import TimerFd


def now_us() -> int:
    return time.monotonic_ns() // 1000


def test_fires_rearms_and_cancels() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        tfd = TimerFd(loop)
        fired: list[str] = []
        done = asyncio.Event()
        try:
            h1 = tfd.call_at(now_us() + 30_000, lambda: fired.append("first"))
            # re-arming replaces the pending callback; the stale handle's cancel is a no-op
            tfd.call_at(now_us() + 10_000, lambda: (fired.append("second"), done.set()))
            h1.cancel()
            await asyncio.wait_for(done.wait(), 5)
            # a deadline in the past fires at once
            past = asyncio.Event()
            tfd.call_at(now_us() - 1_000_000, past.set)
            await asyncio.wait_for(past.wait(), 5)
            # a cancelled timer never fires
            h3 = tfd.call_at(now_us() + 5_000, lambda: fired.append("cancelled"))
            h3.cancel()
            await asyncio.sleep(0.05)
        finally:
            tfd.close()
        return fired

    assert asyncio.run(main()) == ["second"]


def test_never_fires_before_its_deadline() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        tfd = TimerFd(loop)
        fut: asyncio.Future[int] = loop.create_future()
        deadline = now_us() + 20_000
        tfd.call_at(deadline, lambda: fut.set_result(now_us()))
        try:
            return await asyncio.wait_for(fut, 5) - deadline
        finally:
            tfd.close()

    assert asyncio.run(main()) >= 0
