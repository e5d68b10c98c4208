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

The child composes narrow parts and runs their life (start, `reload`, `shutdown`); none of them gets
the child. `InstanceTable` (daemon/vrrp/instances.py) holds the running instances; `RuntimeBuilder`
(daemon/vrrp/runtimes.py) builds them with their sockets; `LinuxExecutor` (daemon/vrrp/executor.py)
applies the core's effects; `ReloadDiff` (daemon/vrrp/reload_diff.py) removes what a reload drops;
`VrrpEvents` (control/view.py) carries every state change and notify to its subscribers, in this
order: the transition times, the notify scripts, the control plane (control socket, metrics), the
lvs_sync_daemon tied to an instance.

A service beside VRRP comes in the same way: build it in `run()` with the read-only view of the
instances (`self.table` is the `VrrpView`: instances, sync groups, interface, typed settings,
addresses and which are set, last transition) and what is its alone, and subscribe it to
`self.events` (`subscribe(on_state=..., on_notify=...)`; `in_turn=True` to hear a notify after the
address work it caused); start it beside `self.ops.start`, follow `reload()`, close it in
`shutdown()`. The SNMP agent (-x, control/snmp_vrrp.py, its trackers through
daemon/vrrp/snmp_extras.py, its traps in turn), the DBus service (enable_dbus, control/dbus.py, its
requests through daemon/vrrp/vrrp_dbus.py) and the BGP announcer (bgp_announce, daemon/vrrp/bgp.py)
subscribe after the control plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pykeepalived.config import load_config
from pykeepalived.config.complete import complete_diagnostics, fit_vips
from pykeepalived.config.diag import Diagnostic, is_broken
from pykeepalived.config.interfaces import interface_diagnostics
from pykeepalived.config.lvs_globals import lvs_globals
from pykeepalived.config.model import Model
from pykeepalived.config.sync_tracking import tracking_diagnostics
from pykeepalived.control.plane import ControlPlane
from pykeepalived.control.sdnotify import child_ready, child_serving
from pykeepalived.control.snmp_settings import settings as snmp_settings
from pykeepalived.control.view import VrrpEvents
from pykeepalived.daemon.bfd_events import BfdEventReader, SetTracker, VrrpBfdTracker, start_reader
from pykeepalived.daemon.log import DETAIL, log, log_stopping, run_logged, setup_logging
from pykeepalived.daemon.pidfile import default_path, run_with_pid_file
from pykeepalived.daemon.procconf import apply_child
from pykeepalived.daemon.serve import hold_signals, install_signals, serve_until_stopped
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
from pykeepalived.daemon.vrrp.autoprio import auto_priority
from pykeepalived.daemon.vrrp.bgp import BgpAnnouncer, plans_of
from pykeepalived.daemon.vrrp.dynif import DynamicInterfaces
from pykeepalived.daemon.vrrp.executor import AsyncioClock, LinuxExecutor, MacCache
from pykeepalived.daemon.vrrp.firewall import Firewall
from pykeepalived.daemon.vrrp.instances import InstanceTable, Runtime
from pykeepalived.daemon.vrrp.link_polling import LinkbeatPoller, start_linkbeat
from pykeepalived.daemon.vrrp.linkdelay import LinkDebounce, link_debounce, lower_interval
from pykeepalived.daemon.vrrp.reload_diff import ReloadDiff, reload_matches, statics
from pykeepalived.daemon.vrrp.reload_states import write_states_on_reload
from pykeepalived.daemon.vrrp.runtimes import RuntimeBuilder, rx_ifindex, sync_groups
from pykeepalived.daemon.vrrp.status import StatusWriter
from pykeepalived.linux.addresses import (
    Address,
    add_address,
    add_route,
    add_rule,
    del_address,
    del_addresses,
    del_route,
    del_rule,
)
from pykeepalived.linux.anchor import Anchor
from pykeepalived.linux.iface import InterfaceInfo, InterfaceNotFound, get_interface
from pykeepalived.linux.igmp import LocalIgmp
from pykeepalived.linux.monitor import AddressEvent, LinkEvent, NetlinkMonitor
from pykeepalived.linux.rcvbuf import apply_netlink_bufs
from pykeepalived.linux.rtnl import AsyncIPRoute
from pykeepalived.linux.vmac import VmacManager
from pykeepalived.lvs.globals import tied_syncd
from pykeepalived.notify.fifo import FifoSet
from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.options import SIGFUNCS, Options
from pykeepalived.track.file import FileTrackers
from pykeepalived.track.process import ProcessTracker
from pykeepalived.track.script import ScriptTrackers
from pykeepalived.vrrp.driver import Driver
from pykeepalived.vrrp.effects import MasterIntervalLowered, Notify, State, StateChanged
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.packet import RxPacket

