"""Model -> vrrp.params.InstanceParams (interface-dependent pieces stay None)."""

from __future__ import annotations

from pykeepalived.config.model import Model, VrrpInstance
from pykeepalived.vrrp.params import SEC, AuthType, ChecksumMode, InstanceParams, TrackWeight, UnicastPeer


def instance_params(model: Model, inst: VrrpInstance | str) -> InstanceParams:
    i = model.instance(inst) if isinstance(inst, str) else inst
    assert i.vrid is not None
    # a track_* entry without a weight takes the tracked object's own weight/reverse
    defaults: dict[tuple[str, str], tuple[int, bool]] = {("script", s.name): (s.weight, s.reverse)
                                                         for s in model.vrrp_scripts}
    defaults.update({("file", f.name): (f.weight, f.reverse) for f in model.track_files})
    defaults.update({("process", p.name): (p.weight, p.reverse) for p in model.track_processes})
    tracks = []
    for t in i.tracks:
        w, rev = t.weight, t.reverse
        if w is None and (t.kind, t.name) in defaults:
            w, dflt_rev = defaults[(t.kind, t.name)]
            rev = dflt_rev if rev is None else rev
        tracks.append(TrackWeight(t.kind, t.name, w or 0, bool(rev)))
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
        # the PASS password, or the AH HMAC key
        auth_pass=i.auth_pass.encode()[:8].ljust(8, b"\0") if auth is not AuthType.NONE else b"",
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
        tracks=tuple(tracks),
        sync_group=i.sync_group,
        startup_delay_us=model.global_defs.vrrp_startup_delay_us,
        strict=i.strict_mode,
        use_vmac=i.use_vmac is not None,
        log_unknown_vrids=model.global_defs.log_unknown_vrids,
        extra={"notify_priority_changes": next(
            (bool(v) for kw, v in i.options if kw == "notify_priority_changes"),
            model.global_defs.vrrp_notify_priority_changes)},
    )
