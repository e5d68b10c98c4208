"""The checker child process (keepalived's Keepalived_healthcheckers): health checks and the LVS table.

# Theory of operation
The parent forks it (daemon/parent/forkchild.py; `python -m pykeepalived --child=checker <arguments>`
starts it alone); this module is that process. It logs as `Keepalived_healthcheckers`, holds its pid file
(-c, default /run/checkers.pid), reads the configuration itself and maps every virtual_server to the
checker's specs (check/from_config.py). The data plane is chosen by the pykeepalived extension keyword
`global_defs { lvs_dataplane auto|ipvs|nftables }` (auto: IPVS when the kernel has it, else nftables).
`CheckerRuntime` (check/scheduler.py) then runs every checker on one asyncio loop and keeps the data
plane in step with the real servers' states.

Around it, as keepalived does (keepalived.md §3.5, §4.2, §4.3, §1.12.6):
- notify_up/notify_down and quorum_up/quorum_down run through the notify machinery (ScriptCommand with
  keepalived's quoting, script_user and security checks, each in its own process group, not waited);
- LVS FIFO lines (`VS ... UP|DOWN`, `RS ... ... UP|DOWN`) go to notify_fifo and lvs_notify_fifo;
- smtp_alert mails (notify/checker_mail.py) go through the VRRP child's SMTP client (notify/smtp.py);
- SIGTERM/SIGINT: stop the checkers, run omega notifies, remove our services from the data plane
  (kept with -I/--dont-release-ipvs); lvs_timeouts / lvs_flush / lvs_flush_on_stop / an untied
  lvs_sync_daemon are daemon/checker/lvs_apply.py's; SIGHUP: re-read the configuration, real servers
  that stay keep their state (a broken file changes nothing); SIGUSR1: write keepalived_check.data in
  $TMPDIR or /tmp.
The control socket (pykeepalived_check.sock: status, stats, dump, reload, follow) and, with the extension
keyword `pykeepalived_metrics_address`, the metrics endpoint on the same address, port + 1 (re-bound when a
reload moves it) are control/check_plane.py's; a failure to bind is logged, never fatal.
- SNMP (enable_snmp_checker or -x; its code imported only then): the child is an AgentX subagent serving
  KEEPALIVED-MIB check and global (control/snmp_check.py) over a read-only view of its state
  (daemon/checker/check_snmp_view.py), and sends realServerStateChange / virtualServerQuorumStateChange as the
  runtime's StateTrap effects come.
- ha_suspend (§1.12.3): when a virtual server asks for it, the child watches address events
  (linux/monitor.py) and tells the runtime which addresses are local; a VS whose address is not
  configured on the host has its checkers suspended and its services left out of the data plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any

from pykeepalived.check.from_config import Mapped, services_from_model
from pykeepalived.check.scheduler import CheckerRuntime, LvsBackend
from pykeepalived.config import load_config
from pykeepalived.config.diag import Diagnostic, is_broken
from pykeepalived.config.model import GlobalDefs, Model
from pykeepalived.control.check_plane import CheckerPlane
from pykeepalived.control.sdnotify import child_ready
from pykeepalived.control.snmp_settings import settings as snmp_settings
from pykeepalived.daemon.bfd_events import BfdEventReader, start_reader
from pykeepalived.daemon.checker.check_scripts import check_script_violation, secure_misc_checks
from pykeepalived.daemon.checker.lvs_apply import CheckerLvsGlobals
from pykeepalived.daemon.dumpfiles import paths_of
from pykeepalived.daemon.log import log, log_stopping, run_logged, setup_logging
from pykeepalived.daemon.pidfile import default_path, run_with_pid_file
from pykeepalived.daemon.procconf import apply_child, ipvs_namespace
from pykeepalived.daemon.serve import hold_signals, install_signals, serve_until_stopped
from pykeepalived.daemon.trackers import ScriptResolver, fifo_spec, smtp_alerter
from pykeepalived.linux.iface import list_addresses
from pykeepalived.linux.ipvs import choose_dataplane
from pykeepalived.linux.monitor import AddressEvent, NetlinkMonitor
from pykeepalived.linux.nft_lb import NftLoadBalancer
from pykeepalived.linux.rcvbuf import apply_netlink_bufs
from pykeepalived.linux.rtnl import AsyncIPRoute
from pykeepalived.notify.checker_mail import CheckerMailer
from pykeepalived.notify.fifo import FifoSet
from pykeepalived.options import Options
from pykeepalived.safefile import replace
from pykeepalived.track.command import ChildSet, ScriptCommand

if TYPE_CHECKING:
    from pykeepalived.control.snmp_check import CheckSnmpAgent

DATA_FILE = "keepalived_check.data"
SCRIPT_STOP_WAIT_S = 1.0


def make_backend(g: GlobalDefs) -> tuple[str, LvsBackend]:
    """The data plane asked for by `lvs_dataplane` (pykeepalived extension), default auto."""
    kind = choose_dataplane(g.lvs_dataplane or "auto")
    if kind == "ipvs":
        from pykeepalived.linux.ipvs import IpvsBackend

        return kind, IpvsBackend(ipvs_namespace())  # net_namespace_ipvs (daemon/procconf.py)
    return kind, NftLoadBalancer()


def fifo_specs(g: GlobalDefs, resolver: ScriptResolver) -> FifoSet:
    """notify_fifo and lvs_notify_fifo (vrrp_notify_fifo is the VRRP child's)."""

    return FifoSet(fifo_spec(g.notify_fifo, g.notify_fifo_script, resolver), None,
                   fifo_spec(g.lvs_notify_fifo, g.lvs_notify_fifo_script, resolver))


def fifo_writer(fifos: FifoSet) -> Any:
    """The runtime's FIFO callback: its `VS ...` / `RS ...` texts → FifoSet lines."""

    def write(text: str) -> None:
        kind, _, rest = text.partition(" ")
        body, _, state = rest.rpartition(" ")
        if kind == "VS":
            fifos.lvs_vs(body, state == "UP")
        elif kind == "RS":
            rs, _, vs = body.partition(" ")
            fifos.lvs_rs(rs, vs, state == "UP")

    return write


def no_checker_emails(g: GlobalDefs) -> bool:
    return bool(g.no_checker_emails)


async def local_addresses(model: Model | None = None) -> set[str]:
    """Every address configured on the host (this network namespace)."""
    async with AsyncIPRoute() as ipr:
        apply_netlink_bufs(ipr.socket, model.global_defs.rcv_bufs.lvs_netlink_cmd if model else None,
                           "lvs_netlink_cmd")
        return {str(a.address) for a in await list_addresses(ipr)}


class CheckerChild:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.stop_event = asyncio.Event()
        self.reload_requested = False
        self.stop_requested = False
        self.model: Model | None = None
        self.mapped = Mapped()
        self.rt: CheckerRuntime | None = None
        self.backend: LvsBackend | None = None
        self.dataplane = ""
        self.children = ChildSet()
        self.commands: dict[str, ScriptCommand] = {}
        self.fifos: FifoSet | None = None
        self.plane = CheckerPlane(self, opts.checkers_pid_file or default_path("checker"))
        self.addr_watch: asyncio.Task[None] | None = None
        self.mailer = CheckerMailer(None)  # smtp_alert (notify/checker_mail.py)
        self.bfd_reader: BfdEventReader | None = None
        self.lvs_globals: CheckerLvsGlobals | None = None
        self.snmp: CheckSnmpAgent | None = None  # -x / enable_snmp_checker (control/snmp_check.py)

    # ------------------------------------------------------------------ configuration
    def load(self) -> tuple[Model, Mapped] | None:
        model, diags = load_config(self.opts.conf_file, self.opts.config_id, self.opts.all_config, "checker")
        if self._log_diagnostics(diags):
            return None
        mapped = services_from_model(model)
        for w in mapped.warnings:
            log.info("%s", w)
        return model, mapped

    @staticmethod
    def _log_diagnostics(diags: list[Diagnostic]) -> bool:
        fatal = False
        for d in diags:
            log.error("%s", d.format())
            fatal = fatal or is_broken(d)
        return fatal

    def _resolve_scripts(self, model: Model, mapped: Mapped) -> None:
        resolver = ScriptResolver(model)
        commands: dict[str, ScriptCommand] = {}
        for text, script in mapped.scripts.items():
            cmd = resolver.notify_command(script)
            if cmd is not None:
                commands[text] = cmd
        self.commands = commands
        mapped.services = secure_misc_checks(mapped.services, resolver)  # check_misc.c security
        if (violation := check_script_violation(model, resolver)) is not None:
            log.error("%s", violation)

    def run_script(self, text: str) -> None:
        cmd = self.commands.get(text)
        if cmd is None:
            return  # refused by the script security checks (already logged)
        task = asyncio.get_running_loop().create_task(self.children.start(cmd))
        task.add_done_callback(lambda t: t.exception())

    # ------------------------------------------------------------------ signals
    def _install_signals(self, loop: asyncio.AbstractEventLoop, held: list[int]) -> None:
        install_signals(loop, self, self.opts.ignore_sigint, self.write_data, held=held)

    def write_data(self) -> None:
        log.info("Printing checker data for process(%d) on signal", os.getpid())
        try:
            replace(paths_of(self.model, self.opts.namespace).state("_check"), self.data_text())
        except Exception as exc:  # a full disk must not kill the checker process
            log.error("Unable to write %s: %r", DATA_FILE, exc)

    def data_text(self) -> str:
        rt = self.rt
        out = ["------< Health checkers >------"]
        if rt is not None:
            for c in rt.checkers:
                st = rt.states[c.vs]
                out += [f" {c.state.chk}", f"   Keepalive method = {c.state.kind}",
                        f"   Virtual server = {st.fmt}", f"   Real server = {st.rs[c.rs].fmt}",
                        f"   Is up = {'yes' if c.state.is_up else 'no'}",
                        f"   Delay loop = {c.timing.delay_loop}us, retry = {c.timing.retry},"
                        f" delay before retry = {c.timing.delay_before_retry}us,"
                        f" connect timeout = {c.timing.connect_timeout}us"]
        out.append("------< LVS Topology >------")
        out.append(f" Data plane = {self.dataplane}")
        if rt is not None:
            for st in rt.states:
                s = st.spec
                out += [f" VS = {st.fmt}", f"   lb_algo = {s.scheduler}, lb_kind = {s.forwarding.name}",
                        f"   quorum = {s.quorum}, hysteresis = {s.hysteresis},"
                        f" quorum state = {'UP' if st.quorum_up else 'DOWN'}, weight sum = {st.weight_sum()}"]
                if s.persistence_timeout:
                    out.append(f"   persistence timeout = {s.persistence_timeout}")
                if s.sorry_server is not None:
                    active = "active" if st.sorry_alive else "inactive"
                    out.append(f"   sorry server = {st.sorry_fmt} {active}")
                for r in st.rs:
                    out.append(f"   RS = {r.fmt}, weight = {r.weight}, {'alive' if r.alive else 'down'}"
                               + (", inhibit_on_failure" if r.inhibit else ""))
            out.append("------< Data plane table >------")
            for key, entry in rt.applied.items():
                out.append(f" {key} {entry.service.scheduler}")
                for d in entry.dests.values():
                    out.append(f"   -> [{d.addr}]:{d.port} {d.forwarding.name} weight {d.weight}")
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        held = hold_signals(loop)  # until started (daemon/serve.py)
        loaded = self.load()
        if loaded is None:
            log.error("Configuration has fatal errors - checker process exiting")
            return 2
        self.model, self.mapped = loaded
        self._resolve_scripts(self.model, self.mapped)
        g = self.model.global_defs
        try:
            self.dataplane, self.backend = make_backend(g)
        except (ValueError, OSError, ImportError) as exc:
            log.error("Unable to use the LVS data plane: %s", exc)
            return 1
        log.info("Using LVS data plane %s", self.dataplane)
        if isinstance(self.backend, NftLoadBalancer):
            await self.backend.flush()  # our own table only: left over from an unclean stop
        self.lvs_globals = CheckerLvsGlobals(self.backend)  # lvs_timeouts, lvs_flush, lvs_sync_daemon
        await self.lvs_globals.start(self.model)
        self.fifos = fifo_specs(g, ScriptResolver(self.model))
        await self.fifos.open()
        self.mailer.alerter = smtp_alerter(self.model)
        self.rt = CheckerRuntime(self.mapped.services, self.backend,
                                 fifo=self.plane.tee(fifo_writer(self.fifos)),
                                 run_script=self.run_script, mail=self.mailer,
                                 no_checker_emails=no_checker_emails(g),
                                 rs_init_notifies=bool(g.rs_init_notifies))
        await self.watch_addresses()
        # before the first checker's verdict, so its traps are sent (keepalived connects at its start)
        await self.start_snmp()
        await self.rt.start(topology_set=lambda: child_ready("checker"))  # keepalived's notify_config_read
        self.start_bfd()
        await self.plane.start(self.model)
        self._install_signals(loop, held)
        return await serve_until_stopped(self)

    async def start_snmp(self) -> None:
        """enable_snmp_checker or -x: the subagent (its code imported only then, as the VRRP child's)."""
        assert self.model is not None and self.rt is not None
        if not snmp_settings(self.model, self.opts.snmp, self.opts.snmp_socket).checker:
            return
        from pykeepalived.control.snmp_check import start_check_snmp
        from pykeepalived.daemon.checker.check_snmp_view import CheckerSnmpView

        self.snmp = await start_check_snmp(self.opts, self.model, CheckerSnmpView(
            lambda: self.rt, lambda: self.commands, self.plane.cache.get), self.plane.cache.refresh)
        if self.snmp is not None:
            self.rt.trap = self.snmp.trap

    def start_bfd(self) -> None:
        """BFD_CHECK: follow the BFD child's events on the pipe the parent gave us (bfd_events.py)."""
        log.info("Activating BFD healthchecker")
        rt = self.rt
        assert rt is not None
        self.bfd_reader = start_reader(lambda ev: rt.bfd_event(ev.name, ev.up))

    async def reload(self) -> None:
        log.info("Reloading")
        loaded = self.load()
        if loaded is None:
            log.error("Configuration has errors - keeping the running configuration")
            return
        model, mapped = loaded
        assert self.rt is not None
        self._resolve_scripts(model, mapped)
        self.model, self.mapped = model, mapped
        self.mailer.alerter = smtp_alerter(model)
        self.rt.no_checker_emails = no_checker_emails(model.global_defs)
        self.rt.rs_init_notifies = bool(model.global_defs.rs_init_notifies)
        if self.snmp is not None:
            self.snmp.reload(model, snmp_settings(model, self.opts.snmp, self.opts.snmp_socket))
        await self.rt.reload(mapped.services)
        if self.lvs_globals is not None:
            await self.lvs_globals.reload(model)
        await self.watch_addresses()
        await self.plane.reload(model)

    # ------------------------------------------------------------------ ha_suspend
    async def watch_addresses(self) -> None:
        """Start following the host's addresses once some virtual server has ha_suspend."""
        assert self.rt is not None
        if self.addr_watch is not None or not any(s.ha_suspend for s in self.rt.specs):
            return
        bufs = self.model.global_defs.rcv_bufs.lvs_netlink_monitor if self.model else None
        mon = NetlinkMonitor(rcvbuf=bufs)
        await mon.open()  # subscribed before the dump: no change is missed
        self.rt.set_local_addresses(await local_addresses(self.model))
        self.addr_watch = asyncio.get_running_loop().create_task(self._follow_addresses(mon))

    async def _follow_addresses(self, mon: NetlinkMonitor) -> None:
        try:
            async for ev in mon:
                if isinstance(ev, AddressEvent) and self.rt is not None:
                    # re-read the whole set: the same address may be on several interfaces
                    self.rt.set_local_addresses(await local_addresses(self.model))
        except Exception as exc:  # losing the monitor must not stop the checkers
            log.error("Address monitor failed: %r", exc)
        finally:
            mon.close()

    async def shutdown(self) -> None:
        assert self.rt is not None
        await self.plane.close()
        if self.addr_watch is not None:
            self.addr_watch.cancel()
            await asyncio.gather(self.addr_watch, return_exceptions=True)
        if self.bfd_reader is not None:
            self.bfd_reader.stop()
        release = not self.opts.dont_release_ipvs
        await self.rt.stop(clear=release)
        if release and isinstance(self.backend, NftLoadBalancer):
            await self.backend.flush()
        if self.lvs_globals is not None:
            await self.lvs_globals.stop(release)  # lvs_flush_on_stop, sync daemon, timeouts restored
        if self.snmp is not None:  # after the stop's traps (keepalived checker_terminate_phase2)
            await self.snmp.close()
        await self.children.wait_all(SCRIPT_STOP_WAIT_S)  # omega notify_down / quorum_down
        await self.mailer.drain(SCRIPT_STOP_WAIT_S)  # omega smtp_alerts
        if self.fifos is not None:
            self.fifos.close()
        close = getattr(self.backend, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                result = close()  # IPVS: synchronous; nftables: a coroutine (netlink socket)
                if asyncio.iscoroutine(result):
                    await result
        log_stopping()


def run_checker_child(opts: Options) -> int:
    setup_logging(opts, "checker")
    apply_child("checker")  # umask, process name, scheduling (daemon/procconf.py)
    return run_with_pid_file(opts.checkers_pid_file or default_path("checker"),
                             lambda: run_logged(lambda: CheckerChild(opts).run(), "Healthcheck child failed"),
                             "Healthcheck child process: cannot write pidfile")