if TYPE_CHECKING:
    from pykeepalived.control.dbus import DbusService
    from pykeepalived.control.snmp_vrrp import VrrpSnmpAgent
    from pykeepalived.linux.ipvs_sync import VrrpSyncDaemon


class VrrpChild:
    """The VRRP child: the core, the parts around it, and their life (start, reload, stop)."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.model: Model | None = None
        self.engine = VrrpEngine()
        self.table = InstanceTable(self.engine)  # the running instances (the services' VrrpView)
        self.events = VrrpEvents()  # the core's state changes and notifies, to every subscriber
        self.ipr: Any = None
        self.macs: MacCache
        self.builder: RuntimeBuilder  # Runtime entries and their sockets (daemon/vrrp/runtimes.py)
        self.driver: Driver | None = None
        self.executor: LinuxExecutor | None = None
        self.firewall: Firewall | None = None  # accept mode / VMAC rules (daemon/vrrp/firewall.py)
        self.status = StatusWriter(self)
        # the subscribers in the order they hear a change: transition times, the notify scripts,
        # the control socket and metrics, the lvs_sync_daemon tied to an instance
        self.events.subscribe(self.table.transitions.changed, self.notify)
        pid_file = opts.vrrp_pid_file or default_path("vrrp")
        self.ops = ControlPlane(self.table, self.status, self.events, pid_file, lambda: self.bgp)
        self.events.subscribe(self._syncd_state)
        self.stop_event = asyncio.Event()
        self.reload_requested = False
        self.stop_requested = False
        self.gna_checks: dict[str, tuple[bool, float]] = {}  # ifname -> (IPv6 forwarding, read at)
        self.vmacs: VmacManager
        self._tasks: list[asyncio.Task[Any]] = []
        self.notifier: NotifyDispatcher | None = None
        self.scripts: ScriptTrackers | None = None
        self.files: FileTrackers | None = None
        self.processes: ProcessTracker | None = None
        self.fifos: FifoSet | None = None
        self.tracked_ifs: set[str] = set()
        self.bfd = VrrpBfdTracker({})
        self.bfd_reader: BfdEventReader | None = None
        self.syncd: VrrpSyncDaemon | None = None  # lvs_sync_daemon tied to an instance
        self.local_igmp = LocalIgmp()  # disable_local_igmp
        self.debounce: LinkDebounce | None = None  # interface_up_down_delays
        self.dynif: DynamicInterfaces | None = None  # dynamic_interfaces
        self.linkbeat: LinkbeatPoller | None = None  # linkbeat_interfaces / linkbeat_use_polling
        self.dbus: DbusService | None = None  # enable_dbus
        self.bgp: BgpAnnouncer | None = None  # bgp_announce (daemon/vrrp/bgp.py)
        self.snmp: VrrpSnmpAgent | None = None  # -x / enable_snmp_* (control/snmp_vrrp.py)

    @property
    def runtime(self) -> dict[str, Runtime]:
        return self.table.runtime

    # ------------------------------------------------------------------ helpers
    def _syncd_state(self, e: StateChanged) -> None:
        """lvs_sync_daemon tied to an instance: started and stopped with its MASTER state, in turn
        with the address work."""
        if self.syncd is not None and self.executor is not None:
            self.executor.queue.put_nowait(functools.partial(self.syncd.state_changed, e.instance,
                                                             e.new is State.MASTER))

    def _interval_lowered(self, e: MasterIntervalLowered) -> None:
        """interface_up_down_delays follow the shortest advert interval (daemon/vrrp/linkdelay.py)."""
        if self.debounce is not None:
            lower_interval(self.debounce.delays, self.runtime[e.instance].params, e.interval_us)

    def notify(self, n: Notify) -> None:
        if self.notifier is not None:
            self.notifier(n)

    def set_tracker(self, kind: str, name: str, value: bool | int | None) -> None:
        if self.driver is not None:
            self.driver.set_tracker(kind, name, value)

    def snmp_set(self, instance: str, column: int, value: int) -> None:
        """A committed SNMP set of vrrpInstanceTable (control/snmp_vrrp.VrrpWriter), applied by the core."""
        if self.driver is not None:
            self.driver.apply(lambda now: self.engine.snmp_set(instance, column, value, now))

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
        self.table.replace(await self.builder.runtimes(model, self.scripts))
        for rt in self.runtime.values():
            self.engine.add_instance(rt.inst, rx_ifindex(rt))
        for name, members in sync_groups(model, self.runtime):
            self.engine.add_sync_group(name, members)

    def _notify_scripts(self, scripts: dict[tuple[str, str], NotifyScripts]) -> None:
        if self.notifier is not None:
            self.notifier.scripts = scripts

    def _on_packet(self, rx: RxPacket) -> None:
        if self.driver is not None:
            try:
                self.driver.feed(rx)
            except Exception as exc:  # the core must not raise on remote input; never die if it does
                log.error("internal error processing an advert from %s: %r", rx.src, exc)

    # ------------------------------------------------------------------ events
    async def _monitor(self) -> None:
        try:
            bufs = self.model.global_defs.rcv_bufs.vrrp_netlink_monitor if self.model else None
            async with NetlinkMonitor(rcvbuf=bufs) as mon:
                async for ev in mon:
                    # interface_up_down_delays (daemon/vrrp/linkdelay.py): held back, or now
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
            if self.dynif is not None and not await self.dynif.on_link(ev, self.driver):
                return
            self.macs.forget(ev.ifname)
            if self.linkbeat is None or not self.linkbeat.polls(ev.ifname):  # daemon/vrrp/link_polling.py
                self.link_changed(ev.ifindex, ev.ifname, ev.usable, "Netlink")
        elif isinstance(ev, AddressEvent):
            if self.opts.address_monitoring:
                log.info("Netlink reflector reports IP %s %s %s", ev.address,
                         "added to" if ev.added else "removed from", ev.ifname)
            if not ev.added:
                await self.executor.restore(ev)
            if self.table.is_vip(ev.address):
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
                self.driver.set_source_address(rt.params.name, self.builder.primary(rt.iface, rt.params))

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
        self._reload_snmp(model)
        self.engine.log_unknown_vrids = model.global_defs.log_unknown_vrids
        self.ipr = AsyncIPRoute()
        apply_netlink_bufs(self.ipr.socket, model.global_defs.rcv_bufs.vrrp_netlink_cmd, "vrrp_netlink_cmd")
        log.log(DETAIL, "Registering Kernel netlink reflector")
        log.log(DETAIL, "Registering Kernel netlink command channel")
        self.firewall = Firewall(model)  # logs keepalived's auto-selection here, as keepalived does
        if model.global_defs.disable_local_igmp:
            self.local_igmp.disable()  # linux/igmp.py, restored at stop
        # vmac_prefix: the name of VMACs without a configured name (keepalived: "vrrp" if unset)
        prefix = model.global_defs.vmac_prefix or "vrrp"
        self.vmacs = VmacManager(self.ipr, prefix=prefix)
        self.macs = MacCache(self.ipr)
        self.builder = RuntimeBuilder(self.ipr, self.vmacs, self.firewall, self.engine.ifnames,
                                      self._on_packet, lambda: self.model)
        if model.global_defs.dynamic_interfaces:
            self.dynif = DynamicInterfaces(self.table, self.builder, lambda: self.model)
        self.executor = LinuxExecutor(
            self.table, self.ipr, self.macs, self.events, self.firewall,
            dont_release=self.opts.dont_release_vrrp, on_advert=self.ops.advert_sent,
            on_interval_lowered=self._interval_lowered, gna_checks=self.gna_checks)
        self.executor.start()
        self.events.turn = self.executor.in_turn  # the in-turn subscribers' place
        self.executor.pacer.configure(model)
        checked = check_vrrp_scripts(model, ScriptResolver(model))  # disabled scripts are not tracked
        model = self.model = checked.model
        await self._start_snmp(model)
        if checked.violation:
            log.error("%s", checked.violation)
        await self.set_static(model, add=True)
        await self.build(model)
        await self.start_trackers(model, checked)
        clock = AsyncioClock(loop, self.ops.timing)
        clock.on_late = auto_priority(model, "vrrp").timer_fired  # max_auto_priority
        self.driver = Driver(self.engine, clock, self.executor)
        self._start_bgp(model)  # its hook hears the first transitions
        self.driver.start_faults()  # keepalived's vrrp_complete_init: the instances held in FAULT
        checked.log_unused()  # end of keepalived's vrrp_complete_init
        self._log_garp_channels()
        child_ready("vrrp")  # keepalived's notify_config_read: the parent's "Startup complete"
        restored = await self.remove_stale_addresses()
        self.syncd = await self._sync_daemon(model)
        params = [rt.params for rt in self.runtime.values()]
        later = functools.partial(self._tasks.append)  # a delayed link change, run as a task
        self.debounce = await link_debounce(self.ipr, model, params,
                                            lambda ev: later(loop.create_task(self._on_event(ev))))
        self._tasks.append(loop.create_task(self._monitor()))
        self.linkbeat = start_linkbeat(self.table, self.tracked_ifs, model, self.link_changed)
        for step in restored:  # keepalived vrrp_restore_interfaces_startup
            step()
        self.driver.start_states()  # keepalived vrrp_init_state
        self.bfd_reader = start_reader(lambda ev: self.bfd.event(ev, self.set_tracker))
        self._log_sockpool()
        if self.scripts is not None:
            self.scripts.start()
        await self.ops.start(model)
        self._start_dbus(model)
        self._install_signals(loop, held)
        child_serving()  # the parent's READY=1: instances and control socket up
        return await serve_until_stopped(self)

    async def _start_snmp(self, model: Model) -> None:
        """The SNMP agent, when a MIB is enabled, as keepalived's start_vrrp starts it: once the file
        is read, before vrrp_complete_init ("Starting SNMP subagent" before the script security line
        and the interfaces' addresses), so the first transition's trap is sent."""
        if snmp_settings(model, self.opts.snmp, self.opts.snmp_socket).any_vrrp:
            # the SNMP code (MIB tables, AgentX) is imported only when a MIB is enabled
            from pykeepalived.control.snmp_vrrp import start_snmp
            from pykeepalived.daemon.vrrp.snmp_extras import ChildSnmpExtras

            checker_runs = not self.opts.vrrp_only and bool(model.virtual_servers or self.opts.all_children)
            extras = ChildSnmpExtras(lambda: self.notifier.scripts if self.notifier else {}, self)
            self.snmp = await start_snmp(self.opts, model, self.table, extras, checker_runs=checker_runs)
        if self.snmp is not None:  # the traps after the address work each change queued
            self.events.subscribe(on_notify=self.snmp.notified, on_rejected=self.snmp.rx_rejected,
                                  in_turn=True)

    def _reload_snmp(self, model: Model) -> None:
        """The running subagent's new values (its code is loaded only if it was started)."""
        if self.snmp is not None:
            from pykeepalived.control.snmp_vrrp import reload_snmp

            reload_snmp(self.snmp, self.opts, model)

    def _start_dbus(self, model: Model) -> None:
        """enable_dbus: the DBus service (control/dbus.py) reaches the bus in the background; its
        module and dbus-fast are imported only then."""
        if not _dbus_enabled(model):
            return
        from pykeepalived.control.dbus import DbusService
        from pykeepalived.daemon.vrrp.vrrp_dbus import ChildRequests, dbus_settings

        settings = dbus_settings(model, self.opts)
        assert self.driver is not None
        requests = ChildRequests(self.table, self.status, self.driver.apply)
        try:
            dbus = DbusService(settings, self.table, requests)
        except Exception as exc:  # VRRP goes on without its DBus service
            log.error("Failed to initialise DBus: %r", exc)
            return
        self.dbus = dbus
        self.events.subscribe(on_notify=dbus.notified)
        dbus.start()

    def _start_bgp(self, model: Model) -> None:
        """bgp_announce (daemon/vrrp/bgp.py): the anchors exist before the first transition."""
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
            self.events.subscribe(on_notify=self.bgp.notified)

    def _seed_bgp(self) -> None:
        """After a reload: instances the announcer has not heard of yet (bgp_announce new to them)
        announce from the state the reload kept them in (no notify tells it)."""
        if self.bgp is not None:
            self.bgp.seed({name: rt.inst.state.word for name, rt in self.runtime.items()})

    def _stop_bgp(self) -> None:
        if self.bgp is not None:
            self.events.unsubscribe(on_notify=self.bgp.notified)
            bgp, self.bgp = self.bgp, None
            bgp.close()

    async def _stop_dbus(self) -> None:
        if self.dbus is not None:
            self.events.unsubscribe(on_notify=self.dbus.notified)
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
        for sock in self.builder.sockets.values():
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

    async def remove_stale_addresses(self) -> list[Callable[[], None]]:
        """Every instance starts as BACKUP: VIPs, virtual routes and rules left by a killed (or -V)
        predecessor must not linger (keepalived vrrp_restore_interfaces_startup: only for instances
        on an interface that existed before, so not on a VMAC just created). Returns what logs
        its lines (`(VI_1) removing VIPs.`...), to run once the instances' fault lines are logged, as
        keepalived."""
        lines: list[Callable[[], None]] = []
        stale: list[Address] = []

        def line(text: str) -> Callable[[], None]:
            return functools.partial(log.log, DETAIL, "%s", text)

        for rt in self.runtime.values():
            existed = rt.iface is not None and (rt.vmac is None or not rt.vmac.created)
            if existed:
                name = rt.params.name
                if rt.rules:
                    lines.append(line(f"({name}) removing Virtual Rules"))
                    for u in rt.rules:
                        await del_rule(self.ipr, u)
                if rt.routes:
                    lines.append(line(f"({name}) removing Virtual Routes"))
                    for r in rt.routes:
                        await del_route(self.ipr, r)
                if rt.params.vips:
                    lines.append(line(f"({name}) removing VIPs."))
                if rt.params.evips:
                    lines.append(line(f"({name}) removing E-VIPs."))
                if self.firewall is not None:
                    lines.append(functools.partial(self.firewall.stale, rt))
            stale.extend(rt.addresses.values())
        del_addresses(stale)  # in a few netlink round trips, however many (linux/addresses.py)
        return lines

    async def set_static(self, model: Model, add: bool) -> None:
        """static_ipaddress / static_routes / static_rules: set at start (and at a reload), removed
        at stop."""
        addrs, routes, rules = statics(model)
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
        self.table.transitions.reloaded()
        if self.firewall is not None:
            self.firewall.reload(model)
        diff = ReloadDiff(self.ipr, self.executor.keeper, self.firewall)
        await diff.clear_diff_static(old, model)
        self.builder.new_load()
        rts = await self.builder.runtimes(model, self.scripts)
        match = reload_matches(self.runtime, rts)
        kept = set(match.values())
        old_runtime = self.runtime  # until the dropped instances have stopped (the executor's view)
        # the new instances take the engine's place (not started) and get their trackers' values
        # keepalived has read the new global_defs before clear_diff_vrrp: the traps of the instances
        # the reload stops or faults follow its enable_* keywords and carry its router_id
        self._reload_snmp(model)
        old_groups = self.engine.replace([(rt.inst, rx_ifindex(rt)) for rt in rts.values()],
                                         sync_groups(model, rts))
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
                self.driver.apply(functools.partial(rt.inst.delete, notify_deleted=rt.setup.notify_deleted))
        await self.executor.drain()  # their releases need the old runtime entries
        if self.dbus is not None and _dbus_enabled(model):
            self.dbus.remove([name for name in old_runtime if name not in kept])
        self._notify_scripts(checked.notify)
        await self._drop_vmacs([rt for name, rt in old_runtime.items() if name not in kept], rts)
        added = {new for new, was in match.items() if await diff.clear_diff(old_runtime[was], rts[new])}
        fresh = [rt for name, rt in rts.items() if name not in match]
        await diff.remove_leftovers(self.runtime, model, fresh)
        self.table.replace(rts)
        self.executor.pacer.configure(model)
        if model.global_defs.dynamic_interfaces and self.dynif is None:
            self.dynif = DynamicInterfaces(self.table, self.builder, lambda: self.model)
        self.model = model
        self.engine.log_unknown_vrids = model.global_defs.log_unknown_vrids
        previous = {new: old_runtime[was].inst for new, was in match.items()}
        self._start_bgp(model)
        await self._reload_dbus(model)  # keepalived dbus_reload: VrrpReloaded before the new ones start
        self.driver.apply(functools.partial(self.engine.reload, previous, added, old_groups))
        await self.executor.drain()
        self._seed_bgp()
        await self.set_static(model, add=True)  # keepalived: after clear_diff_vrrp
        self.syncd = await self._sync_daemon(model, reload=True)  # in the states the reload kept
        await self._release_unused()
        self._log_sockpool()
        kept_groups = {g.name for g in old.sync_groups if g in model.sync_groups}
        write_states_on_reload(model, self.engine, self.notifier.notifier if self.notifier else None,
                               set(match), kept_groups)
        await self.ops.reload(model)

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
        sockets = self.builder.sockets
        for key, sock in list(sockets.items()):
            if id(sock) not in socks:
                sock.close()
                del sockets[key]
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
            for sock in self.builder.sockets.values():
                sock.close()
            self.executor.close()
            with contextlib.suppress(Exception):
                self.ipr.close()
        log_stopping()


def _dbus_enabled(model: Model) -> bool:
    """global_defs enable_dbus (the DBus modules are imported only then)."""
    return model.global_defs.dbus.enabled


EXIT_CONFIG = 2  # KEEPALIVED_EXIT_CONFIG: a permanent error, the parent stops


def run_vrrp_child(opts: Options) -> int:
    setup_logging(opts, "vrrp")
    apply_child("vrrp")  # umask, process name, scheduling (daemon/procconf.py)
    return run_with_pid_file(opts.vrrp_pid_file or default_path("vrrp"),
                             lambda: run_logged(lambda: VrrpChild(opts).run(), "VRRP child failed"),
                             "VRRP child process: cannot write pidfile")
