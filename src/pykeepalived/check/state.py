"""Pure checker and real-server / quorum state machines (keepalived.md §1.12.6, log texts §4.5).

# Theory of operation
`CheckerState` is one health check's retry logic, as keepalived runs it after every probe: a success,
or a failure once `retry` retries (each `delay_before_retry` apart) are used up, ends the cycle and the
next probe runs `delay_loop` later; otherwise the probe is retried. The first completed cycle always
reports its verdict (so a server configured with `alpha` comes up on its first success); after that
only changes of the checker's up/down state are reported.

`VirtualServerState` owns the real servers of one virtual_server. A real server is alive when none of
its checkers is failing. Liveness changes and weight changes (MISC_CHECK misc_dynamic, FILE_CHECK)
update the quorum: the sum of the live servers' weights. Quorum is lost when that sum drops to 0 or
below `quorum - hysteresis`, and regained when it reaches `quorum + hysteresis`; while it is lost and a
sorry server is configured, the sorry server replaces the live servers in the pool. `desired()` turns
the state into the LVS service entry the data plane should hold (lvs/plan.py makes the diff), and
`desired_table()` into one entry per service of a virtual_server_group.

Every input returns a list of effects (log lines, scripts to run, notify-FIFO lines, smtp_alert mails
about the virtual server: notify/checker_mail.py) in keepalived's order. No I/O here: this module must
not import socket, asyncio, subprocess, time, os or pyroute2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from pykeepalived.check.model import CheckSpec, RealServerSpec, Timing, VirtualServerSpec, fmt_addr
from pykeepalived.lvs.model import Dest, Forwarding, Service, ServiceEntry, ServiceKey, make_entry
from pykeepalived.notify.checker_mail import REMOVING_BODY, SHUTDOWN_BODY, CheckerMail, quorum_body


@dataclass(frozen=True, slots=True)
class LogLine:
    text: str


@dataclass(frozen=True, slots=True)
class RunScript:
    command: str


@dataclass(frozen=True, slots=True)
class FifoLine:
    """A notify-FIFO line (keepalived.md §4.3), without the trailing newline."""

    text: str


@dataclass(frozen=True, slots=True)
class StateTrap:
    """KEEPALIVED-MIB realServerStateChange (`rs` set) or virtualServerQuorumStateChange (`rs` None),
    with the counts as they are when keepalived sends it (check_snmp.c check_snmp_rs_trap):
    `quorum` is 1 up, 2 down, 3 stopping."""

    vs: VirtualServerSpec
    rs: RealServerSpec | None
    alive: bool
    realup: int
    realtotal: int
    quorum: int = 0


Effect = LogLine | RunScript | FifoLine | CheckerMail | StateTrap  # CheckerMail: an smtp_alert to send

# keepalived's per-checker success / failure texts (check_*.c)
_UP_TEXT = {
    "TCP_CHECK": "TCP connection to {chk} success.",
    "HTTP_GET": "Remote Web server {chk} succeed on service.",
    "SSL_GET": "Remote Web server {chk} succeed on service.",
    "SMTP_CHECK": "Remote SMTP server {chk} succeed on service.",
    "DNS_CHECK": "DNS_CHECK to {chk} succeed.",
    "UDP_CHECK": "UDP connection to {chk} success.",
    "PING_CHECK": "ICMP connection to {chk} success.",
    "MISC_CHECK": "Misc check for {chk} succeeded.",
}
_DOWN_NAME = {"HTTP_GET": "HTTP_CHECK", "SSL_GET": "SSL_CHECK"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of feeding one probe result: the state to report (or None) and when to probe next."""

    report: bool | None  # True = up, False = down, None = nothing to report
    delay: int  # µs until the next probe
    log: tuple[Effect, ...] = ()


