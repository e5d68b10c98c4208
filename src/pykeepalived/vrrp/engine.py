# Theory of operation
# -------------------
# VrrpEngine holds every VRRP instance and sync group of one VRRP process (keepalived's vrrp_data)
# and is the object the daemon and the simulator drive. It demultiplexes received datagrams to
# instances by (ifindex, family, VRID) — with duplicate unicast VRIDs the source address picks the
# instance whose peer it is, as keepalived's vrrp_dispatcher_read does — and keeps ONE next
# deadline for all instances in a heap with lazy invalidation: each instance has at most one live
# entry (its current next_deadline); stale entries are skipped when they surface.
# The heap holds each distinct deadline once, with the instances due then in a bucket in the order
# they were armed: masters started together keep sharing one deadline (each is re-armed at the
# same `now + advert_int`), so a wake-up serving 1,000 of them costs one heap operation, not 1,000.
# Instances due at the same time run in the order their deadlines were set, as a (deadline,
# sequence) heap would run them.
#
# All inputs take `now` (integer µs) and return effects; after any input, `next_deadline()` is the
# time at which `handle_timer()` must be called. The engine is pure: the Driver (driver.py) binds
# it to a Clock and an effect sink.
"""The VRRP engine: many instances, one deadline heap, packet demultiplexing."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence

from pykeepalived.vrrp.effects import Effect, Log, LogLevel, Notify, State
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import DropReason, PacketError, RxPacket
from pykeepalived.vrrp.params import IPAddress
from pykeepalived.vrrp.receive import peek_vrid
from pykeepalived.vrrp.sync_group import SyncGroup
from pykeepalived.vrrp.tracking import TrackValue


class VrrpEngine:
    """All VRRP instances of one process. Add instances and sync groups, then `start(now)`."""

    def __init__(self) -> None:
        self.instances: dict[str, VrrpInstance] = {}
        self.groups: dict[str, SyncGroup] = {}
        self._demux: dict[tuple[int, int, int], list[VrrpInstance]] = {}
        self._heap: list[int] = []  # distinct deadlines
        self._due: dict[int, list[VrrpInstance]] = {}  # deadline -> instances armed for it, in order
        self._deadline: dict[VrrpInstance, int | None] = {}  # each instance's live deadline
        self.unknown_vrid_rcvd = 0
        # global log_unknown_vrids, and the receiving interfaces' names for its lines
        self.log_unknown_vrids = False
        self.ifnames: dict[int, str] = {}
        self.started = False

    # ------------------------------------------------------------------ configuration

    def add_instance(self, inst: VrrpInstance, ifindex: int = 0) -> VrrpInstance:
        """Register an instance receiving on `ifindex` (any constant for the simulator)."""
        if inst.name in self.instances:
            raise ValueError(f"duplicate instance {inst.name}")
        self.instances[inst.name] = inst
        self._demux.setdefault((ifindex, inst.params.family, inst.params.vrid), []).append(inst)
        self._deadline[inst] = None
        return inst

    def set_ifindex(self, name: str, ifindex: int) -> None:
        """The instance now receives on `ifindex` (its interface was created after the start:
        dynamic_interfaces)."""
        inst = self.instances[name]
        for cands in self._demux.values():
            if inst in cands:
                cands.remove(inst)
        self._demux.setdefault((ifindex, inst.params.family, inst.params.vrid), []).append(inst)

    def advertise_masters(self, now: int) -> list[Effect]:
        """SIGHUP (keepalived sigreload_vrrp): every MASTER sends one advert before the reload."""
        out: list[Effect] = []
        for inst in self.instances.values():
            out += inst.reload_advert()
        return out

    def replace(self, insts: Sequence[tuple[VrrpInstance, int]],
                groups: Sequence[tuple[str, Sequence[str]]]) -> dict[str, State]:
        """A reload, first step: every instance and sync group gives way to those of the reloaded
        configuration (`insts`: not started, with their receiving ifindex), which get their
        tracker values next; `reload_faults` and `reload` then start them. Returns the old groups'
        states by name. The running instances the reload drops stop with `VrrpInstance.delete`."""
        old_groups = {name: g.state for name, g in self.groups.items()}
        delayed = max((i.delayed_start_until or 0 for i in self.instances.values()), default=0)
        self.instances = {}
        self.groups = {}
        self._demux = {}
        self._heap = []
        self._due = {}
        self._deadline = {}
        for inst, ifindex in insts:
            self.add_instance(inst, ifindex)
            inst.delayed_start_until = delayed  # vrrp_startup_delay counts from the first start only
        for name, members in groups:
            self.add_sync_group(name, list(members))
        return old_groups

    def reload_faults(self, was_fault: Collection[str], now: int) -> list[Effect]:
        """A reload, second step (keepalived vrrp_complete_init, before its clear_diff_vrrp): the
        tracking lines of the instances `replace` put in place, and FAULT for those the new file
        faults (no line nor notify again for one continuing an instance in FAULT: `was_fault`)."""
        return self._init_faults(now, was_fault)

    def reload(self, previous: Mapping[str, VrrpInstance], added: Collection[str],
               old_groups: Mapping[str, State], now: int) -> list[Effect]:
        """A reload, last step (keepalived clear_diff_vrrp's restore, vrrp_init_state): start the
        instances `replace` put in place.

        `previous` maps an instance's name to the running one it continues (same VRID, family,
        interface...: keepalived vrrp_exist, so a renamed instance has one): it keeps its state (a
        MASTER stays MASTER and advertises at once, no line, no notify), its counters and its set
        VIPs; `added` names those whose address lists gained an address (one GARP round then).
        Every other instance starts as at boot. A sync group notifies only when its state differs
        from that of the group of that name before the reload (`old_groups`).
        """
        out: list[Effect] = []
        for g in self.groups.values():
            g.prepare()
        for inst in self.instances.values():
            old = previous.get(inst.name)
            if old is not None:
                inst.carry_over(old)
        for inst in self.instances.values():
            if inst.name in previous:
                inst.restore_addresses(out, now, inst.name in added)
        for g in self.groups.values():
            out += g.start_reloaded(old_groups.get(g.name))
        for inst in self.instances.values():
            out += inst.start(now)
        self.started = True
        self._refresh_all()
        return out

    def add_sync_group(self, name: str, members: list[str]) -> SyncGroup:
        group = SyncGroup(name, [self.instances[m] for m in members])
        self.groups[name] = group
        return group

    # ------------------------------------------------------------------ deadlines

    def _arm(self, inst: VrrpInstance, when: int) -> None:
        bucket = self._due.get(when)
        if bucket is None:
            self._due[when] = [inst]
            heapq.heappush(self._heap, when)
        else:
            bucket.append(inst)

    def _refresh(self, inst: VrrpInstance) -> None:
        insts = inst.sync.members if inst.sync is not None else (inst,)
        for i in insts:
            when = i.next_deadline()
            if when != self._deadline[i]:
                self._deadline[i] = when
                if when is not None:
                    self._arm(i, when)

    def _refresh_all(self) -> None:
        for inst in self.instances.values():
            self._refresh(inst)

    def next_deadline(self) -> int | None:
        """The earliest instance deadline, or None when no timer is armed."""
        heap, due, deadline = self._heap, self._due, self._deadline
        while heap:
            when = heap[0]
            bucket = due[when]
            for k, inst in enumerate(bucket):
                if deadline.get(inst) == when:
                    if k:
                        del bucket[:k]  # stale entries ahead of the first live one
                    return when
            heapq.heappop(heap)
            del due[when]
        return None

    # ------------------------------------------------------------------ inputs

    def start(self, now: int) -> list[Effect]:
        """Start every sync group, then every instance (keepalived vrrp_init_state order).

        First, as keepalived's vrrp_complete_init does, instances faulted by a known cause log it
        (per tracker kind across instances, then per instance), their sync groups follow, and each
        faulted instance logs `(VI) entering FAULT state` with its notifies.
        """
        return self.start_faults(now) + self.start_states(now)

    def start_faults(self, now: int) -> list[Effect]:
        """The first half of `start`: keepalived vrrp_complete_init's fault lines and notifies."""
        return self._init_faults(now)

    def start_states(self, now: int) -> list[Effect]:
        """The second half of `start` (keepalived vrrp_init_state): every sync group, then every
        instance, leaves INIT."""
        out: list[Effect] = []
        for g in self.groups.values():
            out += g.start(now)
        for inst in self.instances.values():
            out += inst.start(now)
        self.started = True
        self._refresh_all()
        return out

    def _init_faults(self, now: int, was_fault: Collection[str] = ()) -> list[Effect]:
        """keepalived vrrp_complete_init: the causes holding instances in FAULT (per tracker kind
        across instances, then per instance), their sync groups following, and each faulted instance
        `(VI) entering FAULT state` with its notifies (not again for one in FAULT before a reload:
        `was_fault`)."""
        out: list[Effect] = []
        for phase in ("interface", "file", "process"):
            for inst in self.instances.values():
                out += inst.init_fault_lines(phase)
        faulted_groups: set[str] = set()
        for inst in self.instances.values():
            out += inst.init_fault_lines("instance")
            if inst.sync is not None and inst.has_init_fault() and inst.sync.name not in faulted_groups:
                faulted_groups.add(inst.sync.name)
                text = f"VRRP_Group({inst.sync.name}): Syncing {inst.name} to FAULT state"
                out.append(Log(LogLevel.INFO, text))
        for inst in self.instances.values():
            if inst.has_init_fault() or (inst.sync is not None and inst.sync.name in faulted_groups):
                inst.enter_init_fault(out, now, quiet=inst.name in was_fault)
        return out

    def handle_timer(self, now: int) -> list[Effect]:
        """Run every instance whose deadline is due at `now`, in deadline order."""
        out: list[Effect] = []
        heap, due, deadline = self._heap, self._due, self._deadline
        while heap and heap[0] <= now:
            when = heapq.heappop(heap)
            last, bucket = None, None  # the bucket the previous instance went to (no pops meanwhile)
            for inst in due.pop(when):
                if deadline.get(inst) != when:
                    continue  # stale entry
                inst.run_timer(out, now)
                if inst.sync is None:
                    # the usual case: re-arm this instance alone (an instance never touches the heap)
                    nxt = inst.sands if not inst.pending_garps else inst.next_deadline()
                    deadline[inst] = nxt
                    if nxt is None:
                        continue
                    if nxt == last and bucket is not None:
                        bucket.append(inst)
                    else:
                        self._arm(inst, nxt)
                        last, bucket = nxt, due[nxt]
                else:
                    deadline[inst] = None
                    self._refresh(inst)
        return out

    def lookup(self, rx: RxPacket) -> VrrpInstance | None:
        try:
            vrid = peek_vrid(rx.data, rx.family)
        except PacketError:
            return None
        cands = self._demux.get((rx.ifindex, rx.family, vrid))
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        for inst in cands:
            if any(p.address == rx.src for p in inst.params.unicast_peers):
                return inst
        return None

    def on_packet(self, rx: RxPacket, now: int) -> list[Effect]:
        """Deliver one received datagram to the instance it belongs to (unknown VRIDs are ignored)."""
        inst = self.lookup(rx)
        if inst is None:
            try:
                peek_vrid(rx.data, rx.family)
            except PacketError as exc:
                # keepalived vrrp_get_header, before the VRID lookup: "IPv4 VRRP packet too short -
                # N bytes" (or "with AH", IPv6) for every such datagram (2.2.7 has no rate limit)
                too_short = exc.reason is DropReason.TOO_SHORT
                return [Log(LogLevel.INFO, exc.detail)] if too_short else []
            self.unknown_vrid_rcvd += 1
            return self._unknown_vrid(rx) if self.log_unknown_vrids else []
        out = inst.on_packet(rx, now)
        self._refresh(inst)
        return out

    def _unknown_vrid(self, rx: RxPacket) -> list[Effect]:
        """keepalived vrrp_read_dispatcher_thread with log_unknown_vrids: no instance has the VRID
        on that interface, or (unicast) none of those that have it lists the sender as a peer."""
        vrid = peek_vrid(rx.data, rx.family)  # on_packet returned for a datagram it cannot parse
        ifname = self.ifnames.get(rx.ifindex, str(rx.ifindex))
        if self._demux.get((rx.ifindex, rx.family, vrid)):
            text = f"Unknown VRID({vrid}) received on interface({ifname}) from {rx.src}. ignoring..."
        else:
            text = f"Unknown VRID({vrid}) received on interface({ifname}). ignoring..."
        return [Log(LogLevel.INFO, text)]

    def set_tracker(self, kind: str, name: str, value: TrackValue, now: int) -> list[Effect]:
        """A tracked object changed; every instance tracking it is updated (config order)."""
        out: list[Effect] = []
        for inst in self.instances.values():
            out += inst.set_tracker(kind, name, value, now)
        self._refresh_all()
        return out

    def set_link(self, instance: str, up: bool, now: int) -> list[Effect]:
        inst = self.instances.get(instance)
        if inst is None:  # gone at a reload
            return []
        out = inst.set_link(up, now)
        self._refresh_all()
        return out

    def snmp_set(self, instance: str, column: int, value: int, now: int) -> list[Effect]:
        """An SNMP set committed on vrrpInstanceTable: column 7 base priority, 13 preempt (1/2)."""
        inst = self.instances.get(instance)
        if inst is None:  # gone at a reload
            return []
        out = inst.set_base_priority(value) if column == 7 else inst.set_preempt(value == 1)
        self._refresh_all()
        return out

    def set_source_address(self, instance: str, addr: IPAddress | None, now: int) -> list[Effect]:
        inst = self.instances.get(instance)
        if inst is None:  # gone at a reload
            return []
        out = inst.set_source_address(addr, now)
        self._refresh_all()
        return out

    def shutdown(self, now: int, release: bool = True) -> list[Effect]:
        """Graceful stop: priority-0 adverts and releases for masters (unless not `release`:
        --dont-release-vrrp), then every instance's STOP notify, then the sync groups' (keepalived
        vrrp_terminate_phase1: restore_vrrp_interfaces over all instances before notify_shutdown)."""
        out: list[Effect] = []
        notifies: list[Effect] = []
        for inst in self.instances.values():
            if inst.state != State.STOP:
                for e in inst.shutdown(now, release=release):
                    (notifies if type(e) is Notify else out).append(e)
        out += notifies
        for g in self.groups.values():
            out += g.shutdown(now)
        self._refresh_all()
        return out
