"""Model -> vrrp.params.InstanceParams (interface-dependent pieces stay None)."""

from __future__ import annotations

from pykeepalived.config.bag_fields import last_bool
from pykeepalived.config.model import Model, VrrpInstance
from pykeepalived.config.sync_tracking import (
    member_tracks,
    resolve_track,
    sync_group_of,
    track_defaults,
    tracking_weight,
)
from pykeepalived.config.vrrp_extra import garp_extra_if
from pykeepalived.vrrp.params import SEC, AuthType, ChecksumMode, InstanceParams, TrackWeight, UnicastPeer


def track_group_interfaces(model: Model, name: str) -> list[str]:
    """Interfaces an instance tracks, unweighted, because a `track_group` naming it is used by a
    static address (`dev`), route (`dev`/`oif`) or rule (`iif`) without `no_track`
    (keepalived.md §1.3: the instance goes FAULT while that interface is down)."""
    groups = {nb.name for nb in model.named_blocks if nb.kind == "track_group"
              and any(kw == "group" and isinstance(v, tuple) and name in v for kw, v in nb.options)}
    out: list[str] = []
    for a in model.static_ipaddress:
        if a.track_group in groups and not a.no_track:
            out.append(a.dev or model.global_defs.default_interface)
    out += [r.dev for r in model.static_routes
            if r.track and r.track_group in groups and r.dev is not None]
    out += [r.iif for r in model.static_rules
            if r.track and r.track_group in groups and r.iif is not None]
    return list(dict.fromkeys(out))


def instance_tracks(model: Model, i: VrrpInstance) -> tuple[TrackWeight, ...]:
    """The instance's trackers with those of its sync group and track_groups (keepalived's
    sync_group_tracking_init / static_track_group_init, keepalived.md §1.3, §1.9).

    A sync-group member keeps weighted trackers of its own only with `sync_group_tracking_weight`
    (keepalived drops weighted scripts/files/bfds and zeroes interface weights; an address owner drops
    weighted interfaces too: config/sync_tracking.py); the group's
    trackers reach every member, weighted only with `sync_group_tracking_weight`, else unweighted
    (a failure puts the member, and so the whole group, in FAULT). Where instance and group track
    the same object, the group's weight wins unless the instance's entry is unweighted."""
    defaults = track_defaults(model)
    g = sync_group_of(model, i)
    weighted = g is None or tracking_weight(g)
    owner = i.priority == 255 or (g is not None and any(
        m.priority == 255 for m in model.vrrp_instances if m.name in g.members))
    tracks: dict[tuple[str, str], TrackWeight] = {}
    for tw in member_tracks(model, i, defaults)[0]:  # config/sync_tracking.py: what keepalived keeps
        tracks.setdefault((tw.kind, tw.name), tw)
    for t in g.tracks if g is not None else ():
        tw = resolve_track(t, defaults)
        if not weighted or owner:
            tw = TrackWeight(tw.kind, tw.name, 0, False)
        old = tracks.get((tw.kind, tw.name))
        if old is None or old.weight:
            tracks[(tw.kind, tw.name)] = tw
    for ifname in track_group_interfaces(model, i.name):
        tracks[("interface", ifname)] = TrackWeight("interface", ifname, 0, False)
    return tuple(tracks.values())


def instance_params(model: Model, inst: VrrpInstance | str) -> InstanceParams:
    i = model.instance(inst) if isinstance(inst, str) else inst
    assert i.vrid is not None
    tracks = instance_tracks(model, i)
    cks = (
        ChecksumMode.AS_V2
        if i.v3_checksum_as_v2
        else (ChecksumMode.OLD_UNICAST if i.old_unicast_checksum else ChecksumMode.PSEUDO_HEADER)
    )
    auth = AuthType[i.auth_type] if i.auth_type else AuthType.NONE
    return InstanceParams(
        name=i.name,
        vrid=i.vrid,
        family=i.family,
        version=i.version,
        base_priority=i.priority,
        interface=i.interface,
        adver_int_us=i.advert_int_us,
        vips=tuple(v.address for v in i.vips),
        evips=tuple(v.address for v in i.evips),
        wants_master=i.state == "MASTER",
        nopreempt=i.nopreempt,
        preempt_delay_us=i.preempt_delay_us,
        down_timer_adverts=i.down_timer_adverts,
        auth_type=auth,
        # the PASS password, or the AH HMAC key: the file's bytes (a non-UTF-8 byte is a surrogate)
        auth_pass=(i.auth_pass.encode("utf-8", "surrogateescape")[:8].ljust(8, b"\0")
                   if auth is not AuthType.NONE else b""),
        checksum_mode=cks,
        src_ip=i.unicast_src_ip or i.mcast_src_ip,
        mcast_group=i.mcast_dst_ip
        or (model.global_defs.vrrp_mcast_group4 if i.family == 4 else model.global_defs.vrrp_mcast_group6),
        unicast_peers=tuple(UnicastPeer(a, lo, hi) for a, lo, hi in i.unicast_peers),
        check_unicast_src=i.check_unicast_src
        or any(lo is not None or hi is not None for _, lo, hi in i.unicast_peers),
        unicast_ttl=i.unicast_ttl or 255,
        lower_prio_no_advert=i.lower_prio_no_advert,
        higher_prio_send_advert=i.higher_prio_send_advert,
        owner_ignore_adverts=i.owner_ignore_adverts,
        skip_check_adv_addr=i.skip_check_adv_addr,
        dont_track_primary=i.dont_track_primary,
        garp_master_delay_us=i.garp_master_delay_s * SEC,
        garp_master_repeat=i.garp_master_repeat,
        garp_master_refresh_us=i.garp_master_refresh_s * SEC,
        garp_master_refresh_repeat=i.garp_master_refresh_repeat,
        garp_lower_prio_delay_us=(
            i.garp_master_delay_s if i.garp_lower_prio_delay_s is None else i.garp_lower_prio_delay_s
        )
        * SEC,
        garp_lower_prio_repeat=i.garp_master_repeat
        if i.garp_lower_prio_repeat is None
        else i.garp_lower_prio_repeat,
        tracks=tracks,
        sync_group=i.sync_group,
        startup_delay_us=model.global_defs.vrrp_startup_delay_us,
        strict=i.strict_mode,
        use_vmac=i.use_vmac is not None,
        log_unknown_vrids=model.global_defs.log_unknown_vrids,
        **garp_extra_if(model, i),
        config_fault=i.unicast_fault_no_peer and not i.unicast_peers,
        notify_priority_changes=notify_priority_changes(model, i),
    )


def notify_priority_changes(model: Model, i: VrrpInstance) -> bool:
    """The instance's own notify_priority_changes, else its sync group's, else the global
    vrrp_notify_priority_changes (keepalived vrrp_complete_instance); the last line of each wins."""
    own = last_bool(i.options, "notify_priority_changes")
    if own is not None:
        return own
    g = sync_group_of(model, i)
    if g is not None and g.notify_priority_changes is not None:
        return g.notify_priority_changes
    return model.global_defs.vrrp_notify_priority_changes
