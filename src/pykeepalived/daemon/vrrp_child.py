"""The VRRP child process: the sans-I/O core (vrrp/) driven on asyncio with the Linux layer (linux/).

Wiring, in keepalived's terms:
- one VrrpEngine holds every vrrp_instance and sync group; a Driver keeps ONE loop timer at the
  engine's next deadline (the advert and master-down timers), so adverts never wait on anything else;
- received datagrams (raw sockets, one per interface/family/group or unicast source) are fed to
  the engine, which demultiplexes by VRID;
- effects are executed by `LinuxExecutor`: adverts are encoded and sent at once (non-blocking), address
  changes, GARP/NA and notifies go through one ordered asyncio queue, so netlink never delays a timer;
- netlink events (link up/down, address removed) become FAULT / address restoration;
- signals: SIGTERM/SIGINT graceful stop, SIGHUP reload, SIGUSR1 data, SIGUSR2 stats, JSON signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pyroute2 import AsyncIPRoute

from pykeepalived.config import load_config
from pykeepalived.config.diag import ConfigErr, Diagnostic
from pykeepalived.config.model import Model
from pykeepalived.config.model import VrrpInstance as ConfInstance
from pykeepalived.config.to_params import instance_params
from pykeepalived.daemon.addrmap import address_from_spec
from pykeepalived.daemon.log import DETAIL, log, setup_logging
from pykeepalived.daemon.pidfile import AlreadyRunning, PidFile, default_path
from pykeepalived.daemon.status import StatusWriter
from pykeepalived.linux.addresses import Address, AddressKeeper, add_address, del_address
from pykeepalived.linux.garp import GarpSenders
from pykeepalived.linux.iface import InterfaceInfo, InterfaceNotFound, get_interface, ipv6_forwarding
from pykeepalived.linux.monitor import AddressEvent, LinkEvent, NetlinkMonitor
from pykeepalived.linux.timerfd import TimerFd
from pykeepalived.linux.vrrp_socket import VrrpSocket
from pykeepalived.options import SIGFUNCS, Options
from pykeepalived.vrrp.driver import Driver
from pykeepalived.vrrp.effects import (
    ClaimAddresses,
    Effect,
    Log,
    LogLevel,
    Notify,
    ReleaseAddresses,
    SendGratuitous,
    StateChanged,
    Transmit,
)
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.frames import build_garp, build_unsolicited_na
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import (
    AH_PROTO,
    VRRP_PROTO,
    RxPacket,
    build_ipv4_datagram,
    encode_advert,
    next_ip_id,
)
from pykeepalived.vrrp.params import AuthType, InstanceParams, IPAddress

EXIT_CONFIG = 2


class AsyncioClock:
    """The Driver's clock: integer µs on the event loop's monotonic clock. Its one timer is a
    timerfd (µs-precise; asyncio's own timers wake up to 1 ms late), else a loop timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        try:
            self.tfd: TimerFd | None = TimerFd(loop)
        except OSError:
            self.tfd = None

    def now(self) -> int:
        return time.monotonic_ns() // 1000

    def call_at(self, when: int, fn: Callable[[], None]) -> Any:
        if self.tfd is not None:
            return self.tfd.call_at(when, fn)
        return self.loop.call_at(when / 1_000_000, fn)


@dataclass
class Runtime:
    """What the executor knows about one instance beyond the core's parameters."""

    params: InstanceParams
    conf: ConfInstance
    iface: InterfaceInfo | None
    sock: VrrpSocket | None = None
    addresses: dict[IPAddress, Address] = field(default_factory=dict)  # VIPs and eVIPs
    ip_id: int = 0
    ah_seq: int = 0


class LinuxExecutor:
    """Performs the core's effects on the real system (the Driver's EffectSink)."""

    def __init__(self, child: VrrpChild) -> None:
        self.child = child
        self.queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self.garp = GarpSenders()
        self.keeper = AddressKeeper()
        self.worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await job()
            except Exception as exc:  # never let a failed operation stop the daemon
                log.error("internal error while applying a VRRP action: %r", exc)
            finally:
                self.queue.task_done()

    async def drain(self) -> None:
        await self.queue.join()

    # ------------------------------------------------------------------ EffectSink
    def submit(self, effects: Sequence[Effect]) -> None:
        for e in effects:
            if isinstance(e, Transmit):
                self._transmit(e)
            elif isinstance(e, Log):
                log.log(DETAIL if e.level is LogLevel.DETAIL else 20, "%s", e.text)
            elif isinstance(e, ClaimAddresses):
                self.queue.put_nowait(functools.partial(self._claim, e))
            elif isinstance(e, ReleaseAddresses):
                self.queue.put_nowait(functools.partial(self._release, e))
            elif isinstance(e, SendGratuitous):
                self.queue.put_nowait(functools.partial(self._gratuitous, e))
            elif isinstance(e, StateChanged):
                self.child.status.transition(e)
            elif isinstance(e, Notify):
                self.child.notify(e)

    # ------------------------------------------------------------------ adverts
    def _transmit(self, t: Transmit) -> None:
        rt = self.child.runtime[t.instance]
        sock = rt.sock
        if sock is None:
            return
        p = rt.params
        src = t.src
        if src is None:
            return  # no source address: the core is in FAULT for it already
        for dst in t.dsts:
            try:
                pdu = encode_advert(t.advert, src=src, dst=dst, checksum_mode=p.checksum_mode)
                if p.family == 4:
                    rt.ip_id = next_ip_id(rt.ip_id)
                    if p.auth_type is AuthType.AH:
                        rt.ah_seq = (rt.ah_seq + 1) & 0xFFFFFFFF
                    data = build_ipv4_datagram(
                        pdu, src=src, dst=dst, ttl=t.ttl, ident=rt.ip_id, auth_type=p.auth_type,
                        auth_key=p.auth_pass, ah_seq=rt.ah_seq, unicast=p.is_unicast,
                    )
                    err = sock.send(data, dst)
                else:
                    err = sock.send(pdu, dst, src=src)
            except ValueError as exc:
                log.error("(%s) cannot build advert: %s", t.instance, exc)
                continue
            if err is not None and not (t.priority == 0 and rt.iface is not None and not rt.iface.up):
                if p.is_unicast:
                    log.info("(%s) Cant send advert to %s (%s)", t.instance, dst, err.strerror)
                else:
                    log.info("(%s): send advert error %d (%s)", t.instance, err.errno or 0, err.strerror)

    # ------------------------------------------------------------------ addresses
    def _addrs(self, rt: Runtime, ips: Sequence[IPAddress]) -> list[Address]:
        return [rt.addresses[ip] for ip in ips if ip in rt.addresses]

    async def _claim(self, c: ClaimAddresses) -> None:
        rt = self.child.runtime[c.instance]
        ipr = self.child.ipr
        if c.vips:
            log.log(DETAIL, "(%s) setting VIPs.", c.instance)
        for a in self._addrs(rt, c.vips + c.evips):
            err = await add_address(ipr, a)
            if err is not None:
                log.error("(%s) Error adding %s: %s", c.instance, a, err.strerror or err)
        self.keeper.want(self._addrs(rt, c.vips + c.evips))

    async def _release(self, r: ReleaseAddresses) -> None:
        rt = self.child.runtime[r.instance]
        addrs = self._addrs(rt, r.vips + r.evips)
        self.keeper.unwant(addrs)
        if r.vips:
            log.log(DETAIL, "(%s) removing VIPs.", r.instance)
        for a in addrs:
            err = await del_address(self.child.ipr, a)
            if err is not None:
                log.error("(%s) Error removing %s: %s", r.instance, a, err.strerror or err)

    async def _gratuitous(self, g: SendGratuitous) -> None:
        rt = self.child.runtime[g.instance]
        frames: list[tuple[str, bytes, IPAddress]] = []
        for ip in g.addresses:
            a = rt.addresses.get(ip)
            dev = a.dev if a is not None else (rt.iface.ifname if rt.iface else None)
            if dev is None:
                continue
            mac = await self.child.mac_of(dev)
            if not mac:
                continue
            if isinstance(ip, IPv4Address):
                frames.append((dev, build_garp(ip, mac), ip))
            elif isinstance(ip, IPv6Address):
                frames.append((dev, build_unsolicited_na(ip, mac, router=ipv6_forwarding(dev)), ip))
        for _ in range(g.repeat):
            for dev, frame, ip in frames:
                kind = "gratuitous ARP" if isinstance(ip, IPv4Address) else "unsolicited Neighbour Advert"
                log.log(DETAIL, "Sending %s on %s for %s", kind, dev, ip)
                self.garp.send(dev, frame)

    async def restore(self, ev: AddressEvent) -> None:
        entry = self.keeper.deleted(ev.address, ev.ifname)
        if entry is None:
            return
        log.info("Netlink reflector reports IP %s removed from %s - restoring", ev.address, ev.ifname)
        err = await add_address(self.child.ipr, entry)
        if err is not None:
            log.error("Error restoring %s: %s", entry, err.strerror or err)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self.garp.close()


class VrrpChild:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.model: Model | None = None
        self.engine = VrrpEngine()
        self.runtime: dict[str, Runtime] = {}
        self.sockets: dict[tuple[str, int, IPAddress | None, IPAddress | None, int], VrrpSocket] = {}
        self.ipr: Any = None
        self.driver: Driver | None = None
        self.executor: LinuxExecutor | None = None
        self.status = StatusWriter(self)
        self.stop_event = asyncio.Event()
        self.reload_requested = False
        self._macs: dict[str, bytes] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self.notifier: Any = None

    # ------------------------------------------------------------------ helpers
    async def mac_of(self, dev: str) -> bytes:
        mac = self._macs.get(dev)
        if mac is None:
            try:
                mac = (await get_interface(self.ipr, dev)).mac
            except InterfaceNotFound:
                return b""
            self._macs[dev] = mac
        return mac

    def notify(self, n: Notify) -> None:
        if self.notifier is not None:
            self.notifier(n)

    def log_diagnostics(self, diags: list[Diagnostic]) -> bool:
        fatal = False
        for d in diags:
            log.error("%s", d.format())
            fatal = fatal or d.level >= ConfigErr.FATAL
        return fatal

    # ------------------------------------------------------------------ set-up
    async def build(self, model: Model) -> None:
        """Create instances, sync groups and sockets for `model` (at start-up)."""
        for conf in model.vrrp_instances:
            if conf.vrid is None:
                continue
            params = instance_params(model, conf)
            iface: InterfaceInfo | None = None
            if params.interface is not None:
                try:
                    iface = await get_interface(self.ipr, params.interface)
                except InterfaceNotFound:
                    log.error("(%s) interface %s doesn't exist", conf.name, params.interface)
                    continue
            rt = Runtime(params, conf, iface)
            for spec in conf.vips + conf.evips:
                a = address_from_spec(spec, iface.ifname if iface else None)
                if a is not None:
                    rt.addresses[spec.address] = a
            inst = VrrpInstance(params)
            self.engine.add_instance(inst, iface.ifindex if iface else 0)
            self.runtime[conf.name] = rt
            try:
                rt.sock = self._socket_for(rt)
            except OSError as exc:
                log.error("(%s) cannot open VRRP socket: %s", conf.name, exc)
            if iface is not None:
                src = params.src_ip or self._primary(iface, params)
                inst.set_source_address(src, 0)
                if not params.dont_track_primary:
                    inst.set_link(iface.up and iface.running, 0)
        names = set(self.engine.instances)
        for g in model.sync_groups:
            members = [m for m in g.members if m in names]
            if members:
                self.engine.add_sync_group(g.name, members)

    def _primary(self, iface: InterfaceInfo, p: InstanceParams) -> IPAddress | None:
        exclude = set(p.vips) | set(p.evips)
        return iface.primary_ipv4(exclude) if p.family == 4 else iface.link_local_ipv6(exclude)

    def _socket_for(self, rt: Runtime) -> VrrpSocket | None:
        p = rt.params
        ifname = rt.iface.ifname if rt.iface else None
        if ifname is None:
            return None
        proto = AH_PROTO if p.auth_type is AuthType.AH else VRRP_PROTO
        usrc = None
        if p.is_unicast:
            # keepalived binds the unicast receive socket to unicast_src_ip, else to the interface's
            # primary address (keepalived.md §5.1, §5.9)
            usrc = p.src_ip or (self._primary(rt.iface, p) if rt.iface else None)
            if usrc is None:
                log.error("(%s) no source address for unicast adverts on %s", p.name, ifname)
                return None
        group = None if p.is_unicast else p.mcast_group
        key = (ifname, p.family, group, usrc, proto)
        sock = self.sockets.get(key)
        if sock is None:
            sock = VrrpSocket(ifname=ifname, family=p.family, group=group, unicast_src=usrc, proto=proto)
            sock.start(self._on_packet)
            self.sockets[key] = sock
        return sock

    def _on_packet(self, rx: RxPacket) -> None:
        if self.driver is not None:
            try:
                self.driver.feed(rx)
            except Exception as exc:  # the core must not raise on remote input; never die if it does
                log.error("internal error processing an advert from %s: %r", rx.src, exc)

    # ------------------------------------------------------------------ events
    async def _monitor(self) -> None:
        try:
            async with NetlinkMonitor() as mon:
                async for ev in mon:
                    try:
                        await self._on_event(ev)
                    except Exception as exc:
                        log.error("internal error handling a netlink event: %r", exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("netlink monitor failed: %r", exc)

    async def _on_event(self, ev: object) -> None:
        assert self.driver is not None and self.executor is not None
        if isinstance(ev, LinkEvent):
            touched = [rt for rt in self.runtime.values() if rt.iface and rt.iface.ifindex == ev.ifindex]
            if touched:
                log.info("Netlink reports %s %s", ev.ifname, "up" if ev.usable else "down")
            self._macs.pop(ev.ifname, None)
            for rt in touched:
                if not rt.params.dont_track_primary:
                    self.driver.set_link(rt.params.name, ev.usable)
        elif isinstance(ev, AddressEvent):
            if self.opts.address_monitoring:
                log.info("Netlink reflector reports IP %s %s %s", ev.address,
                         "added to" if ev.added else "removed from", ev.ifname)
            if not ev.added:
                await self.executor.restore(ev)
            if any(ev.address in rt.addresses for rt in self.runtime.values()):
                return  # one of our VIPs/eVIPs: never a source address (the common case, at scale)
            fresh: InterfaceInfo | None = None  # one netlink dump per event, not one per instance
            for rt in self.runtime.values():
                if rt.iface is None or rt.iface.ifindex != ev.ifindex or rt.params.src_ip is not None:
                    continue
                if fresh is None:
                    try:
                        fresh = await get_interface(self.ipr, rt.iface.ifindex)
                    except InterfaceNotFound:
                        return
                rt.iface = fresh
                self.driver.set_source_address(rt.params.name, self._primary(rt.iface, rt.params))

    # ------------------------------------------------------------------ signals
    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self.stop_event.set)
        if not self.opts.ignore_sigint:
            loop.add_signal_handler(signal.SIGINT, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_reload)
        loop.add_signal_handler(signal.SIGUSR1, self.status.write_data)
        loop.add_signal_handler(signal.SIGUSR2, self.status.write_stats)
        loop.add_signal_handler(SIGFUNCS["STATS_CLEAR"], lambda: self.status.write_stats(clear=True))
        loop.add_signal_handler(SIGFUNCS["JSON"], self.status.write_json)

    def _on_reload(self) -> None:
        self.reload_requested = True
        self.stop_event.set()

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        model, diags = load_config(self.opts.conf_file, self.opts.config_id, self.opts.all_config)
        self.log_diagnostics(diags)
        self.model = model
        self.ipr = AsyncIPRoute()
        self.executor = LinuxExecutor(self)
        self.executor.start()
        await self.build(model)
        self.driver = Driver(self.engine, AsyncioClock(loop), self.executor)
        self._tasks.append(loop.create_task(self._monitor()))
        self.driver.start()
        while True:
            await self.stop_event.wait()
            self.stop_event.clear()
            if self.reload_requested:
                self.reload_requested = False
                await self.reload()
                continue
            break
        await self.shutdown()
        return 0

    async def reload(self) -> None:
        log.info("Reloading")
        model, diags = load_config(self.opts.conf_file, self.opts.config_id, self.opts.all_config)
        if self.log_diagnostics(diags):
            log.error("Configuration has errors - keeping the running configuration")
            return
        if model == self.model:
            return
        # Unchanged instances keep running untouched; a changed configuration is applied by a
        # controlled restart of the engine (masters send priority 0 first, as at shutdown).
        assert self.driver is not None and self.executor is not None
        self.driver.shutdown()
        await self.executor.drain()
        self.engine = VrrpEngine()
        self.runtime.clear()
        await self.build(model)
        self.model = model
        self.driver = Driver(self.engine, self.driver.clock, self.executor)
        self.driver.start()

    async def shutdown(self) -> None:
        assert self.driver is not None and self.executor is not None
        self.driver.shutdown()
        await self.executor.drain()
        for t in self._tasks:
            t.cancel()
        for sock in self.sockets.values():
            sock.close()
        self.executor.close()
        with contextlib.suppress(Exception):
            self.ipr.close()
        log.info("Stopped")


def run_vrrp_child(opts: Options) -> int:
    setup_logging(opts, "vrrp")
    pid = PidFile(opts.vrrp_pid_file or default_path("vrrp"))
    try:
        pid.acquire()
    except AlreadyRunning:
        log.error("daemon is already running")
        return 1
    try:
        return asyncio.run(VrrpChild(opts).run())
    finally:
        pid.remove()