class CheckerState:
    """Retry / up / down logic of one checker (keepalived's *_epilog functions)."""

    def __init__(self, kind: str, chk: str, timing: Timing, log_all_failures: bool = False) -> None:
        self.kind = kind
        self.chk = chk  # FMT_CHK: `[IP]:tcp:PORT` of the checked address
        self.timing = timing
        self.log_all_failures = log_all_failures
        self.is_up = not timing.alpha
        self.has_run = False
        self.retry_it = 0

    def result(self, ok: bool, reason: str | None = None) -> Verdict:
        t = self.timing
        log: list[Effect] = []
        report: bool | None = None
        if not ok and reason and (self.is_up or not self.has_run or self.log_all_failures):
            log.append(LogLine(reason))
        if ok or self.retry_it >= t.retry:
            delay = t.delay_loop
            self.retry_it = 0
            if ok and (not self.is_up or not self.has_run):
                log.append(LogLine(_UP_TEXT.get(self.kind, self.kind + " on service {chk} succeed.")
                                   .format(chk=self.chk)))
                report = True
            elif not ok and (self.is_up or not self.has_run):
                name = _DOWN_NAME.get(self.kind, self.kind)
                after = f" after {t.retry} retries" if t.retry and self.has_run else ""
                if self.kind == "MISC_CHECK":
                    log.append(LogLine(f"Misc check for {self.chk} failed{after}."))
                else:
                    log.append(LogLine(f"{name} on service {self.chk} failed{after}."))
                report = False
            if report is not None:
                self.is_up = report
        else:
            delay = t.delay_before_retry
            self.retry_it += 1
        self.has_run = True
        return Verdict(report, delay, tuple(log))


@dataclass(slots=True)
class RealServerState:
    spec: RealServerSpec
    fmt: str
    weight: int  # effective weight (configured + dynamic adjustments)
    inhibit: bool
    alive: bool = True
    failed: set[int] = field(default_factory=set)  # ids of failing checkers
    deltas: dict[int, int] = field(default_factory=dict)  # dynamic weight per checker id


