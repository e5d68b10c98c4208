"""Unit tests: one VrrpInstance driven by hand, timing exact to the microsecond (keepalived.md §5)."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

from fsm_helpers import kinds, mk, rx, texts

from pykeepalived.vrrp.effects import (
    ClaimAddresses,
    GarpReason,
    Log,
    LogLevel,
    MasterReason,
    Notify,
    ReleaseAddresses,
    SendGratuitous,
    State,
    StateChanged,
    Transmit,
)
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, TrackWeight
from pykeepalived.vrrp.timers import master_down_interval, skew_time

T0 = 1_000_000_000  # an arbitrary monotonic start
MDI_100 = 3_609_375  # v2, 1 s, priority 100 (keepalived.md §5.2 example)


def started(**kw: object) -> VrrpInstance:
    inst = VrrpInstance(mk(**kw))
    inst.start(T0)
    return inst


def master(**kw: object) -> VrrpInstance:
    inst = started(**kw)
    dl = inst.next_deadline()
    assert dl is not None
    inst.handle_timer(dl)
    assert inst.state == State.MASTER
    return inst


# ---------------------------------------------------------------- timers (§5.2)


def test_skew_and_master_down_interval_examples() -> None:
    assert skew_time(2, 100, SEC) == 609_375
    assert master_down_interval(2, 100, SEC) == MDI_100
    assert skew_time(2, 254, SEC) == 7_812
    assert skew_time(2, 255, SEC) == 3_906
    # v3: (256-prio) * centisec * 625 / 16 with integer division
    assert skew_time(3, 100, SEC) == 609_375
    assert skew_time(3, 100, 500_000) == 304_687
    assert master_down_interval(3, 100, 500_000) == 1_804_687
    assert master_down_interval(3, 200, 10_000, down_timer_adverts=5) == 50_000 + 2_187
    # v2 skew ignores the interval (always based on 1 s)
    assert skew_time(2, 100, 5 * SEC) == 609_375


# ---------------------------------------------------------------- startup (§5.3)


def test_start_enters_backup_init_with_master_down_timer() -> None:
    inst = VrrpInstance(mk())
    eff = inst.start(T0)
    # keepalived vrrp_init_state: vrrp_restore_interface first (only its -D lines: nothing is set)
    assert eff[0] == ReleaseAddresses("VI_1", (IPv4Address("192.0.2.100"),), (), init=True)
    assert eff[1] == Log(LogLevel.INFO, "(VI_1) Entering BACKUP STATE (init)")
    assert kinds(eff) == ["StateChanged(BACKUP)", "Notify"]
    assert eff[-1] == Notify("INSTANCE", "VI_1", "BACKUP", 100)
    assert inst.next_deadline() == T0 + MDI_100


def test_state_master_non_owner_still_starts_backup() -> None:
    inst = started(wants_master=True)
    assert inst.state == State.BACKUP
    assert inst.next_deadline() == T0 + MDI_100


def test_owner_becomes_master_after_one_microsecond() -> None:
    inst = VrrpInstance(mk(base_priority=255, wants_master=True))
    eff = inst.start(T0)
    assert texts(eff) == []  # no "(init)" line for the owner fast path
    assert inst.next_deadline() == T0 + 1
    eff = inst.handle_timer(T0 + 1)
    assert inst.state == State.MASTER
    assert kinds(eff) == [
        "Transmit(255)",
        "StateChanged(MASTER)",
        "ClaimAddresses",
        "SendGratuitous",
        "Notify",
    ]
    assert inst.next_deadline() == T0 + 1 + SEC


def test_startup_delay_offsets_timer_and_discards_adverts() -> None:
    inst = started(startup_delay_us=5 * SEC)
    assert inst.next_deadline() == T0 + 5 * SEC + MDI_100
    assert inst.on_packet(rx(150), T0 + SEC) == []
    assert inst.stats["advert_rcvd"] == 0
    assert inst.next_deadline() == T0 + 5 * SEC + MDI_100


def test_unweighted_tracker_down_at_start_means_fault_init() -> None:
    inst = VrrpInstance(mk(tracks=(TrackWeight("script", "chk"),)))
    inst.set_tracker("script", "chk", False, T0)
    eff = inst.start(T0)
    # keepalived 2.2.7 logs the cause, then "entering FAULT state" (never "Entering FAULT STATE (init)")
    assert texts(eff) == ["(VI_1): entering FAULT state due to script chk", "(VI_1) entering FAULT state"]
    assert inst.state == State.FAULT and inst.next_deadline() is None
    eff = inst.set_tracker("script", "chk", True, T0 + 10)
    assert texts(eff) == ["(VI_1) Entering BACKUP STATE"]
    assert inst.next_deadline() == T0 + 10 + MDI_100


# ---------------------------------------------------------------- becoming master


def test_master_down_timer_expiry_exact_effects() -> None:
    inst = started()
    t = T0 + MDI_100
    assert inst.handle_timer(t - 1) == []
    eff = inst.handle_timer(t)
    assert texts(eff, None) == ["(VI_1) Receive advertisement timeout", "(VI_1) Entering MASTER STATE"]
    assert [type(e).__name__ for e in eff] == [
        "Log",
        "Transmit",
        "Log",
        "StateChanged",
        "ClaimAddresses",
        "SendGratuitous",
        "Notify",
    ]
    tx = eff[1]
    assert isinstance(tx, Transmit)
    assert tx.priority == 100 and tx.advert.priority == 100 and tx.advert.adver_int == 1
    assert tx.dsts == (ip_address("224.0.0.18"),) and tx.ttl == 255
    assert eff[4] == ClaimAddresses("VI_1", (ip_address("192.0.2.100"),), ())
    assert eff[5] == SendGratuitous("VI_1", (ip_address("192.0.2.100"),), 5, GarpReason.MASTER)
    assert eff[6] == Notify("INSTANCE", "VI_1", "MASTER", 100)
    assert inst.stats["become_master"] == 1 and inst.stats["advert_sent"] == 1
    assert inst.next_deadline() == t + SEC
    # adverts every second; the delayed GARP burst at +5 s
    for k in range(1, 5):
        assert kinds(inst.handle_timer(t + k * SEC)) == ["Transmit(100)"]
    eff = inst.handle_timer(t + 5 * SEC)
    assert kinds(eff) == ["SendGratuitous", "Transmit(100)"]
    assert isinstance(eff[0], SendGratuitous) and eff[0].reason == GarpReason.MASTER_DELAY
    assert inst.next_deadline() == t + 6 * SEC


def test_garp_refresh_sent_with_first_advert_after_refresh_interval() -> None:
    inst = started(garp_master_refresh_us=2 * SEC, garp_master_delay_us=0, garp_master_refresh_repeat=2)
    t = T0 + MDI_100
    inst.handle_timer(t)
    assert kinds(inst.handle_timer(t + SEC)) == ["Transmit(100)"]
    assert kinds(inst.handle_timer(t + 2 * SEC)) == ["Transmit(100)"]  # not strictly after yet
    eff = inst.handle_timer(t + 3 * SEC)
    assert kinds(eff) == ["Transmit(100)", "SendGratuitous"]
    assert isinstance(eff[1], SendGratuitous) and eff[1].repeat == 2 and eff[1].reason == GarpReason.REFRESH


def test_unicast_transmit_goes_to_each_peer() -> None:
    from pykeepalived.vrrp.params import UnicastPeer

    peers = (UnicastPeer(ip_address("192.0.2.2")), UnicastPeer(ip_address("192.0.2.3")))
    inst = master(unicast_peers=peers, unicast_ttl=10)
    tx = inst.handle_timer(T0 + MDI_100 + SEC)[0]
    assert isinstance(tx, Transmit)
    assert tx.dsts == (ip_address("192.0.2.2"), ip_address("192.0.2.3")) and tx.ttl == 10


# ---------------------------------------------------------------- BACKUP receive (§5.4)


def test_backup_higher_priority_resets_down_timer() -> None:
    inst = started()
    t = T0 + 2 * SEC
    eff = inst.on_packet(rx(150), t)
    assert kinds(eff) == []
    assert inst.next_deadline() == t + MDI_100
    assert inst.master_saddr == ip_address("192.0.2.2") and inst.master_priority == 150
    assert inst.stats["advert_rcvd"] == 1


def test_backup_equal_priority_accepted_regardless_of_address() -> None:
    inst = started()
    t = T0 + SEC
    inst.on_packet(rx(100, src="192.0.2.0"), t)  # lower address than ours, equal priority
    assert inst.next_deadline() == t + MDI_100


def test_backup_lower_priority_discarded_timer_kept() -> None:
    inst = started()
    eff = inst.on_packet(rx(90), T0 + SEC)
    assert texts(eff) == ["(VI_1) received lower priority (90) advert from 192.0.2.2 - discarding"]
    assert inst.next_deadline() == T0 + MDI_100
    inst.handle_timer(T0 + MDI_100)
    assert inst.state == State.MASTER


def test_new_master_reason_as_keepalived() -> None:
    """vrrpv3StatisticsNewMasterReason (vrrp.c/vrrp_scheduler.c): preempted after a lower-priority
    advert or as the owner, priority after a priority 0 advert, no response after silence; it is
    kept after leaving MASTER."""
    inst = started()
    assert inst.master_reason is MasterReason.NOT_MASTER
    inst.on_packet(rx(90), T0 + SEC)
    inst.handle_timer(T0 + MDI_100)
    assert inst.master_reason is MasterReason.PREEMPTED
    inst.on_packet(rx(150), T0 + MDI_100 + SEC)
    assert inst.state == State.BACKUP and inst.master_reason is MasterReason.PREEMPTED
    inst.on_packet(rx(0), T0 + MDI_100 + 2 * SEC)
    inst.handle_timer(inst.next_deadline())
    assert inst.master_reason is MasterReason.PRIORITY
    assert master().master_reason is MasterReason.MASTER_NO_RESPONSE
    owner = VrrpInstance(mk(base_priority=255, wants_master=True))
    owner.start(T0)
    owner.handle_timer(T0 + 1)
    assert owner.master_reason is MasterReason.PREEMPTED


def test_backup_nopreempt_accepts_lower_priority() -> None:
    inst = started(nopreempt=True)
    t = T0 + SEC
    assert texts(inst.on_packet(rx(90), t)) == []
    assert inst.next_deadline() == t + MDI_100


def test_backup_priority_zero_waits_only_skew() -> None:
    inst = started()
    t = T0 + SEC
    inst.on_packet(rx(150), t)
    inst.on_packet(rx(0), t + 100)
    assert inst.next_deadline() == t + 100 + 609_375
    assert inst.stats["pri_zero_rcvd"] == 1


def test_backup_v3_adopts_master_interval() -> None:
    inst = started(version=3)
    t = T0 + SEC
    inst.on_packet(rx(150, version=3, adver_int=50), t)
    assert inst.master_adver_int_us == 500_000
    assert inst.next_deadline() == t + 3 * 500_000 + 304_687
    # on becoming master it goes back to its own interval
    eff = inst.handle_timer(t + 1_804_687)
    assert inst.state == State.MASTER and inst.master_adver_int_us == SEC
    assert "(VI_1) changing advert interval from 500ms to locally configured 1000ms" in texts(
        eff, LogLevel.DETAIL
    )
    assert inst.next_deadline() == t + 1_804_687 + SEC


def test_v2_interval_mismatch_is_dropped_without_timer_reset() -> None:
    inst = started()
    inst.on_packet(rx(150, adver_int=2), T0 + SEC)
    assert inst.next_deadline() == T0 + MDI_100


def test_preempt_delay() -> None:
    inst = started(preempt_delay_us=10 * SEC)
    t1 = T0 + SEC
    inst.on_packet(rx(90), t1)  # starts the preempt delay, accepted
    assert inst.preempt_time == t1 + 10 * SEC
    assert inst.next_deadline() == t1 + MDI_100
    t2 = t1 + 9 * SEC
    inst.on_packet(rx(90), t2)  # still within the delay: accepted
    assert inst.next_deadline() == t2 + MDI_100
    t3 = t1 + 10 * SEC  # delay expired (not strictly later): discarded
    eff = inst.on_packet(rx(90), t3)
    assert texts(eff) == ["(VI_1) received lower priority (90) advert from 192.0.2.2 - discarding"]
    assert inst.next_deadline() == t2 + MDI_100
    # a higher priority advert cancels the delay
    inst.on_packet(rx(150), t3 + 1)
    assert inst.preempt_time is None


# ---------------------------------------------------------------- MASTER receive (§5.4)


def test_master_higher_priority_steps_down() -> None:
    inst = master()
    t = T0 + MDI_100 + 300_000
    eff = inst.on_packet(rx(150), t)
    assert texts(eff) == [
        "(VI_1) Master received advert from 192.0.2.2 with higher priority 150, ours 100",
        "(VI_1) Entering BACKUP STATE",
    ]
    assert kinds(eff) == ["ReleaseAddresses", "StateChanged(BACKUP)", "Notify"]
    assert eff[-1] == Notify("INSTANCE", "VI_1", "BACKUP", 100)
    assert inst.next_deadline() == t + MDI_100
    assert inst.stats["release_master"] == 1


def test_master_equal_priority_higher_address_steps_down() -> None:
    inst = master()
    eff = inst.on_packet(rx(100, src="192.0.2.9"), T0 + MDI_100 + 1)
    assert texts(eff)[0] == (
        "(VI_1) Master received advert from 192.0.2.9 with same priority 100 but higher IP address than ours"
    )
    assert inst.state == State.BACKUP


def test_master_equal_priority_lower_address_stays_and_forces_election() -> None:
    inst = master()
    t = T0 + MDI_100 + 1
    eff = inst.on_packet(rx(100, src="192.0.2.0"), t)
    assert texts(eff) == [
        "(VI_1) Received advert from 192.0.2.0 with lower priority 100, ours 100, forcing new election"
    ]
    assert inst.state == State.MASTER


def test_master_lower_priority_readvertises_and_garps() -> None:
    inst = master(garp_master_delay_us=0)
    t = T0 + MDI_100 + 400_000
    eff = inst.on_packet(rx(90), t)
    assert texts(eff) == [
        "(VI_1) Received advert from 192.0.2.2 with lower priority 90, ours 100, forcing new election"
    ]
    assert kinds(eff) == ["Transmit(100)", "SendGratuitous", "Notify"]
    assert eff[-1] == Notify("INSTANCE", "VI_1", "MASTER_RX_LOWER_PRI", 100)
    assert (
        isinstance(eff[2], SendGratuitous) and eff[2].reason == GarpReason.LOWER_PRIO and eff[2].repeat == 5
    )
    assert inst.next_deadline() == t + SEC  # advert timer restarted ...
    assert inst.pending_garps == [(t + 5 * SEC, 5, GarpReason.LOWER_PRIO_DELAY)]  # ... and the 2nd burst


def test_master_lower_prio_no_advert() -> None:
    inst = master(lower_prio_no_advert=True, garp_lower_prio_repeat=0)
    t = T0 + MDI_100 + 400_000
    eff = inst.on_packet(rx(90), t)
    assert texts(eff) == ["(VI_1) Received advert from 192.0.2.2 with lower priority 90, ours 100"]
    assert kinds(eff) == ["Notify"]
    assert inst.next_deadline() == T0 + MDI_100 + SEC  # timer not restarted


def test_master_higher_prio_send_advert() -> None:
    inst = master(higher_prio_send_advert=True)
    eff = inst.on_packet(rx(150), T0 + MDI_100 + 1)
    assert kinds(eff) == ["Transmit(100)", "ReleaseAddresses", "StateChanged(BACKUP)", "Notify"]


def test_master_priority_zero_readvertises() -> None:
    inst = master()
    t = T0 + MDI_100 + 5
    eff = inst.on_packet(rx(0), t)
    assert kinds(eff) == ["Transmit(100)"]
    assert inst.state == State.MASTER and inst.next_deadline() == t + SEC


def test_master_invalid_packet_leaves_advert_timer() -> None:
    inst = master()
    due = inst.next_deadline()
    t = T0 + MDI_100 + 500_000
    eff = inst.on_packet(rx(150, ttl=64), t)  # TTL check fails (KO)
    assert kinds(eff) == ["RxRejected"] and inst.state == State.MASTER  # for vrrpv3ProtoError
    assert inst.stats["ip_ttl_err"] == 1 and inst.proto_err_reason == 1
    # keepalived 2.2.7 re-arms sands after any read (t + SEC); only valid adverts do here (test_junk.py)
    assert inst.next_deadline() == due


def test_rogue_address_owner() -> None:
    inst = master(base_priority=255, wants_master=True)
    eff = inst.on_packet(rx(255, src="192.0.2.9"), T0 + 2)
    assert texts(eff) == [
        "(VI_1) CONFIGURATION ERROR: local instance and a remote instance are both configured as address "
        "owner, please fix - reducing local priority",
        "(VI_1) Master received advert from 192.0.2.9 with higher priority 255, ours 254",
        "(VI_1) Entering BACKUP STATE",
    ]
    assert inst.effective_priority == 254


def test_equal_priority_from_our_own_address_warns() -> None:
    inst = master()
    eff = inst.on_packet(rx(100, src="192.0.2.1"), T0 + MDI_100 + 1)
    assert texts(eff) == [
        "(VI_1) WARNING - equal priority advert received from remote host with our IP address."
    ]
    assert inst.state == State.MASTER


# ---------------------------------------------------------------- shutdown / fault (§5.6)


def test_shutdown_from_master_sends_priority_zero() -> None:
    inst = master()
    eff = inst.shutdown(T0 + MDI_100 + 10)
    assert kinds(eff) == ["Transmit(0)", "ReleaseAddresses", "StateChanged(STOP)", "Notify"]
    assert eff[-1] == Notify("INSTANCE", "VI_1", "STOP", 100)
    assert inst.stats["pri_zero_sent"] == 1 and inst.next_deadline() is None


def test_shutdown_from_backup_only_notifies() -> None:
    inst = started()
    assert kinds(inst.shutdown(T0 + 1)) == ["StateChanged(STOP)", "Notify"]


def test_fault_from_master_sends_priority_zero_and_recovers_as_backup() -> None:
    inst = VrrpInstance(mk(tracks=(TrackWeight("interface", "eth1"),)))
    inst.set_tracker("interface", "eth1", True, T0)  # known before start: only recorded
    inst.start(T0)
    inst.handle_timer(T0 + MDI_100)
    t = T0 + MDI_100 + 10
    eff = inst.set_tracker("interface", "eth1", False, t)
    assert texts(eff) == ["(VI_1) Entering FAULT STATE"]
    # keepalived: leave_master(FAULT) sends priority 0, then restore_interface(advF) sends another
    assert kinds(eff) == ["Transmit(0)", "Transmit(0)", "ReleaseAddresses", "StateChanged(FAULT)", "Notify"]
    assert inst.sands is None
    # only the delayed GARP timer remains, and it sends nothing now the addresses are gone (as keepalived)
    assert inst.next_deadline() == T0 + MDI_100 + 5 * SEC
    assert inst.handle_timer(T0 + MDI_100 + 5 * SEC) == [] and inst.next_deadline() is None
    assert inst.on_packet(rx(150), t + 1) == []  # ignored in FAULT
    eff = inst.set_tracker("interface", "eth1", True, t + 6 * SEC)
    assert texts(eff) == ["(VI_1) Entering BACKUP STATE"]
    assert inst.next_deadline() == t + 6 * SEC + MDI_100


def test_link_down_faults_unless_dont_track_primary() -> None:
    inst = started()
    assert texts(inst.set_link(False, T0 + 5)) == ["(VI_1) Entering FAULT STATE"]
    inst2 = started(dont_track_primary=True)
    assert inst2.set_link(False, T0 + 5) == [] and inst2.state == State.BACKUP


# ---------------------------------------------------------------- priority changes (§5.2 last rule)


def test_weighted_tracker_changes_priority_and_shifts_down_timer() -> None:
    inst = VrrpInstance(mk(tracks=(TrackWeight("script", "chk", weight=-20),)))
    inst.set_tracker("script", "chk", True, T0)
    inst.start(T0)
    t = T0 + SEC
    inst.on_packet(rx(150), t)
    assert inst.next_deadline() == t + MDI_100
    eff = inst.set_tracker("script", "chk", False, t + 100)
    assert texts(eff) == ["(VI_1) Changing effective priority from 100 to 80"]
    assert inst.effective_priority == 80
    # skew(80) - skew(100) = 687500 - 609375
    assert inst.next_deadline() == t + MDI_100 + 78_125
    inst.set_tracker("script", "chk", True, t + 200)
    assert inst.next_deadline() == t + MDI_100


def test_owner_priority_never_changes() -> None:
    inst = VrrpInstance(
        mk(base_priority=255, wants_master=True, tracks=(TrackWeight("script", "s", weight=-50),))
    )
    inst.start(T0)
    assert inst.set_tracker("script", "s", False, T0 + 1) == []
    assert inst.effective_priority == 255


def test_stats_have_keepalived_names() -> None:
    inst = started()
    for name in (
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
    ):
        assert inst.stats[name] == 0


def test_state_changed_carries_priority_and_reason() -> None:
    inst = started()
    eff = inst.handle_timer(T0 + MDI_100)
    sc = [e for e in eff if isinstance(e, StateChanged)]
    assert len(sc) == 1 and sc[0].old == State.BACKUP and sc[0].new == State.MASTER and sc[0].priority == 100
    assert not any(isinstance(e, ReleaseAddresses) for e in eff)


def test_unweighted_script_not_yet_run_waits_quietly_then_backup() -> None:
    """keepalived: an instance waits silently for its unweighted scripts' first results."""
    from pykeepalived.vrrp.effects import Log, Notify
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.params import InstanceParams, TrackWeight

    p = InstanceParams(name="VI_1", vrid=1, family=4, version=2, base_priority=100, interface="eth0",
                       adver_int_us=1_000_000, vips=(IPv4Address("192.0.2.100"),),
                       src_ip=IPv4Address("192.0.2.1"), tracks=(TrackWeight("script", "chk"),))
    inst = VrrpInstance(p)
    out = inst.start(0)
    assert not [e for e in out if isinstance(e, Log | Notify)]
    assert inst.next_deadline() is None
    out = inst.set_tracker("script", "chk", True, 500_000)
    assert "(VI_1) Entering BACKUP STATE" in [e.text for e in out if isinstance(e, Log)]
    assert [e for e in out if isinstance(e, Notify)] == [Notify("INSTANCE", "VI_1", "BACKUP", 100)]
    assert inst.next_deadline() == 500_000 + 3_609_375


def test_unweighted_script_first_result_failure_reports_fault() -> None:
    from pykeepalived.vrrp.effects import Log, Notify
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.params import InstanceParams, TrackWeight

    p = InstanceParams(name="VI_1", vrid=1, family=4, version=2, base_priority=100, interface="eth0",
                       adver_int_us=1_000_000, vips=(IPv4Address("192.0.2.100"),),
                       src_ip=IPv4Address("192.0.2.1"), tracks=(TrackWeight("script", "chk"),))
    inst = VrrpInstance(p)
    inst.start(0)
    out = inst.set_tracker("script", "chk", False, 1)
    # already (quietly) FAULT: keepalived's vrrp_state_leave_fault logs nothing, only notifies
    assert [e.text for e in out if isinstance(e, Log)] == []
    assert [e for e in out if isinstance(e, Notify)] == [Notify("INSTANCE", "VI_1", "FAULT", 100)]
