"""Executing the VRRP core's effects on the real system (the Driver's EffectSink) and its clock.

`LinuxExecutor` turns the effects of src/pykeepalived/vrrp into kernel operations: adverts are encoded
and sent at once (non-blocking sockets), address/route/rule changes, GARP/NA and notifies go through one
ordered asyncio queue so netlink never delays a timer. `AsyncioClock` is the Driver's clock (integer
µs, one timerfd). The instances' `Runtime` entries are in daemon/vrrp/instances.py.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from pykeepalived.control.timing import TimingStats
from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.daemon.vrrp.garp_pacing import Frame, GarpPacer
from pykeepalived.daemon.vrrp.instances import AdvertFrame, Runtime
from pykeepalived.linux import mmsg
from pykeepalived.linux.addresses import (
    Address,
    AddressKeeper,
    add_address,
    add_route,
    add_rule,
    del_address,
    del_route,
    del_rule,
    restore_if_tracked,
)
from pykeepalived.linux.garp import GarpSenders
from pykeepalived.linux.iface import InterfaceNotFound, get_interface, ipv6_forwarding
from pykeepalived.linux.monitor import AddressEvent
from pykeepalived.linux.timerfd import TimerFd
from pykeepalived.linux.vrrp_socket import Destination, VrrpSocket
from pykeepalived.vrrp.effects import (
    ClaimAddresses,
    Effect,
    Log,
    LogLevel,
    MasterIntervalLowered,
    Notify,
    ReleaseAddresses,
    RxRejected,
    SendGratuitous,
    State,
    StateChanged,
    Transmit,
)
from pykeepalived.vrrp.frames import build_garp, build_unsolicited_na
from pykeepalived.vrrp.packet import (
    Ipv4AdvertTemplate,
    build_ipv4_datagram,
    encode_advert,
    next_ip_id,
)
from pykeepalived.vrrp.params import AuthType, ChecksumMode, IPAddress
from pykeepalived.vrrp.receive import next_ah_seq, tx_checksum_mode

if TYPE_CHECKING:
    from pykeepalived.control.view import VrrpEvents
    from pykeepalived.daemon.vrrp.firewall import Firewall
    from pykeepalived.daemon.vrrp.instances import InstanceTable


class AsyncioClock:
    """The Driver's clock: integer µs on the event loop's monotonic clock. Its one timer is a
    timerfd (µs-precise; asyncio's own timers wake up to 1 ms late), else a loop timer; lateness is
    recorded in `timing` and reported to `on_late`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timing: TimingStats | None = None) -> None:
        self.loop = loop
        self.timing = timing
        self.on_late: Callable[[int, int], None] | None = None  # (deadline, fired): daemon/vrrp/autoprio.py
        try:
            self.tfd: TimerFd | None = TimerFd(loop)
        except OSError:
            self.tfd = None

    def now(self) -> int:
        return time.monotonic_ns() // 1000

    def call_at(self, when: int, fn: Callable[[], None]) -> Any:
        timing, on_late = self.timing, self.on_late
        if timing is not None or on_late is not None:
            inner = fn

            def fn() -> None:
                now = self.now()
                if timing is not None:
                    timing.record_timer(when, now)
                if on_late is not None:
                    on_late(when, now)
                inner()

        if self.tfd is not None:
            return self.tfd.call_at(when, fn)
        return self.loop.call_at(when / 1_000_000, fn)


SendContext = tuple["Runtime", Transmit, Destination, VrrpSocket]
_monotonic_ns = time.monotonic_ns



class MacCache:
    """The MAC address of each interface a gratuitous ARP / NA goes out of, looked up once (forgotten
    when the link changes)."""

    def __init__(self, ipr: Any) -> None:
        self.ipr = ipr
        self._macs: dict[str, bytes] = {}

    async def get(self, dev: str) -> bytes:
        mac = self._macs.get(dev)
        if mac is None:
            try:
                mac = (await get_interface(self.ipr, dev)).mac
            except InterfaceNotFound:
                return b""
            self._macs[dev] = mac
        return mac

    def forget(self, dev: str) -> None:
        self._macs.pop(dev, None)


