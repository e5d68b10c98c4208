"""The VRRP child process: the sans-I/O core (vrrp/) driven on asyncio with the Linux layer (linux/).

Wiring, in keepalived's terms:
- one VrrpEngine holds every vrrp_instance and sync group; a Driver keeps ONE loop timer at the
  engine's next deadline (the advert and master-down timers), so adverts never wait on anything else;
- received datagrams (raw sockets, one per interface/family/group or unicast source) are fed to
  the engine, which demultiplexes by VRID;
- effects are executed by `LinuxExecutor`: adverts are encoded and sent at once (non-blocking), address
  changes, GARP/NA and notifies go through one ordered asyncio queue, so netlink never delays a timer;
- netlink events (link up/down, address removed) become FAULT / address restoration;
- signals: SIGTERM/SIGINT graceful stop, SIGHUP reload, SIGUSR1 data, SIGUSR2 stats, JSON signal;
- state hooks: every Notify (a state change the operator hears of) also goes to `notify_hooks`, e.g.
  the DBus service's VrrpStatusChange (enable_dbus: control/dbus.py, through daemon/vrrp_dbus.py) and
  the BGP announcer (bgp_announce: daemon/bgp.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

from pykeepalived.config import load_config
from pykeepalived.config.complete import complete_diagnostics, fit_vips
from pykeepalived.config.diag import Diagnostic, is_broken
from pykeepalived.config.interfaces import interface_diagnostics
from pykeepalived.config.lvs_globals import lvs_globals
from pykeepalived.config.model import Model, VipSpec
from pykeepalived.config.model import VrrpInstance as ConfInstance
from pykeepalived.config.sync_tracking import tracking_diagnostics
from pykeepalived.config.to_params import instance_params
from pykeepalived.config.vrrp_extra import needs_address_vmac, vmac_addr_prefix
from pykeepalived.control.plane import ControlPlane
from pykeepalived.control.sdnotify import child_ready
from pykeepalived.control.snmp_vrrp import VrrpSnmpAgent, reload_snmp, start_snmp
from pykeepalived.daemon.addrmap import address_from_spec, route_from_config, rule_from_config
from pykeepalived.daemon.autoprio import auto_priority
from pykeepalived.daemon.bfd_events import BfdEventReader, SetTracker, VrrpBfdTracker, start_reader
from pykeepalived.daemon.bgp import BgpAnnouncer, plans_of
from pykeepalived.daemon.dynif import DynamicInterfaces, log_missing
from pykeepalived.daemon.executor import AsyncioClock, LinuxExecutor, Runtime
from pykeepalived.daemon.firewall import Firewall, drops
from pykeepalived.daemon.linkbeat import LinkbeatPoller, start_linkbeat
from pykeepalived.daemon.linkdelay import LinkDebounce, link_debounce
from pykeepalived.daemon.log import DETAIL, log, log_stopping, setup_logging
from pykeepalived.daemon.pidfile import default_path, run_with_pid_file
from pykeepalived.daemon.procconf import apply_child
from pykeepalived.daemon.reload_states import write_states_on_reload
from pykeepalived.daemon.serve import hold_signals, install_signals, serve_until_stopped
from pykeepalived.daemon.snmp_view import ChildSnmpView
from pykeepalived.daemon.sockbufs import vrrp_rx_buf
from pykeepalived.daemon.status import StatusWriter
from pykeepalived.daemon.trackers import (
    NotifyDispatcher,
    ScriptResolver,
    VrrpScripts,
    check_vrrp_scripts,
    file_trackers,
    interface_states,
    process_tracker,
    reload_trackers,
    seed_trackers,
    smtp_alerter,
    tracked_interfaces,
)
from pykeepalived.linux.addresses import (
    Address,
    Route,
    Rule,
    add_address,
    add_route,
    add_rule,
    del_address,
    del_route,
    del_rule,
)
from pykeepalived.linux.anchor import Anchor
from pykeepalived.linux.iface import (
    IFF_MULTICAST,
    IFF_NOARP,
    IFF_POINTOPOINT,
    InterfaceInfo,
    InterfaceNotFound,
    get_interface,
)
from pykeepalived.linux.igmp import LocalIgmp
from pykeepalived.linux.monitor import AddressEvent, LinkEvent, NetlinkMonitor
from pykeepalived.linux.rcvbuf import SocketRxBufs, apply_netlink_bufs, netlink_bufs
from pykeepalived.linux.rtnl import AsyncIPRoute
from pykeepalived.linux.vmac import Vmac, VmacManager
from pykeepalived.linux.vrrp_socket import UnicastBindError, VrrpSocket
from pykeepalived.lvs.globals import tied_syncd
from pykeepalived.notify.fifo import FifoSet
from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.options import SIGFUNCS, Options
from pykeepalived.track.file import FileTrackers
from pykeepalived.track.process import ProcessTracker
from pykeepalived.track.script import ScriptTrackers
from pykeepalived.vrrp.driver import Driver
from pykeepalived.vrrp.effects import (
    Notify,
    State,
)
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import (
    AH_PROTO,
    VRRP_PROTO,
    RxPacket,
)
from pykeepalived.vrrp.params import AuthType, InstanceParams, IPAddress

if TYPE_CHECKING:
    from pykeepalived.control.dbus import DbusService
    from pykeepalived.linux.ipvs_sync import VrrpSyncDaemon


class VrrpChild:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.model: Model | None = None
        self.engine = VrrpEngine()
        self.runtime: dict[str, Runtime] = {}
        self.rx_bufs = SocketRxBufs()
        self.sockets: dict[tuple[str, int, IPAddress | None, IPAddress | None, int], VrrpSocket] = {}
        self.ipr: Any = None
        self.driver: Driver | None = None
        self.executor: LinuxExecutor | None = None
        self.firewall: Firewall | None = None  # accept mode / VMAC rules (daemon/firewall.py)
        self.status = StatusWriter(self)
        self.ops = ControlPlane(self, opts.vrrp_pid_file or default_path("vrrp"))
        self.stop_event = asyncio.Event()
        self.reload_requested = False
        self.stop_requested = False
        self._macs: dict[str, bytes] = {}
        self.gna_checks: dict[str, tuple[bool, float]] = {}  # ifname -> (IPv6 forwarding, read at)
        self.vmacs: VmacManager
        self._tasks: list[asyncio.Task[Any]] = []
        self.notifier: NotifyDispatcher | None = None
        self.scripts: ScriptTrackers | None = None
        self.files: FileTrackers | None = None
        self.processes: ProcessTracker | None = None
        self.fifos: FifoSet | None = None
        self.tracked_ifs: set[str] = set()
        self._assigned_logged: set[str] = set()
        self._addr_vmacs: set[str] = set()  # address VMACs already reported (use_vmac_addr)
        self.bfd = VrrpBfdTracker({})
        self.bfd_reader: BfdEventReader | None = None
        self.syncd: VrrpSyncDaemon | None = None  # lvs_sync_daemon tied to an instance
        self._vips: set[IPAddress] | None = None  # every instance's VIPs and eVIPs (_is_vip)
        self.local_igmp = LocalIgmp()  # disable_local_igmp
        self.debounce: LinkDebounce | None = None  # interface_up_down_delays
        self.dynif: DynamicInterfaces | None = None  # dynamic_interfaces
        self.linkbeat: LinkbeatPoller | None = None  # linkbeat_interfaces / linkbeat_use_polling
        self.notify_hooks: list[Callable[[Notify], None]] = []  # told of every Notify, after the scripts
        self.dbus: DbusService | None = None  # enable_dbus
        self.bgp: BgpAnnouncer | None = None  # bgp_announce (daemon/bgp.py)
        self.snmp: VrrpSnmpAgent | None = None  # -x / enable_snmp_* (control/snmp_vrrp.py)

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
        for hook in self.notify_hooks:
            try:
                hook(n)
            except Exception as exc:  # an observer must never stop a transition
                log.error("internal error in a state hook: %r", exc)

    def set_tracker(self, kind: str, name: str, value: bool | int | None) -> None:
        if self.driver is not None:
            self.driver.set_tracker(kind, name, value)

    async def start_trackers(self, model: Model, checked: VrrpScripts) -> None:
        """Scripts, tracked interfaces and notifies; initial values reach the core before it starts."""
        self.fifos = checked.fifos
        if self.fifos is not None:
            await self.fifos.open()
        self.notifier = NotifyDispatcher(Notifier(self.fifos, smtp_alerter(model)), checked.notify)
        self.scripts = checked.tracker(self.set_tracker)
        self.files = file_trackers(model, self.set_tracker)
        self.files.start()
        for name, value in self.files.values.items():
            self.engine.set_tracker("file", name, value, 0)
        self.processes = process_tracker(model, self.set_tracker)
        self.processes.start()
        for name, tp in self.processes.tracked.items():
            self.engine.set_tracker("process", name, tp.have_quorum, 0)
        self.tracked_ifs = tracked_interfaces(model)
        for ifname, up in (await interface_states(self.ipr, self.tracked_ifs)).items():
            self.engine.set_tracker("interface", ifname, up, 0)
        self.track_bfd(lambda kind, name, value: self.engine.set_tracker(kind, name, value, 0))

    def track_bfd(self, set_tracker: SetTracker, rts: Mapping[str, Runtime] | None = None) -> None:
        """track_bfd sessions (daemon/bfd_events.py) of the instances (`rts` at a reload): Down until
        the BFD child says otherwise."""
        self.bfd = VrrpBfdTracker.from_tracks(
            (name, ((t.kind, t.name) for t in rt.params.tracks))
            for name, rt in (self.runtime if rts is None else rts).items()
        ).carry_over(self.bfd)
        self.bfd.initial(set_tracker)

    def log_diagnostics(self, diags: list[Diagnostic]) -> bool:
        fatal = False
        for d in diags:
            log.error("%s", d.format())
            fatal = fatal or is_broken(d)
        return fatal

    # ------------------------------------------------------------------ set-up
    async def build(self, model: Model) -> None:
        """Create the instances, sync groups and sockets of `model` (at start)."""
        self.runtime = await self._runtimes(model)
        self._vips = None
        for rt in self.runtime.values():
            self.engine.add_instance(rt.inst, self._rx_ifindex(rt))
        for name, members in self._sync_groups(model, self.runtime):
            self.engine.add_sync_group(name, members)

    async def _runtimes(self, model: Model) -> dict[str, Runtime]:
        """Every instance of `model` with its addresses, VMAC and socket, in configuration order (not
        registered with the engine yet)."""
        rts = {}
        ifaces: dict[str, InterfaceInfo | None] = {}  # one netlink look-up per interface (its VIPs are many)
        for conf in model.vrrp_instances:
            if conf.vrid is not None and (rt := await self._new_runtime(model, conf, ifaces)) is not None:
                rts[conf.name] = rt
        ours = {rt.vmac.ifname for rt in rts.values() if rt.vmac is not None} | self._addr_vmacs
        for name, line in vmac_conflicts(list(rts.values()), ours):
            log.error("%s", line)
            rts[name].inst.config_faulted()
        return rts

    @staticmethod
    def _sync_groups(model: Model, rts: Mapping[str, Runtime]) -> list[tuple[str, list[str]]]:
        """The sync groups of `model` with their members that run."""
        groups = [(g.name, [m for m in g.members if m in rts]) for g in model.sync_groups]
        return [(name, members) for name, members in groups if members]

    def _notify_scripts(self, scripts: dict[tuple[str, str], NotifyScripts]) -> None:
        if self.notifier is not None:
            self.notifier.scripts = scripts

    @staticmethod
    def _rx_ifindex(rt: Runtime) -> int:
        """Received adverts are matched to instances by the receiving interface (a VMAC's own index)."""
        return rt.sock.ifindex if rt.sock else (rt.iface.ifindex if rt.iface else 0)

    async def _new_runtime(self, model: Model, conf: ConfInstance, ifaces: dict[str, InterfaceInfo | None]
                           ) -> Runtime | None:
        params = instance_params(model, conf)
        if params.config_fault:  # keepalived vrrp_complete_instance (unicast_fault_no_peer)
            log.info("(%s) Cannot use unicast without any peers - going to fault state", conf.name)
        iface: InterfaceInfo | None = None
        if params.interface is not None:
            if params.interface not in ifaces:
                try:
                    ifaces[params.interface] = await get_interface(self.ipr, params.interface)
                except InterfaceNotFound:
                    ifaces[params.interface] = None
            iface = ifaces[params.interface]
            if iface is None:
                if not model.global_defs.dynamic_interfaces:
                    log.error("(%s) interface %s doesn't exist", conf.name, params.interface)
                    return None
                log_missing(params.interface)  # daemon/dynif.py: attached when created

        if iface is not None and iface.ifindex:  # keepalived vrrp_complete_instance, on the interface
            if not iface.flags & IFF_MULTICAST and not params.is_unicast:
                log.error("(%s) interface %s does not support multicast, specify unicast peers - disabling",
                          conf.name, iface.ifname)
                params = dataclasses.replace(params, config_fault=True)  # held in FAULT for good
            if iface.flags & IFF_NOARP and not iface.flags & IFF_POINTOPOINT:
                log.log(DETAIL, "(%s) disabling ARP since interface does not support it", conf.name)
        if iface is not None and iface.ifname not in self._assigned_logged:
            # keepalived add_vrrp_to_interface (with -D): the first instance on an interface
            self._assigned_logged.add(iface.ifname)
            for addr in (iface.primary_ipv4(set(params.vips) | set(params.evips)), iface.link_local_ipv6()):
                if addr is not None:
                    log.log(DETAIL, "Assigned address %s for interface %s", addr, iface.ifname)
        inst = VrrpInstance(params)
        rt = Runtime(params, conf, inst, iface)
        if iface is not None and conf.use_vmac is None and conf.promote_secondaries:
            # keepalived set_promote_secondaries: set unless already on; put back at shutdown
            self.vmacs.journal.set(f"net/ipv4/conf/{iface.ifname}/promote_secondaries", 1)
        if conf.use_vmac is not None and iface is not None:
            rt.vmac = await self._vmac(conf, params, iface)
            if self.firewall is not None:
                await self.firewall.vmac_added(rt)
        group4 = model.global_defs.vrrp_mcast_group4
        if isinstance(group4, IPv4Address):
            rt.group4 = group4
        await self._build_addresses(rt, model)
        rt.routes = [route_from_config(r) for r in conf.virtual_routes]
        rt.rules = [rule_from_config(r) for r in conf.virtual_rules]
        try:
            rt.sock = self._socket_for(rt)
        except UnicastBindError as exc:  # keepalived open_vrrp_read_socket; FAULT at start
            log.info("bind unicast_src %s failed %d - %s", exc.filename, exc.errno or 0, exc.strerror)
            inst.socket_unusable()
        except OSError as exc:
            log.error("(%s) cannot open VRRP socket: %s", conf.name, exc)
        if iface is not None:
            src = params.src_ip or self._primary(iface, params)
            if rt.vmac is not None and rt.vmac.link_local is not None and params.family == 6:
                src = params.src_ip or rt.vmac.link_local  # a VMAC advertises from its own link-local
            inst.set_source_address(src, 0)
            if not params.dont_track_primary:
                inst.set_link(iface.up and iface.running, 0)
        elif params.interface is not None:  # dynamic_interfaces: not created yet
            inst.set_link(False, 0)
            inst.set_source_address(None, 0)
        if self.scripts is not None:
            for t in params.tracks:
                if t.kind == "script" and t.name in self.scripts.trackers:
                    inst.set_tracker("script", t.name, self.scripts[t.name].ok, 0)
        return rt

    async def _build_addresses(self, rt: Runtime, model: Model) -> None:
        """The instance's VIPs and eVIPs as addresses on their interfaces (again when a
        dynamic_interfaces interface appears)."""
        conf = rt.conf
        for spec in conf.vips + conf.evips:
            dev = self._address_dev(rt, spec)
            if dev is not None and needs_address_vmac(conf, spec, model):  # use_vmac_addr
                dev = await self._address_vmac(model, conf.name, rt.params.vrid, dev, spec.address.version)
            # `dev <interface>` of the instance's family moves to the VMAC
            if spec.dev is not None and dev is not None and dev != spec.dev:
                spec = dataclasses.replace(spec, dev=dev)
            a = address_from_spec(spec, dev)
            if a is not None:
                rt.addresses[spec.address] = a
        self._vips = None

    @staticmethod
    def _address_dev(rt: Runtime, spec: VipSpec) -> str | None:
        """Where a VIP/eVIP lives (keepalived vrrp_complete_instance): with use_vmac, one of the
        instance's family without `dev` (or with the instance's interface as `dev`) on the VMAC,
        any other (another family's eVIP) on the configured interface itself."""
        base = rt.iface.ifname if rt.iface is not None else None
        if rt.vmac is not None and spec.dev in (None, base) and spec.address.version == rt.params.family:
            return rt.vmac.ifname
        return spec.dev or base

    async def _vmac(self, conf: ConfInstance, p: InstanceParams, iface: InterfaceInfo) -> Vmac | None:
        """use_vmac [NAME] [MAC] ...: keepalived.md §1.11.4 / §5.8."""
        assert conf.use_vmac is not None
        name, mac = conf.use_vmac.name, conf.use_vmac.mac
        xmit_base = conf.vmac_xmit_base
        try:
            ll = p.src_ip if isinstance(p.src_ip, IPv6Address) else None
            vmac = await self.vmacs.create(iface.ifname, p.vrid, p.family, name=name, mac=mac,
                                           link_local=ll, xmit_base=xmit_base)
        except OSError as exc:
            log.error("(%s) Unable to create VMAC interface: %s", conf.name, exc)
            return None
        if vmac.created:
            log.log(DETAIL, "(%s): Success creating VMAC interface %s", conf.name, vmac.ifname)
        else:  # a reload's (or a previous run's): keepalived vrrp_complete_instance
            log.info("(%s) Found matching interface %s", conf.name, vmac.ifname)
        return vmac

    async def _address_vmac(self, model: Model, name: str, vrid: int, parent: str, family: int) -> str:
        """The VMAC of a VIP/eVIP on `parent` (keepalived vrrp_complete_instance, use_vmac_addr):
        one per parent and family, named with vmac_addr_prefix; the parent itself if that fails."""
        try:
            vmac = await self.vmacs.create(parent, vrid, family, prefix=vmac_addr_prefix(model))
        except OSError as exc:
            log.error("(%s) Unable to create VMAC interface on %s: %s", name, parent, exc)
            return parent
        if vmac.ifname not in self._addr_vmacs:
            self._addr_vmacs.add(vmac.ifname)
            log.log(DETAIL, "(%s): Success creating VMAC interface %s", name, vmac.ifname)
        return vmac.ifname

    def _primary(self, iface: InterfaceInfo, p: InstanceParams) -> IPAddress | None:
        """The source address of an instance without one configured (keepalived: the interface's
        primary IPv4 address, its link-local IPv6 one). Deliberately unlike keepalived 2.2.7: an IPv6
        unicast instance whose peers are all global uses the interface's global address, as if it were
        its unicast_src_ip; keepalived binds its receive socket to the link-local address, so the
        adverts its peers send to the address they list are never received and both ends become
        MASTER (docs/migration.md)."""
        exclude = set(p.vips) | set(p.evips)
        if p.family == 4:
            return iface.primary_ipv4(exclude)
        if p.is_unicast and not any(peer.address.is_link_local for peer in p.unicast_peers):
            return iface.global_ipv6(exclude) or iface.link_local_ipv6(exclude)
        return iface.link_local_ipv6(exclude)

    def _socket_for(self, rt: Runtime) -> VrrpSocket | None:
        p = rt.params
        xmit_base = rt.conf.vmac_xmit_base
        ifname = rt.vmac.ifname if rt.vmac and not xmit_base else (rt.iface.ifname if rt.iface else None)
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
            self.engine.ifnames[sock.ifindex] = ifname
        self.rx_bufs.attach(sock.rx, p.name, vrrp_rx_buf(self.model, rt))  # daemon/sockbufs.py
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
            async with NetlinkMonitor(rcvbuf=netlink_bufs(self.model, "vrrp_netlink_monitor")) as mon:
                async for ev in mon:
                    # interface_up_down_delays (daemon/linkdelay.py): held back, or now
                    deb = self.debounce
                    if deb is not None and isinstance(ev, LinkEvent) and deb.feed(ev) is None:
                        continue
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
            if self.dynif is not None and not await self.dynif.on_link(ev):
                return
            self._macs.pop(ev.ifname, None)
            if self.linkbeat is None or not self.linkbeat.polls(ev.ifname):  # daemon/linkbeat.py
                self.link_changed(ev.ifindex, ev.ifname, ev.usable, "Netlink")
        elif isinstance(ev, AddressEvent):
            if self.opts.address_monitoring:
                log.info("Netlink reflector reports IP %s %s %s", ev.address,
                         "added to" if ev.added else "removed from", ev.ifname)
            if not ev.added:
                await self.executor.restore(ev)
            if self._is_vip(ev.address):
                return  # one of our VIPs/eVIPs: never a source address (the common case, at scale)
            fresh: InterfaceInfo | None = None  # one netlink dump per event, not one per instance
            for rt in list(self.runtime.values()):  # a reload may change the dict while we await
                if rt.iface is None or rt.iface.ifindex != ev.ifindex or rt.params.src_ip is not None:
                    continue
                if fresh is None:
                    try:
                        fresh = await get_interface(self.ipr, rt.iface.ifindex)
                    except InterfaceNotFound:
                        return
                rt.iface = fresh
                self.driver.set_source_address(rt.params.name, self._primary(rt.iface, rt.params))

    def link_changed(self, ifindex: int, ifname: str, usable: bool, source: str | None) -> None:
        """An interface went up or down (netlink, or linkbeat polling, which logs its own line):
        its instances and trackers."""
        assert self.driver is not None
        touched = [rt for rt in self.runtime.values() if rt.iface and rt.iface.ifindex == ifindex]
        if touched and source is not None:
            log.info("%s reports %s %s", source, ifname, "up" if usable else "down")
        for rt in touched:
            if not rt.params.dont_track_primary:
                self.driver.set_link(rt.params.name, usable)
        if ifname in self.tracked_ifs:
            self.driver.set_tracker("interface", ifname, usable)

    def _is_vip(self, addr: IPAddress) -> bool:
        """A VIP or eVIP of any instance (one set lookup: 1,000 masters add 1,000 addresses)."""
        if self._vips is None:
            self._vips = {a for rt in self.runtime.values() for a in rt.addresses}
        return addr in self._vips

    # ------------------------------------------------------------------ signals
    def _install_signals(self, loop: asyncio.AbstractEventLoop, held: list[int]) -> None:
        install_signals(loop, self, self.opts.ignore_sigint, self.status.write_data, {
            signal.SIGUSR2: self.status.write_stats,
            SIGFUNCS["STATS_CLEAR"]: lambda: self.status.write_stats(clear=True),
            SIGFUNCS["JSON"]: self.status.write_json,
        }, held)

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        held = hold_signals(loop)  # until started (daemon/serve.py)
        model, diags = load_config(self.opts.conf_file, self.opts.config_id, self.opts.all_config, "vrrp")
        self.log_diagnostics([*diags, *tracking_diagnostics(model)])
        if not model.global_defs.dynamic_interfaces and (missing := interface_diagnostics(model)):
            self.log_diagnostics(missing)  # keepalived start_vrrp: permanent CONFIG error, no respawn
            return EXIT_CONFIG
        if any(d.stops for d in diags):
            return EXIT_CONFIG  # a keyword missing its value: keepalived's reading exits (null_strvec)
        model, fitted = fit_vips(model)  # vrrp_complete_instance: VIPs beyond an advert become eVIPs
        self.log_diagnostics(fitted)
        if self.log_diagnostics(failed := complete_diagnostics(model)) or failed or any(
                d.stops_vrrp for d in diags):
            return EXIT_CONFIG  # vrrp_complete_init failed: permanent CONFIG error, no respawn
        self.model = model
        reload_snmp(self.snmp, self.opts, model)
        self.engine.log_unknown_vrids = model.global_defs.log_unknown_vrids
        self.ipr = AsyncIPRoute()
        apply_netlink_bufs(self.ipr.socket, model, "vrrp_netlink_cmd")
        log.log(DETAIL, "Registering Kernel netlink reflector")
        log.log(DETAIL, "Registering Kernel netlink command channel")
        if model.global_defs.dynamic_interfaces:
            self.dynif = DynamicInterfaces(self)
        self.firewall = Firewall(model)  # logs keepalived's auto-selection here, as keepalived does
        if model.global_defs.disable_local_igmp:
            self.local_igmp.disable()  # linux/igmp.py, restored at stop
        # vmac_prefix: the name of VMACs without a configured name (keepalived: "vrrp" if unset)
        prefix = model.global_defs.vmac_prefix or "vrrp"
        self.vmacs = VmacManager(self.ipr, prefix=prefix)
        self.executor = LinuxExecutor(self)
        self.executor.start()
        self.executor.pacer.configure(model)
        checked = check_vrrp_scripts(model, ScriptResolver(model))  # disabled scripts are not tracked
        model = self.model = checked.model
        if checked.violation:
            log.error("%s", checked.violation)
        await self.set_static(model, add=True)
        await self.build(model)
        self._log_garp_channels()
        checked.log_unused()  # end of keepalived's vrrp_complete_init: before any instance's line
        await self.remove_stale_addresses()
        self.syncd = await self._sync_daemon(model)
        await self.start_trackers(model, checked)
        # before the first transition, so its trap is sent (keepalived connects at its start)
        self.snmp = await start_snmp(self.opts, model, ChildSnmpView(
            lambda: self.engine, lambda: self.runtime,
            lambda: self.notifier.scripts if self.notifier else {}, self),
            checker_runs=not self.opts.vrrp_only and bool(model.virtual_servers or self.opts.all_children))
        clock = AsyncioClock(loop, self.ops.timing)
        clock.on_late = auto_priority(model, "vrrp").timer_fired  # max_auto_priority
        self.driver = Driver(self.engine, clock, self.executor)
        params = [rt.params for rt in self.runtime.values()]
        later = functools.partial(self._tasks.append)  # a delayed link change, run as a task
        self.debounce = await link_debounce(self.ipr, model, params,
                                            lambda ev: later(loop.create_task(self._on_event(ev))))
        self._tasks.append(loop.create_task(self._monitor()))
        self.linkbeat = start_linkbeat(self, model)
        self._start_bgp(model)  # its hook hears the first transitions
        self.driver.start()
        self.bfd_reader = start_reader(lambda ev: self.bfd.event(ev, self.set_tracker))
        self._log_sockpool()
        if self.scripts is not None:
            self.scripts.start()
        await self.ops.start(model)
        self._start_dbus(model)
        self._install_signals(loop, held)
        child_ready("vrrp")
        return await serve_until_stopped(self)

    def _start_dbus(self, model: Model) -> None:
        """enable_dbus: the DBus service (control/dbus.py) reaches the bus in the background; its
        module and dbus-fast are imported only then."""
        if not _dbus_enabled(model):
            return
        from pykeepalived.control.dbus import DbusService
        from pykeepalived.daemon.vrrp_dbus import ChildBus, dbus_settings

        settings = dbus_settings(model, self.opts)
        assert self.driver is not None
        view = ChildBus(lambda: self.runtime, self.engine, self.status, self.driver.apply)
        try:
            dbus = DbusService(settings, view)
        except Exception as exc:  # VRRP goes on without its DBus service
            log.error("Failed to initialise DBus: %r", exc)
            return
        self.dbus = dbus
        self.notify_hooks.append(dbus.notified)
        dbus.start()

    def _start_bgp(self, model: Model) -> None:
        """bgp_announce (daemon/bgp.py): the anchors exist before the first transition."""
        plans = plans_of(model)
        if self.bgp is not None and not plans:
            self._stop_bgp()
        elif self.bgp is not None:
            self.bgp.reload(plans)
        elif plans:
            assert self.executor is not None
            self.bgp = BgpAnnouncer(plans, functools.partial(Anchor, self.ipr),
                                    self.executor.queue.put_nowait)
            self.bgp.open()
            self.notify_hooks.append(self.bgp.notified)

    def _seed_bgp(self) -> None:
        """After a reload: instances the announcer has not heard of yet (bgp_announce new to them)
        announce from the state the reload kept them in (no notify tells it)."""
        if self.bgp is not None:
            self.bgp.seed({name: rt.inst.state.word for name, rt in self.runtime.items()})

    def _stop_bgp(self) -> None:
        if self.bgp is not None:
            self.notify_hooks.remove(self.bgp.notified)
            bgp, self.bgp = self.bgp, None
            bgp.close()

    async def _stop_dbus(self) -> None:
        if self.dbus is not None:
            self.notify_hooks.remove(self.dbus.notified)
            dbus, self.dbus = self.dbus, None
            await dbus.stop()

    async def _reload_dbus(self, model: Model) -> None:
        """keepalived after a reload: the objects follow the instances and VrrpReloaded is sent; a
        file that turns enable_dbus on starts the service, one that turns it off stops it (the bus
        name, namespace and instance name stay those it started with)."""
        if self.dbus is None:
            self._start_dbus(model)
        elif not _dbus_enabled(model):
            await self._stop_dbus()
        else:
            self.dbus.reload()

    def _log_garp_channels(self) -> None:
        """keepalived gratuitous_arp_init / ndisc_init (with -D): IPv4 / IPv6 instances or addresses."""
        fams = {rt.params.family for rt in self.runtime.values()}
        fams |= {a.version for rt in self.runtime.values() for a in rt.params.vips + rt.params.evips}
        if 4 in fams:
            log.log(DETAIL, "Registering gratuitous ARP shared channel")
        if 6 in fams:
            log.log(DETAIL, "Registering gratuitous NDISC shared channel")

    def _log_sockpool(self) -> None:
        """keepalived vrrp_dispatcher_init's socket pool dump (with -D)."""
        if not log.isEnabledFor(DETAIL):
            return
        for sock in self.sockets.values():
            uni = sock.unicast_src is not None
            addr = sock.unicast_src if uni else sock.group
            log.log(DETAIL, "VRRP sockpool: [ifindex(%3u), family(IPv%d), proto(%d), fd(%d,%d) %sicast, "
                    "address(%s)]",
                    sock.ifindex, sock.family, sock.proto, sock.rx.fileno(), sock.tx.fileno(),
                    ", un" if uni else "mult", addr)

    async def _sync_daemon(self, model: Model, reload: bool = False) -> VrrpSyncDaemon | None:
        """lvs_sync_daemon tied to an instance (linux/ipvs_sync.py), imported only when configured:
        the IPVS netlink code loads the whole pyroute2 package (~6 MB per process)."""
        cfg = lvs_globals(model).syncd
        if self.syncd is None and cfg is None:
            return None
        from pykeepalived.linux.ipvs_sync import reload_vrrp_sync_daemon, vrrp_sync_daemon

        vrids = {i.name: i.vrid for i in model.vrrp_instances if i.vrid is not None}
        tied = tied_syncd(cfg, vrids, log.error)
        if reload:
            return await reload_vrrp_sync_daemon(self.syncd, tied, self._is_master)
        return await vrrp_sync_daemon(tied)

    async def remove_stale_addresses(self) -> None:
        """Every instance starts as BACKUP: VIPs, virtual routes and rules left by a killed (or -V)
        predecessor must not linger (keepalived vrrp_restore_interfaces_startup: only for instances
        on an interface that existed before, so not on a VMAC just created)."""
        for rt in self.runtime.values():
            existed = rt.iface is not None and (rt.vmac is None or not rt.vmac.created)
            if existed:
                name = rt.params.name
                if rt.rules:
                    log.log(DETAIL, "(%s) removing Virtual Rules", name)
                    for u in rt.rules:
                        await del_rule(self.ipr, u)
                if rt.routes:
                    log.log(DETAIL, "(%s) removing Virtual Routes", name)
                    for r in rt.routes:
                        await del_route(self.ipr, r)
                if rt.params.vips:
                    log.log(DETAIL, "(%s) removing VIPs.", name)
                if rt.params.evips:
                    log.log(DETAIL, "(%s) removing E-VIPs.", name)
                if self.firewall is not None:
                    self.firewall.stale(rt)
            for a in rt.addresses.values():
                await del_address(self.ipr, a)

    async def set_static(self, model: Model, add: bool) -> None:
        """static_ipaddress / static_routes / static_rules: set at start (and at a reload), removed
        at stop."""
        addrs, routes, rules = _statics(model)
        Op = Callable[..., Awaitable[OSError | None]]
        ops: list[tuple[Op, object]]
        if add:
            ops = [(add_address, a) for a in addrs] + [(add_route, r) for r in routes]
            ops += [(add_rule, u) for u in rules]
        else:
            ops = [(del_rule, u) for u in rules] + [(del_route, r) for r in routes]
            ops += [(del_address, a) for a in addrs]
        for op, item in ops:
            err = await op(self.ipr, item)
            if err is not None:
                verb = "Adding" if add else "Removing"
                log.error("%s static %s failed: %s", verb, item, err.strerror or err)

    async def reload(self) -> None:
        """SIGHUP, as keepalived 2.2.7's reload_vrrp_thread (docs/vrrp.md "Reload"): every instance is
        rebuilt from the new file; one that still exists (same VRID, family, interface...:
        `reload_key`, so also when renamed) keeps its state, its counters and its set addresses
        (kept ones untouched, dropped ones removed, new ones added): no priority 0, no notify, no
        flap. Dropped instances stop as keepalived's clear_diff_vrrp stops them (priority 0 if
        MASTER, notify FAULT or DELETED), new ones start as at boot. A broken file changes nothing.
        An internal error is logged and the child goes on with what it has: it never dies of a reload."""
        log.info("Reloading")
        try:
            await self._reload()
        except Exception:
            log.exception("internal error while reloading")
        finally:
            if self.executor is not None:
                self.executor.ordered_logs = False

    async def _reload(self) -> None:
        model, diags = load_config(self.opts.conf_file, self.opts.config_id, self.opts.all_config, "vrrp")
        # a missing interface (without dynamic_interfaces) stops keepalived's VRRP child, at a reload too
        missing = [] if model.global_defs.dynamic_interfaces else interface_diagnostics(model)
        # so does a failed vrrp_complete_init (docs/migration.md: the running configuration is kept)
        model, fitted = fit_vips(model)
        missing = missing or complete_diagnostics(model) or [d for d in diags if d.stops_vrrp or d.stops]
        if self.log_diagnostics([*diags, *tracking_diagnostics(model), *fitted, *missing]) or missing:
            log.error("Configuration has errors - keeping the running configuration")
            return
        checked = check_vrrp_scripts(model, ScriptResolver(model), reloading=self.scripts)
        model = checked.model
        if checked.violation:
            log.error("%s", checked.violation)
        old = self.model
        assert old is not None and self.driver is not None and self.executor is not None
        if model.global_defs.nftables != old.global_defs.nftables:  # the parent refused it already
            log.error("nftables table name changed - keeping the running configuration")
            return
        self.driver.apply(self.engine.advertise_masters)  # keepalived sigreload_vrrp
        self.status.reloaded()
        if self.firewall is not None:
            self.firewall.reload(model)
        await self._clear_diff_static(old, model)
        self._assigned_logged.clear()  # keepalived logs an interface's addresses at every load
        rts = await self._runtimes(model)
        match = reload_matches(self.runtime, rts)
        kept = set(match.values())
        old_runtime = self.runtime  # until the dropped instances have stopped (the executor's view)
        # the new instances take the engine's place (not started) and get their trackers' values
        old_groups = self.engine.replace([(rt.inst, self._rx_ifindex(rt)) for rt in rts.values()],
                                         self._sync_groups(model, rts))
        await reload_trackers(self, old, model, checked)  # scripts, track files, processes, interfaces
        await seed_trackers(self, [rt.inst for rt in rts.values()])  # every instance is new to the engine
        self.track_bfd(self.set_tracker, rts)
        # keepalived vrrp_complete_init: their tracking lines, and FAULT for those the file faults
        old_scripts = self.notifier.scripts if self.notifier is not None else {}
        self._notify_scripts(checked.notify)
        was_fault = {new for new, was in match.items() if old_runtime[was].inst.state is State.FAULT}
        self.driver.apply(functools.partial(self.engine.reload_faults, was_fault))
        # clear_diff_vrrp: the dropped instances stop, with the old file's notify scripts
        self._notify_scripts(old_scripts)
        for name, rt in old_runtime.items():
            if name not in kept and rt.inst.state is not State.STOP:
                deleted = any(kw == "notify_deleted" for kw, _ in rt.conf.notify)
                self.driver.apply(functools.partial(rt.inst.delete, notify_deleted=deleted))
        await self.executor.drain()  # their releases need the old runtime entries
        if self.dbus is not None and _dbus_enabled(model):
            self.dbus.remove([name for name in old_runtime if name not in kept])
        self._notify_scripts(checked.notify)
        await self._drop_vmacs([rt for name, rt in old_runtime.items() if name not in kept], rts)
        added = {new for new, was in match.items() if await self._clear_diff(old_runtime[was], rts[new])}
        await self._remove_leftovers(model, [rt for name, rt in rts.items() if name not in match])
        self.runtime = rts
        self._vips = None
        self.executor.pacer.configure(model)
        if model.global_defs.dynamic_interfaces and self.dynif is None:
            self.dynif = DynamicInterfaces(self)
        self.model = model
        reload_snmp(self.snmp, self.opts, model)
        self.engine.log_unknown_vrids = model.global_defs.log_unknown_vrids
        previous = {new: old_runtime[was].inst for new, was in match.items()}
        self._start_bgp(model)
        await self._reload_dbus(model)  # keepalived dbus_reload: VrrpReloaded before the new ones start
        self.executor.ordered_logs = True  # the lines in keepalived's order: "setting VIPs." before "(init)"
        self.driver.apply(functools.partial(self.engine.reload, previous, added, old_groups))
        await self.executor.drain()
        self._seed_bgp()
        self.executor.ordered_logs = False
        await self.set_static(model, add=True)  # keepalived: after clear_diff_vrrp
        self.syncd = await self._sync_daemon(model, reload=True)  # in the states the reload kept
        await self._release_unused()
        self._log_sockpool()
        kept_groups = {g.name for g in old.sync_groups if g in model.sync_groups}
        write_states_on_reload(model, self.engine, self.notifier.notifier if self.notifier else None,
                               set(match), kept_groups)
        await self.ops.reload(model)

    async def _clear_diff(self, old: Runtime, new: Runtime) -> bool:
        """keepalived clear_diff_vrrp for an instance the reload keeps: the virtual rules, routes and
        VIPs/eVIPs it had set that the new configuration drops are removed, with keepalived's lines;
        those kept stay untouched. True when the new configuration adds an address (the engine's
        restore sets it and announces them all)."""
        held = old.inst.vipset  # rules, routes and addresses are set while the VIPs are
        await self._diff_rules(old.rules, new.rules, held)
        await self._diff_routes(old.routes, new.routes, held)
        if not held:
            return False
        if self.firewall is not None and drops(old) and not drops(new):
            # accept mode now (no_accept or strict mode dropped): the VIPs no longer drop traffic;
            # keepalived 2.2.7 leaves the drop rules (its TODO in clear_diff_vrrp_vip)
            await self.firewall.release(old, list(old.addresses))
        dropped = await self._diff_addresses(new.params.name, old.addresses.values(), new.addresses.values())
        if self.firewall is not None and dropped:
            await self.firewall.release(old, [a.address for a in dropped])
        return bool(set(new.addresses.values()) - set(old.addresses.values()))

    async def _clear_diff_static(self, old: Model, new: Model) -> None:
        """keepalived clear_diff_static_rules, _routes and _addresses: the static_rules,
        static_routes and static_ipaddress entries the new file drops are removed (those it keeps
        or adds are set after the instances, `set_static`). keepalived names no instance in the
        address line: `((null)) ip address ... no longer exist`."""
        was, now = _statics(old), _statics(new)
        await self._diff_rules(was[2], now[2], True)
        await self._diff_routes(was[1], now[1], True)
        await self._diff_addresses("(null)", was[0], now[0])

    async def _diff_rules(self, old: Sequence[Rule], new: Sequence[Rule], held: bool) -> None:
        """keepalived clear_diff_rules: those set (`held`) that `new` drops are removed."""
        if not old:
            return
        drop = [u for u in old if u not in new] if held else []
        if not new:
            log.info("Removing a VirtualRule block")
        else:
            for u in drop:
                to = f" to {_net_text(u.dst)}" if u.dst else ""
                log.log(DETAIL, "ip rule from %s%s removed", _net_text(u.src) if u.src else "all", to)
        for u in drop:
            await del_rule(self.ipr, u)

    async def _diff_routes(self, old: Sequence[Route], new: Sequence[Route], held: bool) -> None:
        """keepalived clear_diff_routes: those set (`held`) that `new` drops are removed."""
        if not old:
            return
        gone = [r for r in old if r not in new] if held else []
        if not new:
            log.log(DETAIL, "Removing a VirtualRoute block")
        else:
            for r in gone:
                log.log(DETAIL, "Removing route %s", _net_text(r.dst))
        for r in gone:
            await del_route(self.ipr, r)

    async def _diff_addresses(self, name: str, old: Iterable[Address], new: Iterable[Address]
                              ) -> list[Address]:
        """keepalived get_diff_address + clear_address_list: the addresses `new` drops are removed;
        returns them."""
        kept = set(new)
        dropped = [a for a in old if a not in kept]
        if self.executor is not None:
            self.executor.keeper.unwant(dropped)  # before the kernel reports them gone
        for a in dropped:
            log.info("(%s) ip address %s/%d dev %s, no longer exist", name, a.address, a.plen, a.dev)
            await del_address(self.ipr, a)
        return dropped

    async def _remove_leftovers(self, model: Model, fresh: list[Runtime]) -> None:
        """Instances new at a reload start as BACKUP: their VIPs and eVIPs must not be on the host
        (as at start-up, `remove_stale_addresses`), unless a running instance holds them or they are
        static addresses. keepalived 2.2.7 skips this at a reload and leaves them (its issue #2700:
        duplicate addresses on master and backup); silently, as its log shows no such step."""
        held = {a for rt in self.runtime.values() if rt.inst.vipset for a in rt.addresses.values()}
        held |= set(_statics(model)[0])
        for rt in fresh:
            for a in rt.addresses.values():
                if a not in held:
                    await del_address(self.ipr, a)

    async def _drop_vmacs(self, dropped: list[Runtime], rts: Mapping[str, Runtime]) -> None:
        """The VMACs of instances a reload drops, unless an instance of the new file uses them
        (keepalived clear_diff_vrrp: netlink_link_del_vmac, its line with -D)."""
        used = {rt.vmac.ifname for rt in rts.values() if rt.vmac is not None}
        for rt in dropped:
            if rt.vmac is not None and rt.vmac.ifname not in used:
                await self.vmacs.delete(rt.vmac)
                log.log(DETAIL, "(%s) Success removing VMAC interface %s", rt.params.name, rt.vmac.ifname)

    async def _release_unused(self) -> None:
        """After a reload: the sockets and VMACs no instance uses any more are closed and deleted
        (keepalived vrrp_dispatcher_release and clear_diff_vrrp's VMAC removal)."""
        socks = {id(rt.sock) for rt in self.runtime.values()}
        for key, sock in list(self.sockets.items()):
            if id(sock) not in socks:
                sock.close()
                del self.sockets[key]
        devs = {rt.vmac.ifname for rt in self.runtime.values() if rt.vmac is not None}
        devs |= {a.dev for rt in self.runtime.values() for a in rt.addresses.values()}
        for vmac in list(self.vmacs.vmacs.values()):
            if vmac.ifname not in devs:
                await self.vmacs.delete(vmac)

    def _is_master(self, name: str) -> bool:
        rt = self.runtime.get(name)
        return rt is not None and rt.inst.state is State.MASTER

    async def shutdown(self) -> None:
        assert self.driver is not None and self.executor is not None
        if self.scripts is not None:
            await self.scripts.stop()
        for tracker in (self.files, self.processes, self.bfd_reader):
            if tracker is not None:
                tracker.stop()
        if self.syncd is not None:  # stopped before the instances leave MASTER, as keepalived does
            self.executor.queue.put_nowait(self.syncd.stop_current)
            await self.executor.drain()
            self.syncd.close()
        # --dont-release-vrrp (keepalived vrrp_terminate_phase2): MASTERs keep their VIPs, eVIPs,
        # virtual routes and rules and send no priority 0; VMACs (and the sysctls set for them)
        # stay; the firewall table and the static addresses, routes and rules still go
        try:
            release = not self.opts.dont_release_vrrp
            self.executor.ordered_logs = True
            self.driver.shutdown(release=release)
            await self.executor.drain()
            if self.firewall is not None:
                await self.firewall.close()  # keepalived firewall_fini: even with --dont-release-vrrp
            if self.model is not None:
                await self.set_static(self.model, add=False)
            self.local_igmp.restore()
            if release:
                await self.vmacs.close()
            if self.notifier is not None:
                await self.notifier.notifier.close()
            if self.fifos is not None:
                self.fifos.close()
            await self._stop_dbus()  # keepalived dbus_stop: after the instances' STOP signals
        finally:  # the control socket and sockets go even if a release step failed
            self._stop_bgp()  # after the STOP notifies withdrew; closing the anchors withdraws the rest
            for t in self._tasks:
                t.cancel()
            if self.linkbeat is not None:
                self.linkbeat.close()
            if self.snmp is not None:
                await self.snmp.close()
            await self.ops.close()
            for sock in self.sockets.values():
                sock.close()
            self.executor.close()
            with contextlib.suppress(Exception):
                self.ipr.close()
        log_stopping()


def _dbus_enabled(model: Model) -> bool:
    """global_defs enable_dbus (the DBus modules are imported only then)."""
    return any(kw == "enable_dbus" for kw, _ in model.global_defs.options)


def _statics(model: Model) -> tuple[list[Address], list[Route], list[Rule]]:
    """static_ipaddress (without `dev`: on default_interface), static_routes, static_rules."""
    dflt = model.global_defs.default_interface
    addrs = [a for a in (address_from_spec(s, dflt) for s in model.static_ipaddress) if a is not None]
    routes = [route_from_config(r) for r in model.static_routes]
    return addrs, routes, [rule_from_config(r) for r in model.static_rules]


def vmac_conflicts(rts: list[Runtime], ours: set[str]) -> list[tuple[str, str]]:
    """keepalived check_vmac_conflicts: instances with one VRID outside a common sync group that
    put addresses on the same VMAC (`ours`: the VMACs the VRRP child made or adopted). Each
    (instance disabled, line), in keepalived's order: every instance against those before it."""
    def dev(rt: Runtime, spec: VipSpec) -> str | None:
        a = rt.addresses.get(spec.address)
        return a.dev if a is not None else None

    def text(spec: VipSpec) -> str:  # keepalived ipaddresstos
        a = spec.address
        return str(a) if spec.prefix == a.max_prefixlen else f"{a}/{spec.prefix}"

    # VRRP_FLAG_EVIP_OTHER_FAMILY (set with a VMAC only)
    eof = {id(rt): rt.vmac is not None and any(e.address.version != rt.params.family for e in rt.conf.evips)
           for rt in rts}
    out: list[tuple[str, str]] = []
    by_vrid: dict[int, list[Runtime]] = {}
    for rt in rts:
        by_vrid.setdefault(rt.params.vrid, []).append(rt)
    for rt in rts:
        for rt1 in by_vrid[rt.params.vrid]:
            if rt1 is rt:
                break
            if rt.conf.sync_group is not None and rt.conf.sync_group == rt1.conf.sync_group:
                continue
            same = rt.params.family == rt1.params.family
            if not same and not eof[id(rt)] and not eof[id(rt1)]:
                continue
            a, b = rt.params.name, rt1.params.name
            if rt.vmac is not None and (same or eof[id(rt1)]):
                for v in (rt1.conf.vips + rt1.conf.evips) if same else rt1.conf.evips:
                    if dev(rt1, v) == rt.vmac.ifname:
                        line = f"({b}) VIP/eVIP {text(v)} uses same VMAC as VRRP instance {a}, disabling {a}"
                        out.append((a, line))
            for ev, lst in ((False, rt.conf.vips), (True, rt.conf.evips)):
                for ev1, lst1 in ((False, rt1.conf.vips), (True, rt1.conf.evips)):
                    if not same and not ((ev and eof[id(rt)]) or (ev1 and eof[id(rt1)])):
                        continue  # keepalived's four skips: another family only through such eVIPs
                    for v in lst:
                        d = dev(rt, v)
                        if d not in ours:
                            continue
                        for v1 in lst1:
                            if dev(rt1, v1) == d:
                                out.append((a, f"({b}) VIP/eVIP {text(v)} uses same VMAC as VRRP instance "
                                               f"{a} VIP/eVIP {text(v1)}, disabling {a}"))
    return out


def _net_text(net: IPv4Network | IPv6Network) -> str:
    """keepalived ipaddresstos: the address, with its prefix length unless a host's."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def reload_key(rt: Runtime) -> tuple[object, ...]:
    """keepalived vrrp_exist: what makes an instance of a reloaded file the same instance (its name
    does not): VRID, family, configured interface and unicast or not; then the unicast source
    address, else the use of VMACs and the multicast group."""
    p = rt.params
    if p.is_unicast:
        return (p.vrid, p.family, p.interface, True, rt.inst.own_src)
    vmac_addr = rt.conf.use_vmac_addr
    return (p.vrid, p.family, p.interface, False, rt.conf.use_vmac is not None, vmac_addr, p.mcast_group)


def reload_matches(old: Mapping[str, Runtime], new: Mapping[str, Runtime]) -> dict[str, str]:
    """Which running instance each instance of a reloaded file continues: new name -> old name, by
    `reload_key`; the first of a key on either side, each old one at most once."""
    firsts: dict[tuple[object, ...], str] = {}
    for name, rt in new.items():
        firsts.setdefault(reload_key(rt), name)
    out: dict[str, str] = {}
    for name, rt in old.items():
        found = firsts.get(reload_key(rt))
        if found is not None and found not in out:
            out[found] = name
    return out


EXIT_PROGRAM_ERROR = 70  # keepalived KEEPALIVED_EXIT_PROGRAM_ERROR: the parent respawns the child
EXIT_CONFIG = 2  # KEEPALIVED_EXIT_CONFIG: a permanent error, the parent stops


def run_vrrp_child(opts: Options) -> int:
    setup_logging(opts, "vrrp")
    apply_child("vrrp")  # umask, process name, scheduling (daemon/procconf.py)

    def body() -> int:
        try:
            return asyncio.run(VrrpChild(opts).run())
        except Exception:
            log.exception("VRRP child failed")
            return EXIT_PROGRAM_ERROR

    return run_with_pid_file(opts.vrrp_pid_file or default_path("vrrp"), body,
                             "VRRP child process: cannot write pidfile")
