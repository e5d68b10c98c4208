# Theory of operation
# -------------------
# Which of an instance's own trackers keep their weight, and keepalived's messages when it drops one
# (keepalived.md §1.3, §1.9; keepalived 2.2.7 vrrp.c vrrp_complete_instance and
# sync_group_tracking_init, vrrp_track.c add_vrrp_to_interface). The VRRP process checks, in this order:
#
# 1. per instance (configuration order): a track_interface naming the instance's own interface is
#    dropped ("Ignoring track_interface X since own interface");
# 2. per instance, when it is in a sync group without `sync_group_tracking_weight`, or is the address
#    owner (priority 255): a weighted tracked interface loses its weight (sync group) or is dropped
#    (owner); weighted scripts and bfds are dropped; a tracked file with weight 1 (the default) becomes
#    unweighted ("specify weight 0"), one with another weight is dropped. Tracked processes keep their
#    weight (keepalived 2.2.7 does not look at them here);
# 3. per sync group with an address owner among its members: the group's weighted trackers are
#    cleared ("Cannot have weighted track script 'S' with member having priority 255 ..."), and a group
#    track_interface a member already follows (its own interface, or its own track_interface) is
#    reported ("track_interface X is configured on VRRP instance and sync group ...").
#
# keepalived prints these at configuration load in the VRRP process, without a file/line, after the
# script security check; `keepalived -t` shows them unless an interface is missing (it stops before).
"""Sync-group / address-owner tracker weights: what is kept, and keepalived's messages."""

from __future__ import annotations

from pykeepalived.config.diag import NOWHERE, ConfigErr, Diagnostic
from pykeepalived.config.model import Model, SyncGroup, Track, VrrpInstance
from pykeepalived.vrrp.params import TrackWeight

OWNER_PRIORITY = 255


def track_defaults(model: Model) -> dict[tuple[str, str], tuple[int, bool]]:
    """A track_* entry without a weight takes the tracked object's own weight/reverse."""
    d: dict[tuple[str, str], tuple[int, bool]] = {("script", s.name): (s.weight, s.reverse)
                                                  for s in model.vrrp_scripts}
    d.update({("file", f.name): (f.weight, f.reverse) for f in model.track_files})
    d.update({("process", p.name): (p.weight, p.reverse) for p in model.track_processes})
    d.update({("bfd", nb.name): (nb.bfd.weight, nb.bfd.weight_reverse) for nb in model.named_blocks
              if nb.kind == "bfd_instance" and nb.bfd is not None})
    return d


def resolve_track(t: Track, defaults: dict[tuple[str, str], tuple[int, bool]]) -> TrackWeight:
    """A track_* entry's weight and reverse: the object's own unless given; `weight N` alone keeps
    the object's reverse (keepalived vrrp_track.c starts from vsc->weight_reverse, and only
    `reverse`/`noreverse` change it)."""
    w, rev = t.weight, t.reverse
    if (t.kind, t.name) in defaults:
        dflt_w, dflt_rev = defaults[(t.kind, t.name)]
        w = dflt_w if w is None else w
        rev = dflt_rev if rev is None else rev
    return TrackWeight(t.kind, t.name, w or 0, bool(rev))


def sync_group_of(model: Model, i: VrrpInstance) -> SyncGroup | None:
    return next((g for g in model.sync_groups if g.name == i.sync_group), None)


def tracking_weight(g: SyncGroup) -> bool:
    """`sync_group_tracking_weight` (or the deprecated `global_tracking`) on the group."""
    return g.track_weight


def member_tracks(model: Model, i: VrrpInstance,
                  defaults: dict[tuple[str, str], tuple[int, bool]] | None = None
                  ) -> tuple[list[TrackWeight], list[str]]:
    """The instance's own trackers as keepalived keeps them, and the messages it prints (steps 1, 2)."""
    if defaults is None:
        defaults = track_defaults(model)
    msgs: list[str] = []
    tracks: list[TrackWeight] = []
    for t in i.tracks:
        tw = resolve_track(t, defaults)
        if tw.kind == "interface" and tw.name == i.interface:
            msgs.append(f"({i.name}) Ignoring track_interface {tw.name} since own interface")
            continue
        tracks.append(tw)
    g = sync_group_of(model, i)
    sync = g is not None and not tracking_weight(g)
    if not sync and i.priority != OWNER_PRIORITY:
        return tracks, msgs
    why = "SYNC group" if sync else "address_owner"
    kept: list[TrackWeight] = []
    for tw in tracks:
        n, w = tw.name, tw.weight
        if not w or tw.kind == "process":
            kept.append(tw)
        elif tw.kind == "interface":
            if sync:
                msgs.append(f"({i.name}) ignoring {n} tracked interface weight due to SYNC group")
                kept.append(TrackWeight(tw.kind, n, 0, False))
            else:
                msgs.append(f"({i.name}) ignoring {n} tracked interface due to address owner")
        elif tw.kind == "script":
            msgs.append(f"({i.name}) ignoring tracked script {n} with weights due to {why}")
        elif tw.kind == "file" and w == 1:
            msgs.append(f"({i.name}) ignoring weight from tracked file {n} due to {why}. specify weight 0")
            kept.append(TrackWeight(tw.kind, n, 0, False))
        else:  # file or bfd with a weight
            msgs.append(f"({i.name}) ignoring tracked {tw.kind} {n} with weight {w} due to {why}")
    return kept, msgs


_GROUP_ORDER = ("script", "file", "process", "bfd", "interface")  # sync_group_tracking_init's order
_CLEARED = {"script": "clearing weight", "interface": "clearing weight"}


def group_messages(model: Model, g: SyncGroup,
                   defaults: dict[tuple[str, str], tuple[int, bool]] | None = None) -> list[str]:
    """keepalived's messages about a sync group's own trackers (step 3)."""
    if defaults is None:
        defaults = track_defaults(model)
    members = [i for i in model.vrrp_instances if i.name in g.members]
    members.sort(key=lambda i: g.members.index(i.name))
    owner = any(i.priority == OWNER_PRIORITY for i in members)
    followed = {i.name: {t.name for t in member_tracks(model, i, defaults)[0] if t.kind == "interface"}
                | ({i.interface} if i.interface and not i.dont_track_primary else set()) for i in members}
    msgs: list[str] = []
    for kind in _GROUP_ORDER:
        for t in g.tracks:
            if t.kind != kind:
                continue
            tw = resolve_track(t, defaults)
            if owner and tw.weight:
                msgs.append(f"({g.name}) Cannot have weighted track {kind} '{tw.name}' with member having "
                            f"priority {OWNER_PRIORITY} - {_CLEARED.get(kind, 'setting weight 0')}")
            if kind == "interface":
                msgs += [f"({i.name}) track_interface {tw.name} is configured on VRRP instance and sync "
                         "group. Remove vrrp instance or sync group config"
                         for i in members if tw.name in followed[i.name]]
    return msgs


def tracking_messages(model: Model) -> list[str]:
    """Every message, in keepalived's order: instances first, then sync groups."""
    defaults = track_defaults(model)
    out = [m for i in model.vrrp_instances for m in member_tracks(model, i, defaults)[1]]
    for g in model.sync_groups:
        out += group_messages(model, g, defaults)
    return out


def tracking_diagnostics(model: Model) -> list[Diagnostic]:
    """`tracking_messages` as configuration errors without a line (keepalived's report_config_error)."""
    return [Diagnostic(NOWHERE, m, ConfigErr.GENERAL_ERROR) for m in tracking_messages(model)]
