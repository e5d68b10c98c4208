# Theory of operation
# -------------------
# keepalived tracks scripts, interfaces, files, processes and BFD sessions. Each tracked object an
# instance uses has a weight (0 = unweighted) and a `reverse` flag (keepalived: weight_multiplier
# -1). keepalived keeps `total_priority` incrementally; here the same sum is recomputed from the
# current values, which gives identical results without keepalived's init-state bookkeeping:
#
# * boolean trackers (script, interface, process, bfd), value = "up/OK":
#     unweighted: failure (or success with reverse) is a FAULT;
#     weight w > 0 contributes w * m while OK, weight w < 0 contributes w * m while failed
#     (m = -1 with reverse, else 1): keepalived vrrp_track.c process_script_update_priority.
#     An unknown value (script not run yet) contributes 0, or is a FAULT when unweighted.
# * track_file (integer value): unweighted: non-zero (zero with reverse) is a FAULT; weighted:
#     value * weight * m clamped to -254..253, and exactly -254 means FAULT
#     (keepalived track_file.c process_update_vrrp_track_file_status).
# * the instance's own interface (unless dont_track_primary) and its source address are implicit
#   unweighted trackers.
#
# effective priority = total clamped to 1..254; an address owner (base 255) never changes
# (keepalived vrrp_track.c vrrp_set_effective_priority).
"""Tracking arithmetic: effective priority and faults from tracked objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from pykeepalived.vrrp.params import TrackWeight

PRIO_OWNER = 255
TRACK_FILE_FAULT = -254

TrackValue = bool | int | None
"""bool for up/down trackers, int for track_file, None = not known yet."""


def clamp_priority(total: int) -> int:
    """keepalived: vrrp_set_effective_priority clamp to 1..254."""
    if total < 1:
        return 1
    if total >= PRIO_OWNER:
        return PRIO_OWNER - 1
    return total


def contribution(track: TrackWeight, value: TrackValue) -> int | None:
    """Priority contribution of one tracked object, or None when it puts the instance in FAULT."""
    mult = -1 if track.reverse else 1
    if track.kind == "file":
        if value is None:
            return None if track.weight == 0 else 0
        status = int(value)
        if track.weight == 0:
            return None if (status != 0) != track.reverse else 0
        c = max(-254, min(253, status * track.weight * mult))
        return None if c == TRACK_FILE_FAULT else c
    if value is None:
        return None if track.weight == 0 else 0
    ok = bool(value)
    if track.weight == 0:
        return None if ok == track.reverse else 0
    if track.weight > 0:
        return track.weight * mult if ok else 0
    return 0 if ok else track.weight * mult


@dataclass(slots=True)
class Tracking:
    """Current values of an instance's tracked objects and the resulting priority and fault state."""

    base_priority: int
    tracks: tuple[TrackWeight, ...] = ()
    values: dict[tuple[str, str], TrackValue] = field(default_factory=dict)
    link_up: bool = True
    has_source: bool = True
    config_fault: bool = False  # keepalived num_config_faults (unicast_fault_no_peer): never clears
    socket_fault: bool = False  # the receive socket cannot be bound (unicast_src_ip not ours): never clears

    def set(self, kind: str, name: str, value: TrackValue) -> bool:
        """Record a tracker's value; return False if the instance does not track it."""
        for t in self.tracks:
            if t.kind == kind and t.name == name:
                self.values[kind, name] = value
                return True
        return False

    def evaluate(self) -> tuple[int, list[str]]:
        """Return (total_priority, names of the faults currently held)."""
        total = self.base_priority
        faults: list[str] = []
        if not self.link_up:
            faults.append("interface")
        if not self.has_source:
            faults.append("address")
        if self.config_fault:
            faults.append("config")
        if self.socket_fault:
            faults.append("socket")
        owner = self.base_priority == PRIO_OWNER
        for t in self.tracks:
            c = contribution(t, self.values.get((t.kind, t.name)))
            if c is None:
                faults.append(f"{t.kind} {t.name}")
            elif not owner:
                total += c
        return total, faults

    def awaiting_first_result(self) -> bool:
        """True while an unweighted tracker has no value yet (keepalived's num_script_init)."""
        return any(t.weight == 0 and self.values.get((t.kind, t.name)) is None for t in self.tracks)

    def effective_priority(self, total: int) -> int:
        if self.base_priority == PRIO_OWNER:
            return PRIO_OWNER
        return clamp_priority(total)