class LinuxExecutor:
    """Performs the core's effects on the real system (the Driver's EffectSink).

    It reads the running instances' Runtime entries (`table`), sets and removes their addresses,
    routes and rules through `ipr` (with the `firewall`'s drop rules around them), and hands state
    changes and notifies to `events`; `on_advert` gets each advert sent (timing statistics),
    `on_interval_lowered` a master's shorter advert interval (interface_up_down_delays)."""

    def __init__(self, table: InstanceTable, ipr: Any, macs: MacCache, events: VrrpEvents,
                 firewall: Firewall | None, *, dont_release: bool,
                 on_advert: Callable[[str, int, int], None] | None = None,
                 on_interval_lowered: Callable[[MasterIntervalLowered], None] | None = None,
                 gna_checks: dict[str, tuple[bool, float]] | None = None) -> None:
        self.table = table
        self.ipr = ipr
        self.macs = macs
        self.events = events
        self.firewall = firewall
        self.dont_release = dont_release  # --dont-release-vrrp: the start-up lines differ
        self.on_advert = on_advert
        self.on_interval_lowered = on_interval_lowered
        self.gna_checks = {} if gna_checks is None else gna_checks  # ifname -> (IPv6 forwarding, read at)
        self.queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self.garp = GarpSenders()
        self.pacer = GarpPacer(self.garp.send, self._still_master)
        self.keeper = AddressKeeper()
        self.worker: asyncio.Task[None] | None = None
        self._busy = False  # the worker is running a job
        # IPv6 adverts queued per connected socket during one submit(), sent by sendmmsg at its end
        self._burst: dict[int, tuple[list[bytes], list[SendContext]]] = {}
        self._burst_arrays: dict[int, Any] = {}

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            self._busy = True
            try:
                await job()
            except Exception as exc:  # never let a failed operation stop the daemon
                log.error("internal error while applying a VRRP action: %r", exc)
            finally:
                self._busy = False
                self.queue.task_done()

    def idle(self) -> bool:
        """No work queued nor running."""
        return not self._busy and self.queue.empty()

    def in_turn(self, fn: Callable[[], None]) -> None:
        """`fn` after the work queued before it: at once when there is none (keepalived does that work
        before it goes on, so what follows it comes at once), else as the queue's next job."""
        if self.idle():
            fn()
        else:
            self.queue.put_nowait(functools.partial(_call, fn))

    async def drain(self) -> None:
        await self.queue.join()

    # ------------------------------------------------------------------ EffectSink
    def submit(self, effects: Sequence[Effect]) -> None:
        runtime = self.table.runtime
        for e in effects:
            try:
                if type(e) is Transmit:  # the hot path: one per advert
                    self._transmit(e, runtime[e.instance])
                else:
                    self._submit(e)
            except Exception as exc:  # an effect that cannot be applied must not stop the others
                log.error("internal error applying %s: %r", type(e).__name__, exc)
        if self._burst:
            self._send_bursts()

    def _send_bursts(self) -> None:
        burst, self._burst = self._burst, {}
        for fd, (datas, ctxs) in burst.items():
            def failed(i: int, exc: OSError, ctxs: list[SendContext] = ctxs,
                       datas: list[bytes] = datas) -> None:
                rt, t, dest, sock = ctxs[i]
                self._send_error(rt, t, dest.dst, sock.send_failed(dest, exc, datas[i]))

            try:
                mmsg.send_burst(fd, datas, self._burst_arrays, failed)
            except Exception as exc:
                log.error("internal error applying Transmit: %r", exc)

    def _submit(self, e: Effect) -> None:
        if isinstance(e, Transmit):
            self._transmit(e, self.table.runtime[e.instance])
        elif isinstance(e, Log):
            # the core's lines wait behind the work queued before them, in keepalived's order: at a
            # sync group's take-over "(VI_2) Entering MASTER STATE" after VI_1's "setting VIPs."; at
            # stop each instance's "sent 0 priority" with its own "removing ..." lines
            if self.idle():
                log.log(DETAIL if e.level is LogLevel.DETAIL else logging.INFO, "%s", e.text)
            else:
                self.queue.put_nowait(functools.partial(self._log, e))
        elif isinstance(e, ClaimAddresses):
            self.queue.put_nowait(functools.partial(self._claim, e))
        elif isinstance(e, ReleaseAddresses):
            if e.init:
                self._init_restore(e)
            else:
                self.queue.put_nowait(functools.partial(self._release, e))
        elif isinstance(e, SendGratuitous):
            self.queue.put_nowait(functools.partial(self._gratuitous, e))
        elif isinstance(e, StateChanged):
            self.events.state_changed(e)
        elif isinstance(e, Notify):
            self.events.notified(e)
        elif isinstance(e, RxRejected):
            self.events.rx_rejected(e)
        elif isinstance(e, MasterIntervalLowered) and self.on_interval_lowered is not None:
            self.on_interval_lowered(e)

    async def _log(self, e: Log) -> None:
        log.log(DETAIL if e.level is LogLevel.DETAIL else logging.INFO, "%s", e.text)

    # ------------------------------------------------------------------ adverts
    def _transmit(self, t: Transmit, rt: Runtime) -> None:
        sock = rt.sock
        src = t.src
        if sock is None or src is None:
            return  # no source address: the core is in FAULT for it already
        p = rt.params
        if t.priority and self.on_advert is not None:  # the send jitter (exported by /metrics)
            self.on_advert(t.instance, _monotonic_ns() // 1000, p.adver_int_us)
        rx_state = rt.inst.rx_state
        # tx_checksum_mode, which is the configured mode unless auto-detection switched
        mode = tx_checksum_mode(p, rx_state) if rx_state.old_unicast_checksum else p.checksum_mode
        if p.auth_type is AuthType.AH:
            self._transmit_ah(rt, t, sock, src, mode)
            return
        # an advert's bytes change only with its Transmit (priority, source) and checksum form: encode
        # once, then only the IPv4 identification (and header checksum) changes per send
        if t is not rt.tx_for or mode is not rt.tx_mode or sock is not rt.tx_sock:
            rt.tx_frames = self._frames(rt, t, sock, src, mode)
            rt.tx_for, rt.tx_mode, rt.tx_sock = t, mode, sock
        for send, tpl, pdu, dest, bad, fd in rt.tx_frames:
            if send is None:
                log.error("(%s) cannot build advert: %s", t.instance, bad)
                continue
            if fd >= 0:
                queued = self._burst.get(fd)
                if queued is None:
                    self._burst[fd] = queued = ([], [])
                queued[0].append(pdu)
                queued[1].append((rt, t, dest, sock))
                continue
            data: bytes | bytearray = pdu
            if tpl is not None:
                rt.ip_id = ident = (rt.ip_id + 1) & 0xFFFF or 1  # packet.next_ip_id
                data = tpl.datagram(ident)
            try:
                send(data)
            except OSError as exc:
                self._send_error(rt, t, dest.dst, sock.send_failed(dest, exc, data))

    def _frames(self, rt: Runtime, t: Transmit, sock: VrrpSocket, src: IPAddress, mode: ChecksumMode
                ) -> list[AdvertFrame]:
        """Per destination: the send call, the IPv4 template / IPv6 PDU, where (or why it can't be built)."""
        frames: list[AdvertFrame] = []
        for dst in t.dsts:
            try:
                pdu = encode_advert(t.advert, src=src, dst=dst, checksum_mode=mode, group=rt.group4)
                if rt.params.family == 4:
                    tpl = Ipv4AdvertTemplate(pdu, src=src, dst=dst, ttl=t.ttl)
                    d = sock.destination(dst)
                    frames.append((sock.sender(d), tpl, b"", d, None, -1))
                else:
                    d = sock.destination(dst, src=src)
                    send = sock.sender(d)
                    frames.append((send, None, pdu, d, None, sock.connected_fd(d) if mmsg.AVAILABLE else -1))
            except ValueError as exc:
                frames.append((None, None, b"", Destination(dst, (), 0, ()), exc, -1))
        return frames

    def forget_source(self, addr: IPAddress) -> None:
        """An address went away: adverts from it must fail as keepalived's do (VrrpSocket.forget_source)."""
        for rt in self.table.runtime.values():
            if rt.tx_sock is not None and rt.tx_sock.forget_source(addr):
                for other in self.table.runtime.values():
                    if other.tx_sock is rt.tx_sock:
                        other.tx_for = None

    def _transmit_ah(self, rt: Runtime, t: Transmit, sock: VrrpSocket, src: IPAddress, mode: ChecksumMode
                     ) -> None:
        """IPSEC-AH adverts: the sequence number and ICV change with every datagram."""
        p = rt.params
        for dst in t.dsts:
            try:
                pdu = encode_advert(t.advert, src=src, dst=dst, checksum_mode=mode, group=rt.group4)
                rt.ip_id = next_ip_id(rt.ip_id)
                # the AH sequence counter is shared with receive checks (keepalived vrrp_update_pkt)
                data = build_ipv4_datagram(
                    pdu, src=src, dst=dst, ttl=t.ttl, ident=rt.ip_id, auth_type=p.auth_type,
                    auth_key=p.auth_pass, ah_seq=next_ah_seq(rt.inst.rx_state), unicast=p.is_unicast,
                )
            except ValueError as exc:
                log.error("(%s) cannot build advert: %s", t.instance, exc)
                continue
            err = sock.send(data, dst)
            if err is not None:
                self._send_error(rt, t, dst, err)

    def _send_error(self, rt: Runtime, t: Transmit, dst: IPAddress, err: OSError | None) -> None:
        if err is None or (t.priority == 0 and rt.iface is not None and not rt.iface.up):
            return
        if rt.params.is_unicast:
            log.info("(%s) Cant send advert to %s (%s)", t.instance, dst, err.strerror)
        else:
            log.info("(%s): send advert error %d (%s)", t.instance, err.errno or 0, err.strerror)

    # ------------------------------------------------------------------ addresses
    def _addrs(self, rt: Runtime, ips: Sequence[IPAddress]) -> list[Address]:
        return [rt.addresses[ip] for ip in ips if ip in rt.addresses]

    async def _claim(self, c: ClaimAddresses) -> None:
        rt = self.table.runtime[c.instance]
        ipr = self.ipr
        if self.firewall is not None:  # accept mode: drop rules before the VIPs (§1.11.2)
            await self.firewall.claim(rt, c.vips + c.evips)
        # keepalived vrrp_handle_ipaddress: one line per list, with -D
        if c.vips:
            log.log(DETAIL, "(%s) setting VIPs.", c.instance)
        if c.evips:
            log.log(DETAIL, "(%s) setting E-VIPs.", c.instance)
        for a in self._addrs(rt, c.vips + c.evips):
            err = await add_address(ipr, a)
            if err is not None:
                log.error("(%s) Error adding %s: %s", c.instance, a, err.strerror or err)
                rt.not_set.add(a.address)
            else:
                rt.not_set.discard(a.address)
        self.keeper.want(self._addrs(rt, c.vips + c.evips))
        # keepalived.md §1.11.2: VIPs, eVIPs, then routes, then rules
        if rt.routes:
            log.log(DETAIL, "(%s) setting Virtual Routes", c.instance)
        for r in rt.routes:
            if (err := await add_route(ipr, r)) is not None:
                log.error("(%s) Error adding route %s: %s", c.instance, r.dst, err.strerror or err)
        if rt.rules:
            log.log(DETAIL, "(%s) setting Virtual Rules", c.instance)
        for u in rt.rules:
            if (err := await add_rule(ipr, u)) is not None:
                log.error("(%s) Error adding rule: %s", c.instance, err.strerror or err)

    async def _release(self, r: ReleaseAddresses) -> None:
        rt = self.table.runtime[r.instance]
        ipr = self.ipr
        # leaving MASTER: rules, routes, then addresses (keepalived's order)
        if rt.rules:
            log.log(DETAIL, "(%s) removing Virtual Rules", r.instance)
        for u in rt.rules:
            if (err := await del_rule(ipr, u)) is not None:
                log.error("(%s) Error removing rule: %s", r.instance, err.strerror or err)
        if rt.routes:
            log.log(DETAIL, "(%s) removing Virtual Routes", r.instance)
        for route in rt.routes:
            if (err := await del_route(ipr, route)) is not None:
                log.error("(%s) Error removing route %s: %s", r.instance, route.dst, err.strerror or err)
        addrs = self._addrs(rt, r.vips + r.evips)
        self.keeper.unwant(addrs)
        self.pacer.drop(r.instance)  # keepalived vrrp_remove_delayed_arp
        if r.vips:
            log.log(DETAIL, "(%s) removing VIPs.", r.instance)
        if r.evips:
            log.log(DETAIL, "(%s) removing E-VIPs.", r.instance)
        for a in addrs:
            err = await del_address(ipr, a)
            if err is not None:
                log.error("(%s) Error removing %s: %s", r.instance, a, err.strerror or err)
        if self.firewall is not None:  # and removed after them
            await self.firewall.release(rt, r.vips + r.evips)

    def _init_restore(self, r: ReleaseAddresses) -> None:
        """keepalived vrrp_init_state -> vrrp_restore_interface(vrrp, false, false): nothing of ours is
        set yet (the start-up clean-up removed leftovers), so only its -D lines remain: rules and
        routes always, the addresses only with --dont-release-vrrp (which removes even unset ones)."""
        if not log.isEnabledFor(DETAIL):
            return
        rt = self.table.runtime.get(r.instance)
        if rt is None:
            return
        if rt.rules:
            log.log(DETAIL, "(%s) removing Virtual Rules", r.instance)
        if rt.routes:
            log.log(DETAIL, "(%s) removing Virtual Routes", r.instance)
        if self.dont_release:
            if r.vips:
                log.log(DETAIL, "(%s) removing VIPs.", r.instance)
            if r.evips:
                log.log(DETAIL, "(%s) removing E-VIPs.", r.instance)

    async def _gratuitous(self, g: SendGratuitous) -> None:
        """keepalived vrrp_send_link_update: `repeat` rounds over the VIPs then eVIPs; in the first
        round each address is announced with `-D` ("Sending/queueing ... for ADDR"); frames go
        through the per-interface pacer (vrrp_garp_interval / vrrp_gna_interval, keepalived.md §5.7)."""
        runtime = self.table.runtime
        rt = runtime[g.instance]
        frames: list[Frame] = []
        place = list(runtime).index(g.instance)
        for n, ip in enumerate(g.addresses):
            a = rt.addresses.get(ip)
            dev = a.dev if a is not None else (rt.iface.ifname if rt.iface else None)
            if dev is None:
                continue
            mac = await self.macs.get(dev)
            if not mac:
                continue
            base = rt.iface.ifname if rt.iface is not None and rt.vmac is not None \
                and dev == rt.vmac.ifname else dev
            if isinstance(ip, IPv4Address):
                frames.append(Frame(g.instance, ip, dev, base, build_garp(ip, mac), (place, n)))
            elif isinstance(ip, IPv6Address):
                router = ipv6_forwarding(dev)
                self.gna_checks[dev] = (router, time.time())  # shown in keepalived.data
                na = build_unsolicited_na(ip, mac, router=router)
                frames.append(Frame(g.instance, ip, dev, base, na, (place, n)))
        if not self._still_master(g.instance):
            # it left MASTER while this job waited behind the address work (keepalived sends at once,
            # before it reads the next advert): announcing now would pull the LAN to a backup
            return
        for n in range(g.repeat):
            for f in frames:
                if n == 0:
                    v4 = isinstance(f.ip, IPv4Address)
                    kind = "gratuitous ARPs" if v4 else "Unsolicited Neighbour Adverts"
                    log.log(DETAIL, "(%s) Sending/queueing %s on %s for %s", g.instance, kind, f.dev, f.ip)
                self.pacer.send(f)

    def _still_master(self, instance: str) -> bool:
        rt = self.table.runtime.get(instance)
        return rt is not None and rt.inst.state is State.MASTER and rt.inst.vipset

    async def restore(self, ev: AddressEvent) -> None:
        self.forget_source(ev.address)
        entry, err = await restore_if_tracked(self.ipr, self.keeper, ev.address, ev.ifname)
        if entry is None:
            return
        log.info("Netlink reflector reports IP %s removed from %s - restoring", ev.address, ev.ifname)
        if err is not None:
            log.error("Error restoring %s: %s", entry, err.strerror or err)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self.pacer.close()
        self.garp.close()


async def _call(fn: Callable[[], None]) -> None:
    fn()
