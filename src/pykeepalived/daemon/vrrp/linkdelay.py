# Theory of operation
# -------------------
# `interface_up_down_delays { IFNAME DOWN_DELAY [UP_DELAY] ... }` (top level; keepalived.md §1.3;
# keepalived 2.2.7 vrrp_parser.c alloc_if_up_down_delay, keepalived_netlink.c update_interface_flags,
# vrrp.c check_debounce_timers). Link changes of a listed interface take effect only after the delay
# for that direction (seconds, µs resolution, 0..255; UP_DELAY omitted is 0, not "same as down").
#
# Parsing (at the VRRP process's start, with keepalived's lines): an unknown interface is an error
# unless `dynamic_interfaces`; `No timeouts specified for IF up/down delays`, `Too many parameters
# for IF up/down delays`, `Invalid down|up delay X for IF`. Then each instance on the interface
# clamps the delays below (down_timer_adverts - 1) * advert_int (to that minus advert_int/256, log
# `VI: interface IF debounce timer(s) not less that N * advert_int - resetting`) or clears them
# when down_timer_adverts is 1 (`VI: cannot use debounce timers with down_timer_adverts = 1 -
# resetting`).
#
# Debouncing, per interface, on the flags netlink reports (up = IFF_UP and IFF_RUNNING):
# - flags equal to the ones last acted on: a pending change is dropped silently;
# - a change pending in the same direction: it keeps its timer and takes the newer flags; in the
#   other direction: `Delay timer for IF cancelled`;
# - no up/down change: nothing; else, once the interface has been seen up and the direction has a
#   delay: `IF: Adding flags change from 0xOLD to 0xNEW delay by USECS` and the event is delivered
#   when the timer expires (then `Netlink reports IF up|down` as usual); else delivered now.
"""Up/down delays of interfaces (interface_up_down_delays): debouncing netlink link changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from pykeepalived.config.model import Model
from pykeepalived.daemon.log import DETAIL
from pykeepalived.linux.monitor import LinkEvent
from pykeepalived.vrrp.params import InstanceParams

log = logging.getLogger("pykeepalived")

IFF_UP, IFF_RUNNING = 0x1, 0x40
MAX_DELAY_US = 255_000_000


def _flags_up(flags: int) -> bool:
    return flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING


def _timer_us(word: str) -> int | None:
    """keepalived read_timer: decimal seconds to µs, 0..255 s."""
    try:
        us = Decimal(word) * 1_000_000
    except InvalidOperation:
        return None
    if us != us.to_integral_value() or not 0 <= us <= MAX_DELAY_US:
        return None
    return int(us)


@dataclass
class UpDownDelay:
    down_us: int
    up_us: int


def parse_up_down_delays(model: Model, interfaces: set[str]) -> dict[str, UpDownDelay]:
    """The `interface_up_down_delays` rows, by interface name, with keepalived's messages."""
    out: dict[str, UpDownDelay] = {}
    dynamic = model.global_defs.dynamic_interfaces
    for row in model.linkbeat_interfaces:
        if row[0] != "interface_up_down_delays" or len(row) < 2:
            continue
        ifname, words = row[1], row[2:]
        if ifname not in interfaces and not dynamic:
            log.error("unknown interface %s specified for up/down delay", ifname)
            continue
        if not words:
            log.info("No timeouts specified for %s up/down delays", ifname)
            continue
        if len(words) > 2:
            log.info("Too many parameters for %s up/down delays", ifname)
        down = _timer_us(words[0])
        if down is None:
            log.info("Invalid down delay %s for %s", words[0], ifname)
            continue
        up = 0 if len(words) == 1 else _timer_us(words[1])
        if up is None:
            log.info("Invalid up delay %s for %s", words[1], ifname)
            continue
        out[ifname] = UpDownDelay(down, up)
    return out


def clamp_delays(delays: dict[str, UpDownDelay], instances: Iterable[InstanceParams]) -> None:
    """keepalived vrrp_complete_instance's checks of each instance against its interface's delays."""
    for p in instances:
        d = delays.get(p.interface or "")
        if d is None:
            continue
        if p.down_timer_adverts == 1:
            if d.up_us or d.down_us:
                log.info("%s: cannot use debounce timers with down_timer_adverts = 1 - resetting", p.name)
                d.up_us = d.down_us = 0
            continue
        if fit_delays(d, p.down_timer_adverts, p.adver_int_us):
            log.info("%s: interface %s debounce timer(s) not less that %u * advert_int - resetting",
                     p.name, p.interface, p.down_timer_adverts - 1)


