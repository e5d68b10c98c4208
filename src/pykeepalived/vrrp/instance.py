# Theory of operation
# -------------------
# One VRRP router for one virtual router (RFC 3768 §6.4 / RFC 5798 §6.4), behaving as keepalived
# 2.2.7 does (keepalived.md §5.2-5.6). Sans-I/O: every input takes `now` (integer µs, monotonic)
# and returns the effects to perform in order; `next_deadline()` says when `handle_timer()` must be
# called next. Nothing here reads a clock, a socket or a random source.
#
# Like keepalived, an instance has ONE protocol timer, `sands` (keepalived's vrrp->sands): in BACKUP
# it is the Master_Down_Timer, in MASTER the Adver_Timer, and it is disabled in INIT and FAULT.
# `ms_down_timer` is the length last armed for BACKUP (keepalived's vrrp->ms_down_timer), which
# matters because a priority change shifts `sands` by the change of ms_down_timer.
# `wantstate` is the state the instance would be in disregarding its sync group.
# Delayed GARP bursts (garp_master_delay, garp_lower_prio_delay) are separate one-shot timers that,
# as in keepalived, only send if the addresses are still set when they fire.
#
# Inputs and keepalived counterparts:
#   start(now)                    vrrp_scheduler.c vrrp_init_state + vrrp_init_sands
#   on_packet(rx, now)            vrrp_dispatcher_read → vrrp_state_backup / vrrp_state_master_rx
#   handle_timer(now)             vrrp_dispatcher_read_timeout (+ the GARP timer threads)
#   set_tracker / set_link /
#   set_source_address            down_instance / try_up_instance / vrrp_set_effective_priority
#   shutdown(now)                 restore_vrrp_interfaces + notify_shutdown
# Every state change goes through `_set_state`, which logs keepalived's text and emits StateChanged.
"""The VRRP instance state machine (keepalived-compatible)."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING

from pykeepalived.vrrp import garp_extra
from pykeepalived.vrrp.effects import (
    AUTH_ERRORS,
    NOTIFIED_STATES,
    PROTO_ERR_REASONS,
    ClaimAddresses,
    Effect,
    GarpReason,
    Log,
    LogLevel,
    MasterIntervalLowered,
    MasterReason,
    Notify,
    Reason,
    ReleaseAddresses,
    RxRejected,
    SendGratuitous,
    State,
    StateChanged,
    Transmit,
)
from pykeepalived.vrrp.packet import VRRP_MCAST_GROUP4, VRRP_MCAST_GROUP6, Advertisement, RxPacket
from pykeepalived.vrrp.params import SEC, AuthType, InstanceParams, IPAddress
from pykeepalived.vrrp.receive import RxResult, RxState, RxVerdict, check_packet
from pykeepalived.vrrp.timers import (
    CSEC,
    MSEC,
    format_seconds,
    master_down_interval,
    skew_time,
    skew_time_min,
)
from pykeepalived.vrrp.tracking import PRIO_OWNER, Tracking, TrackValue

if TYPE_CHECKING:
    from pykeepalived.vrrp.sync_group import SyncGroup

PRIO_STOP = 0

STAT_NAMES = (
    "advert_rcvd",
    "advert_sent",
    "become_master",
    "release_master",
    "packet_len_err",
    "advert_interval_err",
    "ip_ttl_err",
    "invalid_type_rcvd",
    "addr_list_err",
    "invalid_authtype",
    "authtype_mismatch",
    "auth_failure",
    "pri_zero_rcvd",
    "pri_zero_sent",
)
"""keepalived's per-instance stats counters (vrrp_data.c dump / SNMP), all present from the start."""

def addr_cmp(a: IPAddress, b: IPAddress | None) -> int:
    """keepalived vrrp_saddr_cmp: compare as unsigned big-endian integers (0 if unknown/mixed)."""
    if b is None or a.version != b.version:
        return 0
    ia, ib = int(a), int(b)
    return (ia > ib) - (ia < ib)


