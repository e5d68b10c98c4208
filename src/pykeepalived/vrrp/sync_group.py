# Theory of operation
# -------------------
# A keepalived vrrp_sync_group (keepalived.md §1.9; keepalived vrrp_sync.c, vrrp_scheduler.c
# VRRP_TSM): the member instances move together.
#
# * to MASTER only when every member wants MASTER (`can_goto_master`); a member whose down timer
#   fires while another still wants BACKUP records wantstate MASTER and re-arms a full master down
#   interval instead (prefer BACKUP to avoid thrashing);
# * one member leaving MASTER for BACKUP takes the others to BACKUP;
# * one member going to FAULT takes every other member to FAULT (`num_member_fault` counts the
#   members with faults of their own); the group leaves FAULT only when that count is back to 0.
#
# The transition matrix (keepalived's VRRP_TSM; rows = old state, columns = new state) is data:
#   B→M, M→M, F→M: sync_master;  M→B: sync_backup;  B→F, M→F are handled when the fault is raised
#   (`fault`), F→B when it clears (`backup`, from try_up_instance).
# Every group transition logs `VRRP_Group(NAME) Syncing instances to STATE state` and emits a
# GROUP notify with priority 0.
"""Sync groups: members of a vrrp_sync_group change state together."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pykeepalived.vrrp.effects import Effect, Log, LogLevel, Notify, Reason, State

if TYPE_CHECKING:
    from pykeepalived.vrrp.instance import VrrpInstance


class SyncGroup:
    """A vrrp_sync_group. Construct it with its member instances before they are started."""

    def __init__(self, name: str, members: list[VrrpInstance]) -> None:
        self.name = name
        self.members = list(members)
        self.state = State.INIT
        self.num_member_fault = 0
        self.num_member_init = 0
        for m in self.members:
            m.sync = self

    def start(self, now: int) -> list[Effect]:
        """keepalived vrrp_sync_set_group + the group part of vrrp_init_state (before the members)."""
        out: list[Effect] = []
        self.prepare()
        if self.state in (State.FAULT, State.BACKUP):
            self._notify(out)
        return out

    def prepare(self) -> None:
        """keepalived vrrp_sync_set_group and initialise_tracking_priorities: the group's state (MASTER
        only when every member is an address owner wanting MASTER) and its fault and init counts."""
        state = State.INIT
        for m in self.members:
            if state != State.BACKUP:
                state = State.MASTER if (m.wantstate == State.MASTER and m.is_owner) else State.BACKUP
        self.num_member_fault = 0
        self.num_member_init = 0
        for m in self.members:
            m._reevaluate_quietly()
            if m.fault_count and m.tracking.awaiting_first_result() and m.faults_are_unknown_only():
                # keepalived num_member_init: the group waits (state INIT, no notify) for the
                # first results of its members' unweighted scripts
                self.num_member_init += 1
                m.counted_init = True
            elif m.fault_count:
                self.num_member_fault += 1
        if self.num_member_fault:
            self.state = State.FAULT
        elif self.num_member_init:
            self.state = State.INIT
        else:
            self.state = state

    def start_reloaded(self, previous: State | None) -> list[Effect]:
        """At a reload, after the members carried their states over (keepalived vrrp_complete_init
        and vrrp_init_state): MASTER when every member is MASTER; a group in BACKUP or FAULT notifies
        unless it had that state before the reload (`previous`: same name; state_same_at_reload)."""
        out: list[Effect] = []
        if not self.num_member_fault and not self.num_member_init \
                and all(m.state == State.MASTER for m in self.members):
            self.state = State.MASTER
        if self.state in (State.FAULT, State.BACKUP) and self.state != previous:
            self._notify(out)
        return out

    def shutdown(self, now: int) -> list[Effect]:
        self.state = State.STOP
        out: list[Effect] = []
        self._notify(out)
        return out

    def _notify(self, out: list[Effect]) -> None:
        out.append(Notify("GROUP", self.name, self.state.word, 0))

    def _log(self, out: list[Effect], state: str) -> None:
        out.append(Log(LogLevel.INFO, f"VRRP_Group({self.name}) Syncing instances to {state} state"))

    def can_goto_master(self, vrrp: VrrpInstance, now: int) -> bool:
        """keepalived vrrp_sync_can_goto_master: only when every other member wants MASTER."""
        if self.state == State.MASTER:
            return True
        for other in self.members:
            if other is not vrrp and other.wantstate != State.MASTER:
                vrrp.ms_down_timer = vrrp.master_down_interval()
                vrrp._init_instance_sands(now)
                return False
        return True

    def backup(self, out: list[Effect], vrrp: VrrpInstance, now: int) -> None:
        """keepalived vrrp_sync_backup."""
        if self.state == State.BACKUP:
            return
        self._log(out, "BACKUP")
        for other in self.members:
            if other is vrrp or other.state == State.BACKUP:
                continue
            other.wantstate = State.BACKUP
            if other.state in (State.FAULT, State.INIT):
                other._leave_fault(out, now, Reason.SYNC_GROUP)
            else:
                other._leave_master(out, now, adv_f=False, reason=Reason.SYNC_GROUP)
        self.state = State.BACKUP
        self._notify(out)

    def master(self, out: list[Effect], vrrp: VrrpInstance, now: int) -> None:
        """keepalived vrrp_sync_master."""
        if self.state == State.MASTER:
            return
        if not self.can_goto_master(vrrp, now):
            return
        self._log(out, "MASTER")
        for other in self.members:
            if other is not vrrp and other.state != State.MASTER:
                other.wantstate = State.MASTER
                other.next_master_reason = vrrp.master_reason
                other._goto_master(out, now, Reason.SYNC_GROUP)
        self.state = State.MASTER
        self._notify(out)

    def fault(self, out: list[Effect], vrrp: VrrpInstance, now: int) -> None:
        """keepalived vrrp_sync_fault."""
        if self.state == State.FAULT:
            return
        self._log(out, "FAULT")
        for other in self.members:
            if other is vrrp or other.state == State.FAULT:
                continue
            other.wantstate = State.FAULT
            if other.state == State.MASTER:
                other._leave_master(out, now, adv_f=False, reason=Reason.SYNC_GROUP)
            elif other.state in (State.BACKUP, State.INIT):
                other._leave_fault(out, now, Reason.SYNC_GROUP, log=False)
        self.state = State.FAULT
        self._notify(out)

    def tsm_handle(self, out: list[Effect], prev: State, vrrp: VrrpInstance, now: int) -> None:
        """keepalived VRRP_TSM_HANDLE(prev, vrrp) after a packet or timer was processed."""
        handler = _TSM.get((prev, vrrp.state))
        if handler is not None:
            handler(self, out, vrrp, now)


_Handler = Callable[[SyncGroup, list[Effect], "VrrpInstance", int], None]
_TSM: dict[tuple[State, State], _Handler] = {
    (State.BACKUP, State.MASTER): SyncGroup.master,
    (State.MASTER, State.BACKUP): SyncGroup.backup,
    (State.MASTER, State.MASTER): SyncGroup.master,
    (State.FAULT, State.MASTER): SyncGroup.master,
}
"""keepalived's VRRP_TSM matrix (vrrp_scheduler.c), as data."""
