# Theory of operation
# -------------------
# keepalived 2.2.7's GARP / unsolicited-NA rate limiting (keepalived.md §5.7): `vrrp_garp_interval` /
# `vrrp_gna_interval` (global) or a `garp_group`'s `garp_interval` / `gna_interval` (for its
# interfaces, replacing the global values there) give the least spacing between two GARPs (NAs) on a
# base interface. After a frame goes out on an interface, the interface's next allowed time is
# now + interval. A frame asked for before that time is not sent: its address is marked pending
# (a flag, not a count: asking again while it is pending adds nothing, so a 5-round burst
# over one address becomes one frame now and one more later), and one pacing timer, armed `interval`
# after the queueing, walks every pending address (instances in order, VIPs then eVIPs) and sends
# those whose interface is free again, re-arming itself at the earliest interface time still ahead.
# An instance that has left MASTER (or dropped its VIPs) loses its pending addresses.
"""Per-interface GARP/NA spacing for the VRRP child's executor."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

from pykeepalived.config.model import Model
from pykeepalived.daemon.log import DETAIL
from pykeepalived.vrrp.params import IPAddress

log = logging.getLogger("pykeepalived")


@dataclass
class _Delay:
    """keepalived's garp_delay_t for one base interface: intervals (µs, 0 = none), next times."""

    garp_interval: int = 0
    gna_interval: int = 0
    garp_next: int = 0
    gna_next: int = 0

    def interval(self, v4: bool) -> int:
        return self.garp_interval if v4 else self.gna_interval

    def next_time(self, v4: bool) -> int:
        return self.garp_next if v4 else self.gna_next

    def sent(self, v4: bool, now: int) -> None:
        if v4 and self.garp_interval:
            self.garp_next = now + self.garp_interval
        elif not v4 and self.gna_interval:
            self.gna_next = now + self.gna_interval


@dataclass(frozen=True)
class Frame:
    """One GARP / NA: `dev` the address's interface (a VMAC's own name), `base` the interface whose
    spacing applies (keepalived IF_BASE_IFP)."""

    instance: str
    ip: IPAddress
    dev: str
    base: str
    data: bytes
    rank: tuple[int, int] = (0, 0)  # (instance's place in the config, address's place in VIPs+eVIPs)


def _us(value: object) -> int:
    return value if isinstance(value, int) else 0


def _now() -> int:
    return time.monotonic_ns() // 1000


class GarpPacer:
    """Sends frames at once or, within an interface's interval, when the interval has passed.

    `send_frame(dev, frame)` writes a frame; `still_master(instance)` says whether a queued frame
    may still go out (MASTER with its VIPs set)."""

    def __init__(self, send_frame: Callable[[str, bytes], object],
                 still_master: Callable[[str], bool]) -> None:
        self.send_frame = send_frame
        self.still_master = still_master
        self.default = _Delay()
        self.groups: dict[str, _Delay] = {}
        self.delays: dict[str, _Delay] = {}
        self.pending: dict[tuple[str, IPAddress], Frame] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0

    def configure(self, model: Model) -> None:
        """Global intervals and garp_group blocks; kept next-times survive a reload."""
        g = model.global_defs
        self.default = _Delay(g.vrrp_garp_interval_us, g.vrrp_gna_interval_us)
        self.groups = {}
        for opts in model.garp_groups:
            d = dict(opts)
            delay = _Delay(_us(d.get("garp_interval")), _us(d.get("gna_interval")))
            names = [d["interface"]] if isinstance(d.get("interface"), str) else []
            listed = d.get("interfaces")
            if isinstance(listed, tuple):  # one word per line: (("eth2",), ("eth3",))
                names += [item[0] if isinstance(item, tuple) else item for item in listed]
            for name in names:
                self.groups[str(name)] = delay
        old = self.delays
        self.delays = {}
        for name, prev in old.items():
            fresh = self._fresh(name)
            fresh.garp_next, fresh.gna_next = prev.garp_next, prev.gna_next
            self.delays[name] = fresh

    def _fresh(self, base: str) -> _Delay:
        src = self.groups.get(base, self.default)
        return _Delay(src.garp_interval, src.gna_interval)

    def _delay(self, base: str) -> _Delay:
        d = self.delays.get(base)
        if d is None:
            d = self.delays[base] = self._fresh(base)
        return d

    def send(self, f: Frame) -> None:
        """keepalived send_gratuitous_arp / ndisc_send_unsolicited_na."""
        v4 = isinstance(f.ip, IPv4Address)
        d = self._delay(f.base)
        now = _now()
        if d.interval(v4) and d.next_time(v4) and now < d.next_time(v4):
            self.pending.setdefault((f.instance, f.ip), f)
            self._arm(now + d.interval(v4))
            return
        self._send_now(f, d, v4)

    def _send_now(self, f: Frame, d: _Delay, v4: bool) -> None:
        kind = "gratuitous ARP" if v4 else "unsolicited Neighbour Advert"
        log.log(DETAIL, "Sending %s on %s for %s", kind, f.dev, f.ip)
        self.send_frame(f.dev, f.data)
        d.sent(v4, _now())

    def drop(self, instance: str) -> None:
        """keepalived vrrp_remove_delayed_arp: leaving MASTER forgets the instance's queued frames."""
        for key in [k for k in self.pending if k[0] == instance]:
            del self.pending[key]

    def _arm(self, when: int) -> None:
        if self.timer is not None and when >= self.timer_at:
            return
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer_at = when
        self.timer = loop.call_at(loop.time() + max(0, when - _now()) / 1e6, self._run)

    def _run(self) -> None:
        """keepalived vrrp_arp_thread."""
        self.timer = None
        now = _now()
        earliest = 0
        for key, f in sorted(self.pending.items(), key=lambda kv: kv[1].rank):
            if not self.still_master(f.instance):
                del self.pending[key]
                continue
            v4 = isinstance(f.ip, IPv4Address)
            d = self._delay(f.base)
            if now >= d.next_time(v4):
                del self.pending[key]
                try:
                    self._send_now(f, d, v4)
                except Exception as exc:  # a failed frame must not stop the pacing
                    log.error("internal error sending a queued GARP/NA: %r", exc)
            elif not earliest or d.next_time(v4) < earliest:
                earliest = d.next_time(v4)
        if earliest:
            self._arm(earliest)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pending.clear()