class VrrpInstance:
    """One keepalived `vrrp_instance`.

    Construct with the resolved `InstanceParams`; set tracker values known at start-up with
    `set_tracker` (they are only recorded while INIT), then call `start(now)`. Afterwards feed every
    received datagram for this VRID to `on_packet`, call `handle_timer(now)` at `next_deadline()`,
    and report tracker, link and source-address changes. Each call returns the effects to perform.
    """

    def __init__(self, params: InstanceParams) -> None:
        self.params = params
        self.name = params.name
        self.state = State.INIT
        self.wantstate = State.MASTER if params.wants_master else State.BACKUP
        self.tracking = Tracking(params.base_priority, params.tracks, link_up=True, has_source=True,
                                 config_fault=params.config_fault)
        self.base_priority = params.base_priority
        self.total_priority = params.base_priority
        self.effective_priority = params.base_priority
        self.adver_int_us = params.adver_int_us
        self.master_adver_int_us = params.adver_int_us
        self.ms_down_timer = 0
        self.sands: int | None = None
        self.preempt_time: int | None = None
        self.master_saddr: IPAddress | None = None
        self.master_priority = 0
        self.own_src: IPAddress | None = params.src_ip
        self.vipset = False
        self.garp_refresh_timer: int | None = None
        self.extra_garp_timer: int | None = None  # garp_extra_if (vrrp/garp_extra.py)
        self._tx_timers = bool(params.garp_master_refresh_us or params.garp_extra_if_us)
        self.pending_garps: list[tuple[int, int, GarpReason]] = []
        self.fault_count = 0
        self.faults: list[str] = []
        self.rx_state = RxState()
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        # RFC 6527 vrrpv3StatisticsNewMasterReason as keepalived 2.2.7 keeps it: the reason the next
        # take-over will have (set while BACKUP), copied when going MASTER and kept after leaving it
        self.master_reason = MasterReason.NOT_MASTER
        self.next_master_reason = MasterReason.MASTER_NO_RESPONSE
        self.proto_err_reason = 0  # RFC 6527 vrrpv3StatisticsProtoErrReason: the last rejected advert's
        self.sync: SyncGroup | None = None
        self.notifies_sent = False
        self.reload_master = False  # MASTER carried over by a reload, until it starts (carry_over)
        self.delayed_start_until: int | None = None
        self.counted_init = False  # counted in the sync group's num_member_init
        self.quiet_init_fault = False  # FAULT while unweighted trackers have not reported (no log/notify)
        self.last_transition: int | None = None
        self.notify_priority_changes = params.notify_priority_changes
        self._unicast = params.is_unicast
        if params.unicast_peers:
            self._dsts: tuple[IPAddress, ...] = tuple(p.address for p in params.unicast_peers)
        elif params.mcast_group is not None:
            self._dsts = (params.mcast_group,)
        else:
            self._dsts = (VRRP_MCAST_GROUP4,) if params.family == 4 else (VRRP_MCAST_GROUP6,)
        self._ttl = params.unicast_ttl if self._unicast else 255
        self._adverts: dict[int, Advertisement] = {}
        self._transmits: dict[int, Transmit] = {}

    # ------------------------------------------------------------------ queries

    @property
    def is_owner(self) -> bool:
        return self.base_priority == PRIO_OWNER

    def skew_time(self) -> int:
        """Skew_Time for the current effective priority and Master_Adver_Interval (µs)."""
        return skew_time(self.params.version, self.effective_priority, self.master_adver_int_us)

    def master_down_interval(self) -> int:
        """keepalived VRRP_MS_DOWN_TIMER (µs)."""
        return master_down_interval(
            self.params.version,
            self.effective_priority,
            self.master_adver_int_us,
            self.params.down_timer_adverts,
        )

    def next_deadline(self) -> int | None:
        """The earliest time `handle_timer` must run, or None when nothing is armed."""
        when = self.sands
        for t, _rep, _why in self.pending_garps:
            if when is None or t < when:
                when = t
        return when

    # ------------------------------------------------------------------ helpers

    def _log(self, out: list[Effect], text: str, level: LogLevel = LogLevel.INFO) -> None:
        out.append(Log(level, f"({self.name}) {text}"))

    def _advert(self, priority: int) -> Advertisement:
        adv = self._adverts.get(priority)
        if adv is None:
            p = self.params
            if p.version == 2:
                auth_data = p.auth_pass if p.auth_type == AuthType.PASS else bytes(8)
                adv = Advertisement(
                    version=2,
                    vrid=p.vrid,
                    priority=priority,
                    adver_int=self.adver_int_us // SEC,
                    addresses=p.vips,
                    auth_type=int(p.auth_type),
                    auth_data=auth_data,
                )
            else:
                adv = Advertisement(
                    version=3,
                    vrid=p.vrid,
                    priority=priority,
                    adver_int=self.adver_int_us // CSEC,
                    addresses=p.vips,
                )
            self._adverts[priority] = adv
        return adv

    def _send_adv(self, out: list[Effect], priority: int) -> None:
        """keepalived vrrp_send_adv."""
        # one Transmit per priority, reused every interval while the source stays the same (the send
        # path caches the encoded datagram per Transmit)
        tx = self._transmits.get(priority)
        if tx is None or tx.src is not self.own_src:
            tx = Transmit(self.name, self._advert(priority), self.own_src, self._dsts, self._ttl, priority)
            self._transmits[priority] = tx
        out.append(tx)
        self.stats["advert_sent"] += 1

    def _send_link_update(self, out: list[Effect], repeat: int, reason: GarpReason) -> None:
        """keepalived vrrp_send_link_update: only while the VIPs are set."""
        if not self.vipset or repeat <= 0:
            return
        addrs = self.params.vips + self.params.evips
        if addrs:
            out.append(SendGratuitous(self.name, addrs, repeat, reason))

    def _notify(self, out: list[Effect]) -> None:
        """keepalived send_instance_notifies (suppressed when merely following the sync group)."""
        if self.notifies_sent and self.sync is not None and self.state == self.sync.state:
            return
        self.notifies_sent = True
        if self.state in NOTIFIED_STATES:
            out.append(Notify("INSTANCE", self.name, self.state.word, self.effective_priority))

    def _set_state(
        self, out: list[Effect], new: State, now: int, reason: Reason, text: str | None = None
    ) -> None:
        """The one place the state changes: log keepalived's text, reset log rate limits, report."""
        if text is not None:
            self._log(out, text)
        old = self.state
        if new == old:
            return
        self.state = new
        self.last_transition = now
        out.append(StateChanged(self.name, old, new, self.effective_priority, reason))

    def _init_instance_sands(self, now: int) -> None:
        """keepalived vrrp_init_instance_sands."""
        if self.state == State.MASTER:
            self.sands = now if self.reload_master else now + self.adver_int_us
        elif self.state == State.BACKUP:
            start = self.delayed_start_until
            if start is not None and now < start:
                self.sands = start + self.ms_down_timer
            else:
                self.delayed_start_until = None
                self.sands = now + self.ms_down_timer
        else:
            self.sands = None

    # ------------------------------------------------------------------ start / stop

    def start(self, now: int) -> list[Effect]:
        """Leave INIT (keepalived vrrp_init_state): BACKUP (init), FAULT (init), or owner fast path.

        At a reload the instance may start in the state it carried over (`carry_over`): a MASTER
        that is still up stays MASTER and advertises at once; a BACKUP stays BACKUP with a full
        master down timer; neither logs nor notifies."""
        out: list[Effect] = []
        if self.params.startup_delay_us and self.delayed_start_until is None:
            self.delayed_start_until = now + self.params.startup_delay_us
        self._reevaluate_quietly()
        new_state = self.sync.state if self.sync is not None else self.wantstate
        is_up = self.fault_count == 0
        group_init = self.sync is not None and self.sync.num_member_init > 0
        if (self.reload_master and is_up and new_state == State.MASTER and self.wantstate == State.MASTER
                and not self.tracking.awaiting_first_result() and not group_init):
            pass  # keepalived's reload_master: it stays MASTER, its sands is now (an advert at once)
        elif is_up and new_state == State.MASTER and self.is_owner and self.wantstate == State.MASTER:
            # "The simplest way to become master is to timeout from the backup state very quickly"
            self.next_master_reason = MasterReason.PREEMPTED
            self.state = State.BACKUP
            self.ms_down_timer = 1
            out.append(
                StateChanged(self.name, State.INIT, State.BACKUP, self.effective_priority, Reason.OWNER_START)
            )
        else:
            self.next_master_reason = MasterReason.MASTER_NO_RESPONSE
            if self.vipset:  # a MASTER carried over by a reload that may not stay MASTER
                self._restore_interface(out, adv_f=False)
            else:
                out.append(ReleaseAddresses(self.name, self.params.vips, self.params.evips, init=True))
            if new_state == State.BACKUP and self.wantstate == State.MASTER:
                # allow one advert interval to pass to ensure there is no other master
                self.ms_down_timer = self.master_adver_int_us + skew_time_min(
                    self.params.version, self.master_adver_int_us
                )
            else:
                self.ms_down_timer = self.master_down_interval()
            if self.state == State.FAULT:
                pass  # already reported by enter_init_fault (keepalived: no "(init)" line then)
            elif is_up and group_init and new_state != State.FAULT:
                # another member's scripts have not reported yet: wait quietly with the group
                self._set_state(out, State.FAULT, now, Reason.INIT)
            elif is_up and new_state != State.FAULT:
                if self.state != State.BACKUP:  # a BACKUP carried over by a reload says nothing
                    self._set_state(out, State.BACKUP, now, Reason.INIT, "Entering BACKUP STATE (init)")
                    self._notify(out)
            elif "socket" in self.faults:
                # keepalived open_sockpool_socket: the bind failed, down_instance before the start
                text = f"({self.name}): entering FAULT state (src address not configured)"
                out.append(Log(LogLevel.INFO, text))
                self._set_state(out, State.FAULT, now, Reason.INIT, "Entering FAULT STATE")
                self._notify(out)
            elif self.faults == ["config"]:
                # keepalived: num_config_faults only: FAULT and its notifies, without a log line
                self._set_state(out, State.FAULT, now, Reason.INIT)
                self._notify(out)
            elif self.tracking.awaiting_first_result() and self.faults_are_unknown_only():
                # keepalived: an instance whose unweighted scripts have not reported yet waits quietly;
                # the first results decide (Entering BACKUP STATE, or FAULT) with their notifies.
                self._set_state(out, State.FAULT, now, Reason.INIT)
                self.quiet_init_fault = True
            else:
                out += self.init_fault_lines()
                self.enter_init_fault(out, now)
        self._init_instance_sands(now)
        self.reload_master = False
        return out

    def init_fault_lines(self, phase: str | None = None) -> list[Effect]:
        """keepalived initialise_tracking_priorities: one line per cause holding us in FAULT at start.

        keepalived logs them per tracker kind across all instances ("interface", "file", "process"),
        then per instance ("instance": missing source address, failed scripts); None = all phases.
        A script that has not reported yet is no cause (keepalived's num_script_init).
        """
        self._reevaluate_quietly()
        out: list[Effect] = []
        phases = ("interface", "file", "process", "instance") if phase is None else (phase,)
        weights = {(t.kind, t.name): t for t in self.tracking.tracks}
        n = self.name
        for ph in phases:
            lines: list[str] = []
            for fault in self.faults:
                kind, _, name = fault.partition(" ")
                value = self.tracking.values.get((kind, name))
                if ph == "interface" and kind == "interface":
                    ifname = name or self.params.interface
                    lines.append(f"({n}): entering FAULT state (interface {ifname} down)")
                elif ph == "file" and kind == "file" and value is not None:
                    t = weights[kind, name]
                    status = -254 if t.weight == 0 else int(value) * t.weight * (-1 if t.reverse else 1)
                    lines.append(f"({n}): entering FAULT state (tracked file {name} has status {status})")
                elif ph == "process" and kind == "process" and value is not None:
                    lines.append(f"({n}) entering FAULT state (tracked process {name} quorum not achieved)")
                elif ph == "instance" and kind == "address":
                    fam = self.params.family
                    lines.append(f"({n}) entering FAULT state (no IPv{fam} address for interface)")
            if ph == "instance":
                for fault in self.faults:
                    kind, _, name = fault.partition(" ")
                    if kind == "script" and self.tracking.values.get((kind, name)) is not None:
                        lines.append(f"({n}): entering FAULT state due to script {name}")
                if not self.is_owner and self.effective_priority != self.base_priority:
                    # vrrp_set_effective_priority at the end of initialise_vrrp_tracking_priorities
                    lines.append(f"({n}) Changing effective priority from {self.base_priority} to "
                                 f"{self.effective_priority}")
            out += [Log(LogLevel.INFO, line) for line in lines]
        return out

    def has_init_fault(self) -> bool:
        """Faulted at start by a known cause (not merely a script that has not reported yet)."""
        self._reevaluate_quietly()
        return (self.fault_count > 0 and not self.faults_are_unknown_only()
                and not set(self.faults) & {"config", "socket"})

    def enter_init_fault(self, out: list[Effect], now: int, quiet: bool = False) -> None:
        """keepalived vrrp_complete_init: `(VI) entering FAULT state` and the FAULT notifies, before
        vrrp_init_state (so no `Entering FAULT STATE (init)` line follows). `quiet`: a reload found
        the instance in FAULT already, so it neither logs nor notifies again."""
        if self.state != State.INIT:
            return
        if not quiet:
            self._log(out, "entering FAULT state")
        self._set_state(out, State.FAULT, now, Reason.INIT)
        if quiet:
            self.notifies_sent = True
        else:
            self._notify(out)

    def shutdown(self, now: int, release: bool = True) -> list[Effect]:
        """VRRP process stopping: a MASTER sends priority 0 and releases; every instance notifies STOP.

        `release` False (--dont-release-vrrp): a MASTER keeps its addresses and sends no priority 0.
        """
        out: list[Effect] = []
        if self.state == State.MASTER and release:
            self._restore_interface(out, adv_f=True)
        self.vipset = False
        self._set_state(out, State.STOP, now, Reason.SHUTDOWN)
        out.append(Notify("INSTANCE", self.name, "STOP", self.effective_priority))
        self.sands = None
        self.pending_garps.clear()
        return out

    # ------------------------------------------------------------------ reload

    def reload_advert(self) -> list[Effect]:
        """SIGHUP (keepalived sigreload_vrrp): a MASTER sends one advert before the reload."""
        out: list[Effect] = []
        if self.state == State.MASTER:
            self._send_adv(out, self.effective_priority)
        return out

    def send_garp(self, now: int) -> list[Effect]:
        """One round of GARPs/NAs for the VIPs and eVIPs, if they are set (keepalived's DBus SendGarp:
        vrrp_send_link_update(vrrp, 1)); nothing otherwise."""
        out: list[Effect] = []
        self._send_link_update(out, 1, GarpReason.REQUEST)
        return out

    def delete(self, now: int, notify_deleted: bool) -> list[Effect]:
        """A reload dropped the instance (keepalived clear_diff_vrrp): a MASTER sends priority 0 and
        releases its addresses; the notify is DELETED with notify_deleted, else FAULT, and none for
        an instance that is in FAULT already without notify_deleted."""
        out: list[Effect] = []
        if self.state == State.MASTER:
            self._restore_interface(out, adv_f=True)
        event = "DELETED" if notify_deleted else "FAULT" if self.state != State.FAULT else None
        self.vipset = False
        self._set_state(out, State.STOP, now, Reason.SHUTDOWN)
        if event is not None:
            out.append(Notify("INSTANCE", self.name, event, self.effective_priority))
        self.sands = None
        self.pending_garps.clear()
        return out

    def carry_over(self, old: VrrpInstance) -> None:
        """A reload replaced `old` by this instance (the same VRID, family, interface...: keepalived
        vrrp_exist). As keepalived's vrrp_complete_init and restore_vrrp_state: the state (MASTER or
        BACKUP) carries over unless either is in FAULT or a script has not reported yet; the
        counters, the AH sequence number and whether the VIPs are set carry over too. Call after
        the fault check (`enter_init_fault`), before `restore_addresses` and `start`."""
        self.stats = dict(old.stats)
        # keepalived keeps the stats structure, the RFC 6527 reasons with it
        self.master_reason, self.next_master_reason = old.master_reason, old.next_master_reason
        self.proto_err_reason = old.proto_err_reason
        self.rx_state.ah_seq_number = old.rx_state.ah_seq_number
        self.rx_state.ah_cycle = old.rx_state.ah_cycle
        self.vipset = old.vipset
        if (old.state in (State.MASTER, State.BACKUP) and self.state != State.FAULT
                and not self.tracking.awaiting_first_result()):
            self.state = self.wantstate = old.state
        self.reload_master = self.state == State.MASTER
        if self.reload_master:
            # a new instance's timers are unset: both periodic GARPs are due at the first advert
            if self.params.garp_master_refresh_us:
                self.garp_refresh_timer = 0
            if self.params.garp_extra_if_us:
                self.extra_garp_timer = 0

    def restore_addresses(self, out: list[Effect], now: int, added: bool) -> None:
        """keepalived restore_vrrp_state: with its VIPs set, an instance carried over by a reload sets
        its VIPs, eVIPs, virtual routes and rules again (those already there stay untouched); when
        that `added` addresses, one garp_master_repeat round announces them all and the GARP refresh
        timer restarts."""
        if not self.vipset:
            return
        p = self.params
        out.append(ClaimAddresses(self.name, p.vips, p.evips))  # those set already stay
        if added:
            self._send_link_update(out, p.garp_master_repeat, GarpReason.MASTER)
            if p.garp_master_refresh_us:
                self.garp_refresh_timer = now + p.garp_master_refresh_us

    # ------------------------------------------------------------------ master side

    def _goto_master(self, out: list[Effect], now: int, reason: Reason) -> None:
        """keepalived vrrp_state_goto_master."""
        if self.sync is not None and not self.sync.can_goto_master(self, now):
            self.wantstate = State.MASTER
            return
        self.master_reason = self.next_master_reason
        self._send_adv(out, self.effective_priority)
        self._set_state(out, State.MASTER, now, reason, "Entering MASTER STATE")
        self._init_instance_sands(now)
        self._become_master(out, now)
        if self.params.garp_master_delay_us:
            self.pending_garps.append(
                (
                    now + self.params.garp_master_delay_us,
                    self.params.garp_master_repeat,
                    GarpReason.MASTER_DELAY,
                )
            )

    def _become_master(self, out: list[Effect], now: int) -> None:
        """keepalived vrrp_state_become_master."""
        self.stats["become_master"] += 1
        if self.params.version == 3 and self.master_adver_int_us != self.adver_int_us:
            self._log(
                out,
                f"changing advert interval from {self.master_adver_int_us // MSEC}ms to locally "
                f"configured {self.adver_int_us // MSEC}ms",
                LogLevel.DETAIL,
            )
        self.master_adver_int_us = self.adver_int_us
        if self.params.vips or self.params.evips:
            out.append(ClaimAddresses(self.name, self.params.vips, self.params.evips))
        self.vipset = True
        self._send_link_update(out, self.params.garp_master_repeat, GarpReason.MASTER)
        if self.params.garp_master_refresh_us:
            self.garp_refresh_timer = now + self.params.garp_master_refresh_us
        if self.params.garp_extra_if_us:
            garp_extra.arm(self, now)
        self._notify(out)

    def _master_tx(self, out: list[Effect], now: int) -> None:
        """keepalived vrrp_state_master_tx: the periodic advert (+ GARP refresh when due)."""
        self._send_adv(out, self.effective_priority)
        if self._tx_timers:  # one test on the advert path for both periodic GARP timers
            self._master_tx_timers(out, now)

    def _master_tx_timers(self, out: list[Effect], now: int) -> None:
        refresh = self.params.garp_master_refresh_us
        if refresh and self.garp_refresh_timer is not None and now > self.garp_refresh_timer:
            self._send_link_update(out, self.params.garp_master_refresh_repeat, GarpReason.REFRESH)
            self.garp_refresh_timer = now + refresh
        if self.params.garp_extra_if_us:
            garp_extra.on_master_tx(self, out, now)

    def _restore_interface(self, out: list[Effect], adv_f: bool) -> None:
        """keepalived vrrp_restore_interface."""
        if adv_f:
            self._send_adv(out, PRIO_STOP)
            self.stats["pri_zero_sent"] += 1
            self._log(out, "sent 0 priority", LogLevel.DETAIL)
        if self.vipset:
            if self.params.vips or self.params.evips:
                out.append(ReleaseAddresses(self.name, self.params.vips, self.params.evips))
            self.vipset = False

    def _leave_master(self, out: list[Effect], now: int, adv_f: bool, reason: Reason) -> None:
        """keepalived vrrp_state_leave_master (wantstate BACKUP or FAULT)."""
        if self.wantstate == State.BACKUP:
            text = "Entering BACKUP STATE"
            self.preempt_time = None
        else:
            text = "Entering FAULT STATE"
        self._log(out, text)
        if self.wantstate == State.FAULT:
            self._send_adv(out, PRIO_STOP)
        self._restore_interface(out, adv_f)
        self._set_state(out, self.wantstate, now, reason)
        self._notify(out)
        self.ms_down_timer = self.master_down_interval()
        self._init_instance_sands(now)
        self.stats["release_master"] += 1

    def _leave_fault(self, out: list[Effect], now: int, reason: Reason, log: bool = True) -> None:
        """keepalived vrrp_state_leave_fault (also used to enter FAULT from BACKUP/INIT).

        `log=False` reproduces vrrp_sync_fault's "bodge" (state already set to FAULT, so no
        "Entering FAULT STATE" line is logged for a BACKUP member the group drags into FAULT).
        """
        if self.wantstate == State.MASTER:
            self._goto_master(out, now, reason)
        else:
            text = None
            if self.state != self.wantstate and log:
                text = "Entering BACKUP STATE" if self.wantstate == State.BACKUP else "Entering FAULT STATE"
            if self.wantstate == State.FAULT and self.state == State.MASTER:
                if text is not None:
                    self._log(out, text)
                    text = None
                self._send_adv(out, PRIO_STOP)
                self._restore_interface(out, adv_f=False)
            self._set_state(out, self.wantstate, now, reason, text)
            self._notify(out)
            if self.state == State.BACKUP:
                self.preempt_time = None
        self.master_adver_int_us = self.adver_int_us
        self.ms_down_timer = self.master_down_interval()
        self._init_instance_sands(now)

    # ------------------------------------------------------------------ timers

    def handle_timer(self, now: int) -> list[Effect]:
        """Run whatever is due at `now` (Master_Down_Timer, Adver_Timer, delayed GARP bursts)."""
        out: list[Effect] = []
        self.run_timer(out, now)
        return out

    def run_timer(self, out: list[Effect], now: int) -> None:
        """`handle_timer`, appending the effects to `out` (the engine serves many instances at once)."""
        if self.pending_garps:
            due = [g for g in self.pending_garps if g[0] <= now]
            if due:
                self.pending_garps = [g for g in self.pending_garps if g[0] > now]
                for _t, rep, why in due:
                    self._send_link_update(out, rep, why)
        sands = self.sands
        if sands is not None and sands <= now:
            prev = self.state
            if prev is State.MASTER and self.sync is None:
                # the steady state, kept short: vrrp_state_master_tx, then vrrp_init_instance_sands
                self._master_tx(out, now)
                self.sands = now + self.adver_int_us
                return
            if self.state == State.BACKUP:
                self._log(out, "Receive advertisement timeout", LogLevel.DETAIL)
                self.wantstate = State.MASTER
                self._goto_master(out, now, Reason.MASTER_DOWN_TIMER)
            elif self.state == State.MASTER:
                self._master_tx(out, now)
            self._tsm(out, prev, now)
            self._init_instance_sands(now)

    def _tsm(self, out: list[Effect], prev: State, now: int) -> None:
        """keepalived VRRP_TSM_HANDLE."""
        if self.sync is not None:
            self.sync.tsm_handle(out, prev, self, now)

    # ------------------------------------------------------------------ receive

    def in_startup_delay(self, now: int) -> bool:
        return self.delayed_start_until is not None and now < self.delayed_start_until

    def on_packet(self, rx: RxPacket, now: int) -> list[Effect]:
        """Process one received datagram for this VRID (keepalived vrrp_dispatcher_read)."""
        out: list[Effect] = []
        if self.state not in (State.BACKUP, State.MASTER) or self.in_startup_delay(now):
            return out
        own = self.own_src
        if own is None:
            own = IPv4Address(0) if self.params.family == 4 else IPv6Address(0)
        verdict = check_packet(
            self.params,
            self.rx_state,
            rx,
            own_src=own,
            is_master=self.state == State.MASTER,
            current_master=self.master_saddr,
            effective_priority=self.effective_priority,
        )
        self._apply_verdict(out, verdict, rx.src)
        if verdict.result is RxResult.OK and verdict.advert is not None:
            self.process_advert(out, verdict.advert, rx.src, now)
        # A rejected or dropped datagram is only counted and logged. keepalived 2.2.7 re-arms the
        # timer after it as after an advert (vrrp_dispatcher_read → vrrp_init_instance_sands): a
        # MASTER's Adver_Timer restarts from now, so junk arriving more often than advert_int keeps
        # the master silent and the backup takes over (issue 20; docs/vrrp.md "Junk").
        return out

    def _apply_verdict(self, out: list[Effect], verdict: RxVerdict, src: IPAddress) -> None:
        for c in verdict.counters:
            self.stats[c] = self.stats.get(c, 0) + 1
        # keepalived 2.2.7 logs every occurrence (receive-log rate limiting came in later versions).
        for _key, text in verdict.logs:
            out.append(Log(LogLevel.INFO, text))
        if verdict.result is RxResult.KO and verdict.counters:
            c = verdict.counters[-1]
            if (reason := PROTO_ERR_REASONS.get(c)) is not None:
                self.proto_err_reason = reason
            if reason is not None or c in AUTH_ERRORS:
                out.append(RxRejected(self.name, c, src))

    def process_advert(self, out: list[Effect], adv: Advertisement, src: IPAddress, now: int) -> None:
        """Apply an advert that passed the receive checks in BACKUP or MASTER (RFC 5798 §6.4.2,
        §6.4.3), then re-arm the timer as keepalived does after it."""
        prev = self.state
        if self.state == State.BACKUP:
            self._backup_rx(out, adv, src, now)
        elif self.state == State.MASTER:
            if self._master_rx(out, adv, src, now):
                self._leave_master(out, now, adv_f=False, reason=Reason.HIGHER_PRIORITY)
        else:
            return
        self._tsm(out, prev, now)
        if self.state != State.MASTER or not self.params.lower_prio_no_advert:
            self._init_instance_sands(now)

    def _adopt_master_interval(self, out: list[Effect], adv: Advertisement) -> None:
        """RFC 5798 §6.4.2: a v3 backup sets Master_Adver_Interval from the master's advert."""
        if self.params.version != 3:
            return
        interval = (adv.adver_int & 0x0FFF) * CSEC
        if interval != self.master_adver_int_us:
            self._log(
                out,
                f"advertisement interval updated from {self.master_adver_int_us // MSEC}ms to "
                f"{interval // MSEC}ms by master",
                LogLevel.DETAIL,
            )
            if interval < self.master_adver_int_us:
                out.append(MasterIntervalLowered(self.name, interval))
            self.master_adver_int_us = interval

    def _backup_rx(self, out: list[Effect], adv: Advertisement, src: IPAddress, now: int) -> None:
        """keepalived vrrp_state_backup (RFC 5798 §6.4.2)."""
        p = self.params
        if adv.priority == PRIO_STOP:
            self._log(out, "Backup received priority 0 advertisement", LogLevel.DETAIL)
            self.ms_down_timer = self.skew_time()
            self.next_master_reason = MasterReason.PRIORITY
            return
        preempt_pending = p.preempt_delay_us > 0 and (self.preempt_time is None or self.preempt_time > now)
        if p.nopreempt or adv.priority >= self.effective_priority or preempt_pending:
            self._adopt_master_interval(out, adv)
            self.ms_down_timer = self.master_down_interval()
            self.master_saddr = src
            self.master_priority = adv.priority
            self.next_master_reason = MasterReason.MASTER_NO_RESPONSE
            if p.preempt_delay_us:
                if adv.priority >= self.effective_priority:
                    if self.preempt_time is not None:
                        self._log(out, "stop preempt delay", LogLevel.DETAIL)
                        self.preempt_time = None
                elif self.preempt_time is None:
                    self._log(
                        out, f"start preempt delay ({format_seconds(p.preempt_delay_us)})", LogLevel.DETAIL
                    )
                    self.preempt_time = now + p.preempt_delay_us
            self.wantstate = State.BACKUP
            return
        self._log(out, f"received lower priority ({adv.priority}) advert from {src} - discarding")
        self.next_master_reason = MasterReason.PREEMPTED
        self.master_saddr = src
        self._keep_down_timer(now)

    def _keep_down_timer(self, now: int) -> None:
        """An ignored advert must not move the down timer: re-arm to the same `sands`."""
        if self.sands is not None:
            self.ms_down_timer = max(0, self.sands - now)

    def _master_rx(self, out: list[Effect], adv: Advertisement, src: IPAddress, now: int) -> bool:
        """keepalived vrrp_state_master_rx (RFC 5798 §6.4.3); True = leave MASTER for BACKUP."""
        p = self.params
        cmp = addr_cmp(src, self.own_src)
        prio = adv.priority
        eff = self.effective_priority
        if prio == PRIO_STOP or (p.higher_prio_send_advert and (prio > eff or (prio == eff and cmp > 0))):
            self._send_adv(out, eff)
            if prio == PRIO_STOP:
                self._log(out, "Master received priority 0 message", LogLevel.DETAIL)
                return False
        if prio == eff:
            if cmp == 0:
                self._log(
                    out, "WARNING - equal priority advert received from remote host with our IP address."
                )
            elif eff == PRIO_OWNER:
                # keepalived 2.2.7: both claim to own the addresses; step our priority down.
                self._log(
                    out,
                    "CONFIGURATION ERROR: local instance and a remote instance are both configured as "
                    "address owner, please fix - reducing local priority",
                )
                self.effective_priority = eff = PRIO_OWNER - 1
                self.base_priority = PRIO_OWNER - 1
                self.tracking.base_priority = PRIO_OWNER - 1
        if prio < eff or (prio == eff and cmp < 0):
            suffix = "" if p.lower_prio_no_advert else ", forcing new election"
            self._log(out, f"Received advert from {src} with lower priority {prio}, ours {eff}{suffix}")
            if not p.lower_prio_no_advert:
                self._send_adv(out, eff)
            self._lower_prio_garp(out, now)
            if self.sync is not None:
                for other in self.sync.members:
                    if other is not self:
                        other._lower_prio_garp(out, now)
            out.append(Notify("INSTANCE", self.name, "MASTER_RX_LOWER_PRI", eff))
            return False
        if prio > eff or (prio == eff and cmp > 0):
            if prio > eff:
                self._log(out, f"Master received advert from {src} with higher priority {prio}, ours {eff}")
            else:
                self._log(
                    out,
                    f"Master received advert from {src} with same priority {prio} "
                    "but higher IP address than ours",
                )
            self._adopt_master_interval(out, adv)
            self.master_priority = prio
            self.wantstate = State.BACKUP
            return True
        return False

    def _lower_prio_garp(self, out: list[Effect], now: int) -> None:
        p = self.params
        if p.garp_lower_prio_repeat:
            self._send_link_update(out, p.garp_lower_prio_repeat, GarpReason.LOWER_PRIO)
            if p.garp_lower_prio_delay_us:
                self.pending_garps.append(
                    (now + p.garp_lower_prio_delay_us, p.garp_lower_prio_repeat, GarpReason.LOWER_PRIO_DELAY)
                )

    # ------------------------------------------------------------------ tracking

    def set_tracker(self, kind: str, name: str, value: TrackValue, now: int) -> list[Effect]:
        """A tracked script/interface/file/process/bfd changed (bool up/OK, or int for files)."""
        if not self.tracking.set(kind, name, value):
            return []
        return self._retrack(now)

    def set_link(self, up: bool, now: int) -> list[Effect]:
        """The instance's own interface went up/down (ignored with dont_track_primary)."""
        if self.params.dont_track_primary:
            return []
        self.tracking.link_up = up
        return self._retrack(now)

    def config_faulted(self) -> None:
        """Before start: a configuration fault found once every instance is known (keepalived
        check_vmac_conflicts' num_config_faults): held in FAULT for good, as `params.config_fault`."""
        self.params = dataclasses.replace(self.params, config_fault=True)
        self.tracking.config_fault = True
        self._reevaluate_quietly()

    def socket_unusable(self) -> None:
        """Before start: the receive socket could not be bound (keepalived open_sockpool_socket's
        bind failure, e.g. a unicast_src_ip the host does not have). The instance starts in FAULT
        and stays there: it never sends with a source address it does not own."""
        self.tracking.socket_fault = True
        self._reevaluate_quietly()

    def set_source_address(self, addr: IPAddress | None, now: int) -> list[Effect]:
        """The interface's primary address (our advert source) changed; None = no usable address."""
        if self.params.src_ip is None:
            self.own_src = addr
        self.tracking.has_source = addr is not None or self.params.src_ip is not None
        return self._retrack(now)

    def _reevaluate_quietly(self) -> None:
        total, faults = self.tracking.evaluate()
        self.total_priority = total
        self.effective_priority = self.tracking.effective_priority(total)
        self.faults = faults
        self.fault_count = len(faults)

    def _retrack(self, now: int) -> list[Effect]:
        out: list[Effect] = []
        if self.state in (State.INIT, State.STOP):
            self._reevaluate_quietly()
            return out
        total, faults = self.tracking.evaluate()
        was_faulted = self.fault_count > 0
        self.faults = faults
        self.fault_count = len(faults)
        if total != self.total_priority:
            self.total_priority = total
            self._set_effective_priority(out)
        leaving_init = False
        if self.quiet_init_fault and not self.tracking.awaiting_first_result():
            self.quiet_init_fault = False
            if self.counted_init and self.sync is not None:
                leaving_init = True
                self.counted_init = False
                self.sync.num_member_init -= 1
            if self.fault_count:  # the first results are failures: notify (already FAULT: no log line)
                self._notify(out)
                if leaving_init and self.sync is not None:  # keepalived down_instance
                    self.sync.num_member_fault += 1
                    if self.sync.num_member_fault == 1:
                        self.sync.fault(out, self, now)
                return out
        if self.fault_count and not was_faulted:
            self._down_instance(out, now)
        elif was_faulted and not self.fault_count:
            self._try_up_instance(out, now, leaving_init)
        return out

    def set_base_priority(self, prio: int) -> list[Effect]:
        """An SNMP set of vrrpInstanceBasePriority (keepalived vrrp_snmp_instance_priority): the
        tracked total moves by the change and the effective priority follows it (an address owner's
        effective priority stays, as in vrrp_set_effective_priority)."""
        out: list[Effect] = []
        self._log(out, f"base priority changed from {self.base_priority} to {prio} via SNMP.")
        self.total_priority += prio - self.base_priority
        self.base_priority = prio
        self.tracking.base_priority = prio
        self._set_effective_priority(out)
        return out

    def set_preempt(self, on: bool) -> list[Effect]:
        """An SNMP set of vrrpInstancePreempt (keepalived vrrp_snmp_instance_preempt)."""
        out: list[Effect] = []
        self._log(out, f"preemption {'enabled' if on else 'disabled'} with SNMP")
        self.params = dataclasses.replace(self.params, nopreempt=not on)
        return out

    def faults_are_unknown_only(self) -> bool:
        """Every current fault comes from a tracker that has not reported yet."""
        unknown = {f"{t.kind} {t.name}" for t in self.tracking.tracks
                   if t.weight == 0 and self.tracking.values.get((t.kind, t.name)) is None}
        return bool(self.faults) and set(self.faults) <= unknown

    def _set_effective_priority(self, out: list[Effect]) -> None:
        """keepalived vrrp_set_effective_priority: BACKUP shifts its down timer by the skew change."""
        if self.is_owner:
            return
        new_prio = self.tracking.effective_priority(self.total_priority)
        if new_prio == self.effective_priority:
            return
        self._log(out, f"Changing effective priority from {self.effective_priority} to {new_prio}")
        self.effective_priority = new_prio
        old_down_timer = self.ms_down_timer
        self.ms_down_timer = self.master_down_interval()
        if self.state == State.BACKUP and self.sands is not None:
            self.sands += self.ms_down_timer - old_down_timer
        if self.notify_priority_changes:
            event = "MASTER_PRIORITY" if self.state == State.MASTER else "BACKUP_PRIORITY"
            out.append(Notify("INSTANCE", self.name, event, new_prio))

    def _down_instance(self, out: list[Effect], now: int) -> None:
        """keepalived down_instance."""
        self.wantstate = State.FAULT
        if self.state == State.MASTER:
            self._leave_master(out, now, adv_f=True, reason=Reason.FAULT)
        else:
            self._leave_fault(out, now, Reason.FAULT)
        if self.sync is not None:
            self.sync.num_member_fault += 1
            if self.sync.num_member_fault == 1:
                self.sync.fault(out, self, now)

    def _try_up_instance(self, out: list[Effect], now: int, leaving_init: bool = False) -> None:
        """keepalived try_up_instance: all faults cleared."""
        owner_master = self.wantstate == State.MASTER and self.is_owner
        self.next_master_reason = MasterReason.PREEMPTED if owner_master else MasterReason.MASTER_NO_RESPONSE
        if not owner_master:
            self.wantstate = State.BACKUP
        self.master_adver_int_us = self.adver_int_us
        if owner_master:
            self.ms_down_timer = self.master_adver_int_us + self.skew_time()
        else:
            self.ms_down_timer = self.master_down_interval()
        if self.sync is not None:
            if not leaving_init:
                self.sync.num_member_fault -= 1
            if self.sync.num_member_fault or self.sync.num_member_init:
                return
        wantstate = self.wantstate
        if (
            self.sync is not None
            and self.wantstate == State.MASTER
            and not self.sync.can_goto_master(self, now)
        ):
            self.wantstate = State.BACKUP
        self._leave_fault(out, now, Reason.FAULT_CLEARED)
        if self._unicast and self.own_src is not None and self.params.interface is not None:
            self._log(
                out,
                f"sending gratuitous {'ARP' if self.params.family == 4 else 'NA'} for {self.own_src}",
                LogLevel.DETAIL,
            )
            out.append(SendGratuitous(self.name, (self.own_src,), 1, GarpReason.UNICAST_SOURCE))
        self._init_instance_sands(now)
        self.wantstate = wantstate
        if self.sync is not None:
            if self.state == State.MASTER:
                self.sync.master(out, self, now)
            else:
                self.sync.backup(out, self, now)