class VirtualServerState:
    """Real-server pool, quorum and sorry server of one virtual_server (keepalived's ipwrapper.c)."""

    def __init__(self, spec: VirtualServerSpec, start_down: dict[int, set[int]] | None = None) -> None:
        """`start_down` maps RS index → ids of checkers starting down (alpha); others start up."""
        self.spec = spec
        self.fmt = spec.fmt()
        proto = spec.protocol
        self.rs: list[RealServerState] = []
        for i, r in enumerate(spec.real_servers):
            inhibit = spec.inhibit_on_failure if r.inhibit_on_failure is None else r.inhibit_on_failure
            down = set(start_down.get(i, set())) if start_down else set()
            self.rs.append(RealServerState(r, fmt_addr(r.addr, proto, r.port), r.weight, inhibit,
                                           alive=not down, failed=down))
        ss = spec.sorry_server
        self.sorry_fmt = fmt_addr(ss.addr, proto, ss.port) if ss else ""
        self.sorry_alive = False
        self.quorum_up = True

    # -- queries ---------------------------------------------------------------------------------
    def weight_sum(self) -> int:
        return sum(r.weight for r in self.rs if r.alive)

    def _thresholds(self) -> tuple[int, int]:
        return self.spec.quorum + self.spec.hysteresis, self.spec.quorum - self.spec.hysteresis

    def service(self, key: ServiceKey | None = None) -> Service:
        s = self.spec
        return Service(key or s.key, s.scheduler, s.persistence_timeout, s.persistence_granularity,
                       s.persistence_engine, s.flags)

    def desired_table(self, keys: Iterable[ServiceKey] | None = None) -> dict[ServiceKey, ServiceEntry]:
        """One entry per service of the virtual server (every virtual_server_group entry gets the same
        pool, as keepalived does), or only for `keys` (ha_suspend leaves out non-local addresses).
        DR/TUN destinations take each service's own port (keepalived.md §1.12.3)."""
        base = self.desired()
        out: dict[ServiceKey, ServiceEntry] = {}
        for key in self.spec.keys if keys is None else keys:
            if key == self.spec.key:
                out[key] = base
                continue
            dests = [d if d.forwarding is Forwarding.NAT or d.port == key.port else replace(d, port=key.port)
                     for d in base.dests.values()]
            out[key] = make_entry(self.service(key), dests)
        return out

    def desired(self) -> ServiceEntry:
        """The service entry the data plane must hold for the current state (the first service)."""
        s = self.spec
        dests: list[Dest] = []
        pool_open = self.quorum_up or not self.sorry_alive
        for r in self.rs:
            fwd = r.spec.forwarding or s.forwarding
            if r.alive and pool_open:
                dests.append(Dest(r.spec.addr, r.spec.port, r.weight, fwd, r.spec.u_threshold,
                                  r.spec.l_threshold))
            elif r.inhibit:
                dests.append(Dest(r.spec.addr, r.spec.port, 0, fwd, r.spec.u_threshold, r.spec.l_threshold))
        ss = s.sorry_server
        if ss is not None:
            fwd = ss.forwarding or s.forwarding
            if self.sorry_alive:
                dests.append(Dest(ss.addr, ss.port, ss.weight, fwd))
            elif s.sorry_server_inhibit:
                dests.append(Dest(ss.addr, ss.port, 0, fwd))
        return make_entry(self.service(), dests)

    # -- inputs ----------------------------------------------------------------------------------
    def start(self) -> list[Effect]:
        """Initial quorum evaluation, as keepalived's init_service_vs → update_quorum_state(init): quorum
        starts down (no server is alive before the pool is programmed) and is gained at once when the
        live weight reaches quorum + hysteresis; otherwise only a sorry server makes it visible."""
        fx: list[Effect] = []
        s = self.spec
        total = self.weight_sum()
        up_t = s.quorum + s.hysteresis
        self.quorum_up = False
        if total >= up_t:
            self.quorum_up = True
            fx.append(LogLine(f"Gained quorum {s.quorum}+{s.hysteresis}={up_t} <= {total} for VS {self.fmt}"))
            self._vs_notifies(fx, up_t, total, init=True)
        elif s.sorry_server is not None:
            fx.append(LogLine(f"Starting with quorum down {s.quorum}-{s.hysteresis}={up_t} > {total} "
                              f"for VS {self.fmt}"))
            self._quorum_lost_actions(fx, initial=True)
            self._vs_notifies(fx, up_t, total, init=True)
        return fx

    def init_notifies(self, indices: Iterable[int] | None = None) -> list[Effect]:
        """global rs_init_notifies: keepalived's init_service_rs runs do_rs_notifies for every real
        server it adds to the pool alive (not those starting down with alpha), before the initial
        quorum evaluation; `indices` limits it to the new real servers of a reload."""
        fx: list[Effect] = []
        for i, r in enumerate(self.rs):
            if r.alive and (indices is None or i in indices):
                self._rs_notifies(r, fx)
        return fx

    def checker_result(self, rs_index: int, checker_id: int, up: bool) -> list[Effect]:
        """A checker reported up or down (update_svr_checker_state)."""
        r = self.rs[rs_index]
        fx: list[Effect] = []
        if up:
            r.failed.discard(checker_id)
            if not r.failed and not r.alive:
                self._set_alive(r, True, fx)
        else:
            was_ok = not r.failed
            r.failed.add(checker_id)
            if was_ok and r.alive:
                self._set_alive(r, False, fx)
        return fx

    def set_weight_delta(self, rs_index: int, checker_id: int, delta: int) -> list[Effect]:
        """A MISC_CHECK (misc_dynamic) or FILE_CHECK changed its weight contribution (update_svr_wgt)."""
        r = self.rs[rs_index]
        fx: list[Effect] = []
        if r.deltas.get(checker_id, 0) == delta:
            return fx
        r.deltas[checker_id] = delta
        new = max(0, r.spec.weight + sum(r.deltas.values()))
        if new != r.weight:
            state = "active" if r.alive else "inactive"
            fx.append(LogLine(f"Changing weight from {r.weight} to {new} for {state} service {r.fmt} "
                              f"of VS {self.fmt}"))
            r.weight = new
            self._update_quorum(fx)
        return fx

    def shutdown(self) -> list[Effect]:
        """Stop: log removals; with `omega` run notify_down / quorum_down as servers leave."""
        fx: list[Effect] = []
        for r in self.rs:
            if r.alive:
                fx.append(LogLine(f"Removing service {r.fmt} from VS {self.fmt}"))
                if self.spec.omega and r.spec.notify_down:
                    fx.append(LogLine(f"Executing [{r.spec.notify_down}] for service {r.fmt} "
                                      f"in VS {self.fmt}"))
                    fx.append(RunScript(r.spec.notify_down))
                if self.spec.omega and r.spec.smtp_alert:
                    fx.append(CheckerMail(self.fmt, r.fmt, "DOWN", SHUTDOWN_BODY))
                r.alive = False
                fx.append(self._trap(r))  # sent when stopping, omega or not (clear_service_rs)
        fx.append(self._trap(None, 3))  # update_vs_notifies(stopping): quorum state "stopping"
        if self.spec.omega and self.quorum_up and self.spec.quorum_down:
            fx.append(LogLine(f"Executing [{self.spec.quorum_down}] for VS {self.fmt}"))
            fx.append(RunScript(self.spec.quorum_down))
        if self.spec.omega and self.spec.smtp_alert:
            fx.append(CheckerMail(self.fmt, None, "DOWN", SHUTDOWN_BODY))
        self.quorum_up = False
        return fx

    def reload_removals(self, new: VirtualServerSpec | None) -> list[Effect]:
        """What a reload does to this (old) virtual server, as keepalived 2.2.7's clear_diff_services:
        dropped (`new` None: `Removing Virtual Server [...]` / `Removing Virtual Server Group [G]`,
        every real server in the table removed), or kept with the real servers the new file drops
        (`service X no longer exist` each) and a sorry server it drops or changes. A real server
        removed from the table logs `Removing [(inhibited) ]service X from VS Y`; a live one also
        runs its notify_down, writes its FIFO line and sends its smtp_alert (`=> Removing <=`); then
        the quorum_down notifies if the pool lost its quorum (update_vs_notifies)."""
        fx: list[Effect] = []
        if new is None:
            fx.append(LogLine(f"Removing Virtual Server Group [{self.spec.group}]" if self.spec.group
                              else f"Removing Virtual Server {self.fmt}"))
            gone = list(self.rs)
        else:
            kept = {(r.addr, r.port) for r in new.real_servers}
            gone = [r for r in self.rs if (r.spec.addr, r.spec.port) not in kept]
        for r in gone:
            if new is not None:
                fx.append(LogLine(f"service {r.fmt} no longer exist"))
            if r.alive or r.inhibit:  # in the table (an inhibited one with weight 0)
                shown = "(inhibited) " if r.inhibit and not r.alive else ""
                fx.append(LogLine(f"Removing {shown}service {r.fmt} from VS {self.fmt}"))
            if r.alive:
                r.alive = False
                self._rs_notifies(r, fx)
                if r.spec.smtp_alert:
                    fx.append(CheckerMail(self.fmt, r.fmt, "DOWN", REMOVING_BODY))
        if new is not None and self.sorry_alive and self.spec.sorry_server is not None and (
                new.sorry_server is None or (new.sorry_server.addr, new.sorry_server.port)
                != (self.spec.sorry_server.addr, self.spec.sorry_server.port)):
            fx.append(LogLine(f"Removing sorry server {self.sorry_fmt} from VS {self.fmt}"))
            self.sorry_alive = False
        total, (_, down_t) = self.weight_sum(), self._thresholds()
        if gone and self.quorum_up and (total == 0 or total < down_t):
            self.quorum_up = False
            self._vs_notifies(fx, down_t, total)
        return fx

    # -- internals -------------------------------------------------------------------------------
    def _set_alive(self, r: RealServerState, alive: bool, fx: list[Effect]) -> None:
        if alive:
            verb = "Enabling" if r.inhibit else "Adding"
            fx.append(LogLine(f"{verb} service {r.fmt} to VS {self.fmt}"))
        else:
            verb = "Disabling" if r.inhibit else "Removing"
            fx.append(LogLine(f"{verb} service {r.fmt} from VS {self.fmt}"))
        r.alive = alive
        self._rs_notifies(r, fx)
        self._update_quorum(fx)

    def _rs_notifies(self, r: RealServerState, fx: list[Effect]) -> None:
        """ipwrapper.c do_rs_notifies: the notify_up / notify_down script and the FIFO `RS` line."""
        script = r.spec.notify_up if r.alive else r.spec.notify_down
        if script:
            fx.append(LogLine(f"Executing [{script}] for service {r.fmt} in VS {self.fmt}"))
            fx.append(RunScript(script))
        fx.append(FifoLine(f"RS {r.fmt} {self.fmt} {'UP' if r.alive else 'DOWN'}"))
        fx.append(self._trap(r))

    def _trap(self, r: RealServerState | None, quorum: int = 0) -> StateTrap:
        return StateTrap(self.spec, r.spec if r is not None else None, bool(r and r.alive),
                         sum(1 for x in self.rs if x.alive), len(self.rs), quorum)

    def _update_quorum(self, fx: list[Effect]) -> None:
        total = self.weight_sum()
        up_t, down_t = self._thresholds()
        s = self.spec
        if not self.quorum_up and total >= up_t:
            self.quorum_up = True
            fx.append(LogLine(f"Gained quorum {s.quorum}+{s.hysteresis}={up_t} <= {total} for VS {self.fmt}"))
            if s.sorry_server is not None and self.sorry_alive:
                verb = "Disabling" if s.sorry_server_inhibit else "Removing"
                fx.append(LogLine(f"{verb} sorry server {self.sorry_fmt} from VS {self.fmt}"))
                self.sorry_alive = False
                fx.append(LogLine(f"Adding alive servers to the pool for VS {self.fmt}"))
            self._vs_notifies(fx, up_t, total)
        elif self.quorum_up and (total == 0 or total < down_t):
            self.quorum_up = False
            fx.append(LogLine(f"Lost quorum {s.quorum}-{s.hysteresis}={down_t} > {total} for VS {self.fmt}"))
            self._quorum_lost_actions(fx)
            self._vs_notifies(fx, down_t, total)

    def _vs_notifies(self, fx: list[Effect], threshold: int, total: int, init: bool = False) -> None:
        """ipwrapper.c do_vs_notifies: quorum_up/quorum_down, the FIFO line, the smtp_alert."""
        s = self.spec
        state = "UP" if self.quorum_up else "DOWN"
        fx.append(self._trap(None, 1 if self.quorum_up else 2))  # check_snmp_quorum_trap, first
        script = s.quorum_up if self.quorum_up else s.quorum_down
        if script:
            fx.append(LogLine(f"Executing [{script}] for VS {self.fmt}"))
            fx.append(RunScript(script))
        fx.append(FifoLine(f"VS {self.fmt} {state}"))
        if s.smtp_alert:
            fx.append(CheckerMail(self.fmt, None, state, quorum_body(
                self.quorum_up, init, s.quorum, s.hysteresis, threshold, total)))

    def _quorum_lost_actions(self, fx: list[Effect], initial: bool = False) -> None:
        s = self.spec
        if s.sorry_server is None:
            return
        verb = "Enabling" if s.sorry_server_inhibit else "Adding"
        fx.append(LogLine(f"{verb} sorry server {self.sorry_fmt} to VS {self.fmt}"))
        self.sorry_alive = True
        if any(r.alive for r in self.rs) and not initial:
            fx.append(LogLine(f"Removing alive servers from the pool for VS {self.fmt}"))


def checker_start_down(spec: VirtualServerSpec,
                       timings: dict[tuple[int, int], Timing]) -> dict[int, set[int]]:
    """Checkers configured with alpha start down: RS index → checker ids (ids as in `timings` keys)."""
    out: dict[int, set[int]] = {}
    for (ri, ci), t in timings.items():
        if t.alpha:
            out.setdefault(ri, set()).add(ci)
    return out


def checks_of(spec: VirtualServerSpec) -> list[tuple[int, int, CheckSpec]]:
    """(rs index, checker id within the RS, spec) for every checker of a virtual server."""
    return [(ri, ci, c) for ri, r in enumerate(spec.real_servers) for ci, c in enumerate(r.checks)]