def fit_delays(d: UpDownDelay, down_timer_adverts: int, adver_int_us: int) -> bool:
    """keepalived check_debounce_timers: a delay not under (down_timer_adverts - 1) advert
    intervals is cut to just under it (by 1/256 of an interval). True if one was cut."""
    limit = (down_timer_adverts - 1) * adver_int_us
    cut = False
    if d.up_us >= limit:
        d.up_us, cut = limit - adver_int_us // 256, True
    if d.down_us >= limit:
        d.down_us, cut = limit - adver_int_us // 256, True
    return cut


def lower_interval(delays: dict[str, UpDownDelay], p: InstanceParams, interval_us: int) -> None:
    """A v3 master's shorter advert interval (MasterIntervalLowered): the instance's interface's
    delays are cut to fit it, with keepalived's line (with -D)."""
    d = delays.get(p.interface or "")
    if d is not None and p.down_timer_adverts != 1 and fit_delays(d, p.down_timer_adverts, interval_us):
        log.log(DETAIL, "%s: lower advert_int reducing interface %s debounce timer(s)", p.name, p.interface)


@dataclass
class _IfState:
    flags: int | None = None  # the flags last acted on
    seen_up: bool = False
    pending: asyncio.TimerHandle | None = None
    pending_ev: LinkEvent | None = None


class LinkDebounce:
    """Holds back link changes of interfaces with delays; `deliver` gets them when due."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delays: dict[str, UpDownDelay],
                 deliver: Callable[[LinkEvent], None]) -> None:
        self.loop = loop
        self.delays = delays
        self.deliver = deliver
        self._ifs: dict[int, _IfState] = {}

    def seed(self, ifindex: int, flags: int) -> None:
        """The interface's flags at start (keepalived's initial interface dump sets seen_up)."""
        st = self._ifs.setdefault(ifindex, _IfState())
        st.flags = flags
        st.seen_up = st.seen_up or _flags_up(flags)

    def feed(self, ev: LinkEvent) -> LinkEvent | None:
        """The event to act on now, or None (held back, or no change)."""
        d = self.delays.get(ev.ifname)
        if d is None or ev.deleted:
            st = self._ifs.pop(ev.ifindex, None) if ev.deleted else None
            if st is not None and st.pending is not None:
                st.pending.cancel()
            return ev
        st = self._ifs.setdefault(ev.ifindex, _IfState())
        if st.flags is None:  # appeared after the start (dynamic_interfaces): first sight
            self.seed(ev.ifindex, ev.flags)
            return ev
        if ev.flags == st.flags:
            self._cancel(st)
            return None
        was_up, now_up = _flags_up(st.flags), _flags_up(ev.flags)
        if st.pending_ev is not None:
            if ev.flags == st.pending_ev.flags:
                return None
            if _flags_up(st.pending_ev.flags) == now_up:
                st.pending_ev = ev
                return None
            self._cancel(st)
            log.info("Delay timer for %s cancelled", ev.ifname)
        if was_up == now_up:
            return None
        delay = d.up_us if now_up else d.down_us
        if st.seen_up and delay:
            log.info("%s: Adding flags change from 0x%x to 0x%x delay by %u", ev.ifname, st.flags, ev.flags,
                     delay)
            st.pending_ev = ev
            st.pending = self.loop.call_later(delay / 1_000_000, self._expire, st)
            return None
        if now_up:
            st.seen_up = True
        st.flags = ev.flags
        return ev

    @staticmethod
    def _cancel(st: _IfState) -> None:
        if st.pending is not None:
            st.pending.cancel()
        st.pending = st.pending_ev = None

    def _expire(self, st: _IfState) -> None:
        ev = st.pending_ev
        st.pending = st.pending_ev = None
        if ev is not None:
            st.flags = ev.flags
            if _flags_up(ev.flags):
                st.seen_up = True
            self.deliver(replace(ev))


async def link_debounce(ipr: object, model: Model, instances: Iterable[InstanceParams],
                        deliver: Callable[[LinkEvent], None]) -> LinkDebounce | None:
    """The VRRP child's debouncer, None without `interface_up_down_delays`."""
    if not any(row[0] == "interface_up_down_delays" for row in model.linkbeat_interfaces):
        return None
    import socket

    from pykeepalived.linux.iface import InterfaceNotFound, get_interface

    delays = parse_up_down_delays(model, {name for _, name in socket.if_nameindex()})
    clamp_delays(delays, instances)
    deb = LinkDebounce(asyncio.get_running_loop(), delays, deliver)
    for ifname in delays:
        try:
            info = await get_interface(ipr, ifname)
        except InterfaceNotFound:
            continue
        deb.seed(info.ifindex, info.flags)
    return deb
