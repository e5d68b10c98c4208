"""Asyncio runtime of the checker child: runs every checker, feeds the state machines, programs LVS.

# Theory of operation
`CheckerRuntime` takes the virtual servers as `VirtualServerSpec`s and an `LvsBackend` (IPVS or
nftables). `start()` builds one `VirtualServerState` per virtual server and one `CheckerState` per
checker, programs the initial table (planned against what the data plane already holds, so a restart
does not flap the pool) and starts one task per checker. A checker task sleeps a random time within
`warmup`, then loops: probe → `CheckerState.result()` → on a verdict `VirtualServerState
.checker_result()` → effects → sleep for the verdict's delay. Table changes are coalesced: after any
state change the runtime marks the table dirty and a single sync task plans desired vs applied and
hands the operations to the backend, one batch (one transaction for nftables) per sync.
A virtual_server_group is one state machine programmed as one service per group entry.
ha_suspend: once the daemon reports the host's addresses (`set_local_addresses`), a virtual server with
ha_suspend programs only the services whose address is local, and its checkers wait while none is
(keepalived suspends the checkers of a VS whose address is not configured; fwmark services are never
suspended).
Scripts (notify_up/down, quorum_up/down) run detached (through the `run_script` callback when the
daemon gives one); FIFO lines go to the `fifo` callback, smtp_alert mails (notify/checker_mail.py: a
checker's change of state, decided here where the checker kind and failure reason are known, and the
state machines' quorum mails) to the `mail` callback.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shlex
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from pykeepalived.check.http_state import HttpProgress, http_result
from pykeepalived.check.model import (
    SEC,
    BfdCheckSpec,
    CheckSpec,
    DnsCheckSpec,
    FileCheckSpec,
    HttpCheckSpec,
    MiscCheckSpec,
    PingCheckSpec,
    RealServerSpec,
    SmtpCheckSpec,
    TcpCheckSpec,
    Timing,
    UdpCheckSpec,
    VirtualServerSpec,
    resolve_timing,
)
from pykeepalived.check.probes import ProbeResult, Target, probe_tcp, target_for
from pykeepalived.check.probes.dns import probe_dns
from pykeepalived.check.probes.file import probe_file
from pykeepalived.check.probes.http import client_context, probe_http
from pykeepalived.check.probes.misc import probe_misc
from pykeepalived.check.probes.ping import probe_ping
from pykeepalived.check.probes.smtp import probe_smtp
from pykeepalived.check.probes.udp import probe_udp
from pykeepalived.check.state import (
    CheckerState,
    Effect,
    FifoLine,
    LogLine,
    RunScript,
    StateTrap,
    VirtualServerState,
    checker_start_down,
)
from pykeepalived.lvs.model import LvsCounters, LvsTable, Protocol, ServiceEntry, ServiceKey
from pykeepalived.lvs.plan import LvsOp, plan
from pykeepalived.notify.checker_mail import CheckerMail, checker_mail

log = logging.getLogger("pykeepalived")


def vs_identity(vs: VirtualServerSpec) -> object:
    """Which virtual server of a new file is a running one, as keepalived's vs_iseq: the same group
    name (whatever its entries), else the same fwmark or protocol, address and port."""
    return ("group", vs.group, vs.key.port) if vs.group else vs.key


class LvsBackend(TypingProtocol):
    """A data plane: IPVS (linux/ipvs.py) or nftables (linux/nft_lb.py)."""

    async def dump(self) -> LvsTable: ...

    async def apply(self, ops: list[LvsOp]) -> None: ...

    async def stats(self) -> LvsCounters: ...


@dataclass(slots=True)
class _Checker:
    vs: int
    rs: int
    cid: int
    spec: CheckSpec
    rs_spec: RealServerSpec
    target: Target
    timing: Timing
    state: CheckerState
    ssl_ctx: ssl.SSLContext | None = None
    http: HttpProgress | None = None  # HTTP_GET / SSL_GET: the url to check next
    last: ProbeResult | None = None  # the latest probe's result and its wall-clock time (control socket)
    last_time: float = 0.0


class CheckerRuntime:
    def __init__(self, services: Sequence[VirtualServerSpec], backend: LvsBackend | None = None, *,
                 fifo: Callable[[str], None] | None = None, rng: random.Random | None = None,
                 logger: logging.Logger | None = None,
                 run_script: Callable[[str], None] | None = None,
                 local_addrs: Iterable[str] | None = None,
                 mail: Callable[[CheckerMail], None] | None = None, no_checker_emails: bool = False,
                 rs_init_notifies: bool = False) -> None:
        self.specs = list(services)
        self.backend = backend
        self.fifo = fifo
        self.run_script = run_script  # the daemon's notify runner; default: a plain subprocess
        self.mail = mail  # smtp_alert sender (the daemon's); None: no mail
        self.trap: Callable[[StateTrap], None] | None = None  # SNMP traps (control/snmp_check.py)
        self.no_checker_emails = no_checker_emails
        self.rs_init_notifies = rs_init_notifies  # notify the real servers alive at start (global_defs)
        self.rng = rng or random.Random()
        self.log = logger or log
        self.states: list[VirtualServerState] = []
        self.checkers: list[_Checker] = []
        self.applied: dict[ServiceKey, ServiceEntry] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._children: set[asyncio.Task[None]] = set()
        self._dirty = asyncio.Event()
        self._synced = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None
        self.changes = 0  # number of table syncs that changed something
        # addresses configured on the host (ha_suspend); None = not tracked, nothing is suspended
        self.local_addrs: set[str] | None = None if local_addrs is None else set(local_addrs)
        self._active: list[asyncio.Event] = []  # per virtual server: set while its checkers may run

    # -- public API ------------------------------------------------------------------------------
    async def start(self, topology_set: Callable[[], None] | None = None) -> None:
        """Build the states, set the data plane's table, then start the checkers; `topology_set` runs
        in between (keepalived's checker child tells its parent there: "Startup complete")."""
        self._build()
        for st in self.states:
            if self.rs_init_notifies:
                self._run_effects(st.init_notifies())
            self._run_effects(st.start())
        actual: LvsTable = await self.backend.dump() if self.backend else {}
        # keep only services we manage: others in the kernel are not ours to touch (unless lvs_flush)
        ours = {k for s in self.specs for k in s.keys}
        self.applied = {k: v for k, v in actual.items() if k in ours}
        await self._sync_once()
        if topology_set is not None:
            topology_set()
        for c in self.checkers:
            if isinstance(c.spec, BfdCheckSpec):
                continue  # no probe: fed by bfd_event()
            self.log.info("Activating healthchecker for service %s for VS %s", c.state.chk if c.spec.kind
                          != "MISC_CHECK" else c.rs_spec.addr, self.states[c.vs].fmt)
            self._tasks.append(asyncio.create_task(self._run_checker(c), name=f"check-{c.state.chk}"))
        self._sync_task = asyncio.create_task(self._sync_loop(), name="lvs-sync")

    async def stop(self, clear: bool = True) -> None:
        """Stop the checkers; with `clear` remove our services from the data plane (keepalived default)."""
        for t in self._tasks:
            t.cancel()
        if self._sync_task:
            self._sync_task.cancel()
        await asyncio.gather(*self._tasks, *([self._sync_task] if self._sync_task else []),
                             return_exceptions=True)
        self._tasks.clear()
        if clear:
            for st in self.states:
                self._run_effects(st.shutdown())
            if self.backend:
                await self.backend.apply(plan({}, self.applied))
            self.applied = {}
        for t in list(self._children):
            await asyncio.gather(t, return_exceptions=True)

    async def reload(self, services: Sequence[VirtualServerSpec]) -> None:
        """Replace the configuration; real servers that stay keep their alive state."""
        old = {(vs_identity(st.spec), r.spec.addr, r.spec.port): r for st in self.states for r in st.rs}
        by_identity = {vs_identity(s): s for s in services}
        # ipwrapper.c clear_diff_services: dropped virtual and real servers leave with their lines
        gone = [e for st in self.states for e in st.reload_removals(by_identity.get(vs_identity(st.spec)))]
        await self.stop(clear=False)
        self.specs = list(services)
        self._run_effects(gone)
        self._build()
        for st in self.states:
            for r in st.rs:
                prev = old.get((vs_identity(st.spec), r.spec.addr, r.spec.port))
                if prev is not None:
                    r.alive, r.failed = prev.alive, set(prev.failed)
            if self.rs_init_notifies:  # real servers new in this configuration (init_service_rs)
                new = {i for i, r in enumerate(st.rs)
                       if (vs_identity(st.spec), r.spec.addr, r.spec.port) not in old}
                self._run_effects(st.init_notifies(new))
        for c in self.checkers:  # checkers of servers known down stay down until they succeed
            r = self.states[c.vs].rs[c.rs]
            c.state.is_up = r.alive
        for st in self.states:
            st.quorum_up = st.weight_sum() >= st.spec.quorum - st.spec.hysteresis and st.weight_sum() > 0
            st.sorry_alive = not st.quorum_up and st.spec.sorry_server is not None
        await self._sync_once()
        for c in self.checkers:
            if not isinstance(c.spec, BfdCheckSpec):
                self._tasks.append(asyncio.create_task(self._run_checker(c)))
        self._sync_task = asyncio.create_task(self._sync_loop())

    def bfd_event(self, name: str, up: bool) -> None:
        """The BFD child reports session `name` Up or not: every BFD_CHECK on it follows (keepalived
        check_bfd.c bfd_check_handle_event; a checker already in that state after its first event is
        left alone, each real server's own checker state is kept because of alpha)."""
        fx: list[Effect] = []
        for c in self.checkers:
            if not isinstance(c.spec, BfdCheckSpec) or c.spec.name != name:
                continue
            if c.state.is_up == up and c.state.has_run:
                continue
            fx.append(LogLine(f"BFD check of [{name}] RS({self.states[c.vs].rs[c.rs].fmt}) is "
                              f"{'UP' if up else 'DOWN'}"))
            c.state.is_up, c.state.has_run = up, True
            fx += self.states[c.vs].checker_result(c.rs, c.cid, up)
        self._run_effects(fx)

    def desired(self) -> dict[ServiceKey, ServiceEntry]:
        out: dict[ServiceKey, ServiceEntry] = {}
        for st in self.states:
            out.update(st.desired_table(self.active_keys(st.spec)))
        return out

    def active_keys(self, vs: VirtualServerSpec) -> tuple[ServiceKey, ...]:
        """The services of `vs` to program: all, or with ha_suspend those whose address is local."""
        if not vs.ha_suspend or self.local_addrs is None:
            return vs.keys
        return tuple(k for k in vs.keys if k.fwmark or k.addr in self.local_addrs)

    def suspended(self, vi: int) -> bool:
        return not self.active_keys(self.specs[vi])

    def set_local_addresses(self, addrs: Iterable[str]) -> None:
        """The host's addresses changed (ha_suspend): suspend or resume checkers, reprogram services."""
        self.local_addrs = set(addrs)
        for vi, ev in enumerate(self._active):
            if not self.specs[vi].ha_suspend or ev.is_set() != self.suspended(vi):
                continue
            verb = "Suspending" if ev.is_set() else "Activating"
            for c in self.checkers:
                if c.vs == vi:
                    self.log.info("%s healthchecker for service %s for VS %s", verb, c.state.chk,
                                  self.states[vi].fmt)
            if ev.is_set():
                ev.clear()
            else:
                ev.set()
        self._dirty.set()

    async def wait_synced(self) -> None:
        """Wait until the data plane holds the desired table (for tests and the control socket)."""
        while self.desired() != self.applied:
            self._synced.clear()
            self._dirty.set()
            await self._synced.wait()

    # -- internals -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.states, self.checkers, self._active = [], [], []
        for vi, vs in enumerate(self.specs):
            self._active.append(asyncio.Event())
            if not self.suspended(vi):
                self._active[vi].set()
            timings = {(ri, ci): resolve_timing(c, r, vs)
                       for ri, r in enumerate(vs.real_servers) for ci, c in enumerate(r.checks)}
            st = VirtualServerState(vs, checker_start_down(vs, timings))
            self.states.append(st)
            proto = vs.protocol if vs.protocol is not Protocol.NONE else Protocol.TCP
            for (ri, ci), t in timings.items():
                rs = vs.real_servers[ri]
                spec = rs.checks[ci]
                target = target_for(spec, rs, Protocol.UDP if isinstance(spec, DnsCheckSpec | UdpCheckSpec)
                                    else proto)
                if isinstance(spec, MiscCheckSpec):
                    name = shlex.split(spec.misc_path)[0] if spec.misc_path.strip() else spec.misc_path
                    chk = f"[{st.rs[ri].fmt} VS {st.fmt}] by [{name}]"
                else:
                    chk = target.fmt()
                kind = "SSL_GET" if isinstance(spec, HttpCheckSpec) and spec.ssl else spec.kind
                ctx = client_context(spec.ssl_opts) if isinstance(spec, HttpCheckSpec) and spec.ssl else None
                self.checkers.append(_Checker(vi, ri, ci, spec, rs, target, t,
                                              CheckerState(kind, chk, t, spec.log_all_failures), ctx,
                                              HttpProgress() if isinstance(spec, HttpCheckSpec) else None))

    async def probe(self, c: _Checker) -> ProbeResult:
        spec, t = c.spec, c.target
        timeout = c.timing.connect_timeout / SEC
        if isinstance(spec, HttpCheckSpec):
            return await probe_http(spec, t, timeout, c.rs_spec.virtualhost or self.specs[c.vs].virtualhost,
                                    c.ssl_ctx, c.http.url_it if c.http else None)
        if isinstance(spec, TcpCheckSpec):
            return await probe_tcp(t, timeout)
        if isinstance(spec, SmtpCheckSpec):
            return await probe_smtp(t, timeout, spec.helo_name)
        if isinstance(spec, DnsCheckSpec):
            return await probe_dns(t, timeout, spec.type, spec.name)
        if isinstance(spec, UdpCheckSpec):
            return await probe_udp(spec, t, timeout)
        if isinstance(spec, PingCheckSpec):
            return await probe_ping(t, timeout)
        if isinstance(spec, MiscCheckSpec):
            mt = spec.misc_timeout if spec.misc_timeout is not None else c.timing.delay_loop / SEC
            return await probe_misc(spec, mt, c.state.chk[1:c.state.chk.index("] by [")])
        if isinstance(spec, FileCheckSpec):
            return await probe_file(spec)
        raise TypeError(f"unknown checker {spec!r}")

    async def _run_checker(self, c: _Checker) -> None:
        warm = c.timing.warmup
        if warm:
            await asyncio.sleep(self.rng.uniform(0, warm) / SEC)
        while True:
            await self._active[c.vs].wait()  # ha_suspend: no checks while the VS address is not local
            res = await self.probe(c)
            delay = self.feed(c, res)
            await asyncio.sleep(delay / SEC)

    def feed(self, c: _Checker, res: ProbeResult) -> int:
        """Hand one probe result to the state machines; returns µs until the next probe."""
        c.last, c.last_time = res, time.time()
        if isinstance(c.spec, FileCheckSpec):
            return self._feed_file(c, res)
        reason = res.reason if c.spec.kind != "MISC_CHECK" or c.spec.log_all_failures else None
        was_up = c.state.is_up
        if c.http is not None and isinstance(c.spec, HttpCheckSpec):
            v = http_result(c.state, c.http, len(c.spec.urls), res.ok, reason, c.spec.fast_recovery)
        else:
            v = c.state.result(res.ok, reason)
        fx: list[Effect] = list(v.log)
        st = self.states[c.vs]
        if res.ok and res.weight is not None and isinstance(c.spec, MiscCheckSpec):
            fx += st.set_weight_delta(c.rs, c.cid, res.weight - c.rs_spec.weight)
        if v.report is not None:
            r = st.rs[c.rs]
            was_alive = r.alive
            fx += st.checker_result(c.rs, c.cid, v.report)
            m = checker_mail(c.state.kind, st.fmt, r.fmt, checker_was_up=was_up, up=v.report,
                             rs_was_alive=was_alive, rs_alive=r.alive, smtp_alert=c.rs_spec.smtp_alert,
                             no_checker_emails=self.no_checker_emails, reason=res.reason)
            if m is not None:
                fx.append(m)
        self._run_effects(fx)
        return v.delay

    def _feed_file(self, c: _Checker, res: ProbeResult) -> int:
        st = self.states[c.vs]
        fx: list[Effect] = []
        if res.weight is not None:
            fx += st.set_weight_delta(c.rs, c.cid, res.weight)
        if res.ok != c.state.is_up or not c.state.has_run:
            c.state.is_up, c.state.has_run = res.ok, True
            if res.reason:
                fx.append(LogLine(res.reason))
            fx += st.checker_result(c.rs, c.cid, res.ok)
        self._run_effects(fx)
        assert isinstance(c.spec, FileCheckSpec)
        return round(c.spec.poll_interval * SEC)

    def _run_effects(self, fx: list[Effect]) -> None:
        for e in fx:
            match e:
                case LogLine(text=text):
                    self.log.info("%s", text)
                case RunScript(command=cmd) if self.run_script is not None:
                    self.run_script(cmd)
                case RunScript(command=cmd):
                    task = asyncio.create_task(self._run_script(cmd))
                    self._children.add(task)
                    task.add_done_callback(self._children.discard)
                case FifoLine(text=text):
                    if self.fifo:
                        self.fifo(text)
                case CheckerMail() if self.mail is not None:
                    self.mail(e)
                case StateTrap() if self.trap is not None:
                    self.trap(e)
        if fx:
            self._dirty.set()

    async def _run_script(self, cmd: str) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(*shlex.split(cmd), stdin=asyncio.subprocess.DEVNULL)
            await proc.wait()
        except OSError as e:
            self.log.info("Unable to execute %s: %s", cmd, e.strerror)

    async def _sync_once(self) -> None:
        desired = self.desired()
        ops = plan(desired, self.applied)
        if ops:
            if self.backend:
                await self.backend.apply(ops)
            self.changes += 1
        self.applied = desired

    async def _sync_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._sync_once()
            except Exception as e:  # the data plane failing must not kill the checkers
                self.log.error("LVS update failed: %s", e)
                await asyncio.sleep(1)
                self._dirty.set()
            self._synced.set()
