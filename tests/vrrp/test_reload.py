"""Reload in the core (keepalived 2.2.7 reload_vrrp_thread: sigreload_vrrp's advert, clear_diff_vrrp,
vrrp_complete_init's state copy, restore_vrrp_state, vrrp_init_state): an instance that continues
keeps its state, a dropped one stops, a new one starts as at boot."""

from __future__ import annotations

from fsm_helpers import kinds, mk, texts

from pykeepalived.vrrp.effects import (
    ClaimAddresses,
    GarpReason,
    Notify,
    SendGratuitous,
    State,
    Transmit,
)
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, InstanceParams, TrackWeight

T0 = 5_000_000
MDI_100 = 3_609_375  # v2, 1 s, priority 100
MDI_150 = 3_414_062  # v2, 1 s, priority 150


def running(*params: InstanceParams, group: tuple[str, ...] = (), settle: int = 5 * SEC
            ) -> tuple[VrrpEngine, int]:
    """An engine whose instances started `settle` ago (5 s: alone on the LAN, all are MASTER)."""
    eng = VrrpEngine()
    for p in params:
        eng.add_instance(VrrpInstance(p))
    if group:
        eng.add_sync_group("G1", list(group))
    eng.start(T0)
    now = T0
    while (when := eng.next_deadline()) is not None and when < T0 + settle:
        now = when
        eng.handle_timer(now)
    return eng, max(now, T0 + settle - 1000) + 1000


def reload(eng: VrrpEngine, now: int, *new: InstanceParams, previous: dict[str, str] | None = None,
           added: tuple[str, ...] = (), group: tuple[str, ...] = (),
           tracks: dict[tuple[str, str], bool] | None = None) -> list[object]:
    """A reload to `new` (previous: new name -> old name; by default the same names)."""
    old = dict(eng.instances)
    prev = previous if previous is not None else {p.name: p.name for p in new if p.name in old}
    insts = [VrrpInstance(p) for p in new]
    for inst in insts:
        for (kind, name), value in (tracks or {}).items():
            inst.set_tracker(kind, name, value, 0)
    groups = [("G1", list(group))] if group else []
    old_groups = eng.replace([(i, 0) for i in insts], groups)
    was_fault = {n for n, o in prev.items() if old[o].state == State.FAULT}
    out = list(eng.reload_faults(was_fault, now))
    return out + list(eng.reload({n: old[o] for n, o in prev.items()}, set(added), old_groups, now))


MASTER = mk(base_priority=150, wants_master=True)


def test_master_stays_master_without_priority_zero_or_notify() -> None:
    eng, now = running(MASTER)
    old = eng.instances["VI_1"]
    assert old.state == State.MASTER
    sent = old.stats["advert_sent"]
    pre = eng.advertise_masters(now)  # keepalived sigreload_vrrp: one advert before the reload
    assert kinds(pre) == ["Transmit(150)"]
    eff = reload(eng, now, mk(base_priority=170, wants_master=True))
    new = eng.instances["VI_1"]
    assert new is not old and new.state == State.MASTER
    assert kinds(eff) == ["ClaimAddresses"]  # restore_vrrp_state: VIPs set again (kept ones stay)
    assert texts(eff) == []
    assert eng.next_deadline() == now  # reload_master: sands = now
    assert kinds(eng.handle_timer(now)) == ["Transmit(170)"]
    assert eng.next_deadline() == now + SEC
    assert new.stats["advert_sent"] == sent + 2


def test_backup_stays_backup_with_a_full_down_timer() -> None:
    eng, now = running(mk(), settle=SEC)
    assert eng.instances["VI_1"].state == State.BACKUP
    eff = reload(eng, now, mk())
    assert kinds(eff) == [] and texts(eff) == []
    assert eng.instances["VI_1"].state == State.BACKUP
    assert eng.next_deadline() == now + MDI_100


def test_added_address_is_announced_and_refresh_rearmed() -> None:
    refresh = mk(base_priority=150, wants_master=True, garp_master_refresh_us=60 * SEC)
    eng, now = running(refresh)
    eff = reload(eng, now, refresh, added=("VI_1",))
    assert kinds(eff) == ["ClaimAddresses", "SendGratuitous"]
    assert eff[1] == SendGratuitous("VI_1", refresh.vips, 5, GarpReason.MASTER)
    assert eng.instances["VI_1"].garp_refresh_timer == now + 60 * SEC


def test_refresh_due_at_the_first_advert_when_nothing_was_added() -> None:
    """keepalived's new instance has its GARP refresh timer unset: the first advert refreshes."""
    refresh = mk(base_priority=150, wants_master=True, garp_master_refresh_us=60 * SEC)
    eng, now = running(refresh)
    reload(eng, now, refresh)
    eff = eng.handle_timer(now)
    assert kinds(eff) == ["Transmit(150)", "SendGratuitous"]
    assert eff[1] == SendGratuitous("VI_1", refresh.vips, 1, GarpReason.REFRESH)


def test_renamed_instance_keeps_its_state_under_its_new_name() -> None:
    eng, now = running(MASTER)
    eff = reload(eng, now, mk(name="VI_9", base_priority=150, wants_master=True), previous={"VI_9": "VI_1"})
    assert list(eng.instances) == ["VI_9"] and eng.instances["VI_9"].state == State.MASTER
    assert eff == [ClaimAddresses("VI_9", MASTER.vips, ())]


def test_dropped_master_sends_priority_zero_and_notifies() -> None:
    eng, now = running(MASTER, mk(name="VI_2", vrid=52, base_priority=150, wants_master=True))
    eff = eng.instances["VI_2"].delete(now, notify_deleted=False)
    assert kinds(eff) == ["Transmit(0)", "ReleaseAddresses", "StateChanged(STOP)", "Notify"]
    assert eff[-1] == Notify("INSTANCE", "VI_2", "FAULT", 150)
    assert texts(eff, None) == ["(VI_2) sent 0 priority"]
    eff = eng.instances["VI_1"].delete(now, notify_deleted=True)
    assert eff[-1] == Notify("INSTANCE", "VI_1", "DELETED", 150)


def test_dropped_faulted_instance_notifies_only_with_notify_deleted() -> None:
    eng, now = running(mk(), mk(name="VI_2", vrid=52))
    eng.set_link("VI_1", False, now)
    eng.set_link("VI_2", False, now)
    assert kinds(eng.instances["VI_1"].delete(now, notify_deleted=False)) == ["StateChanged(STOP)"]
    eff = eng.instances["VI_2"].delete(now, notify_deleted=True)
    assert eff[-1] == Notify("INSTANCE", "VI_2", "DELETED", 100)


def test_master_faulted_by_the_new_file_releases_without_priority_zero() -> None:
    """keepalived restores the VIPs (restore_vrrp_state), then vrrp_init_state removes them."""
    eng, now = running(MASTER)
    tracked = mk(base_priority=150, wants_master=True, tracks=(TrackWeight("script", "chk"),))
    eff = reload(eng, now, tracked, tracks={("script", "chk"): False})
    assert eng.instances["VI_1"].state == State.FAULT
    assert kinds(eff) == ["StateChanged(FAULT)", "Notify", "ClaimAddresses", "ReleaseAddresses"]
    assert "(VI_1) entering FAULT state" in texts(eff)
    assert not any(isinstance(e, Transmit) for e in eff)


def test_fault_before_and_after_is_quiet() -> None:
    tracked = mk(tracks=(TrackWeight("script", "chk"),))
    eng = VrrpEngine()
    eng.add_instance(VrrpInstance(tracked)).set_tracker("script", "chk", False, 0)
    eng.start(T0)
    assert eng.instances["VI_1"].state == State.FAULT
    eff = reload(eng, T0 + SEC, tracked, tracks={("script", "chk"): False})
    assert eng.instances["VI_1"].state == State.FAULT
    assert kinds(eff) == ["StateChanged(FAULT)"]  # no line, no notify: it was in FAULT already
    assert texts(eff, None) == ["(VI_1): entering FAULT state due to script chk"]  # the cause, at every load
    # fault cleared by the new file: it starts as at boot
    eff = reload(eng, T0 + 2 * SEC, mk())
    assert texts(eff) == ["(VI_1) Entering BACKUP STATE (init)"]
    assert eff[-1] == Notify("INSTANCE", "VI_1", "BACKUP", 100)


def test_new_instance_starts_as_at_boot_beside_a_kept_master() -> None:
    eng, now = running(MASTER)
    eff = reload(eng, now, MASTER, mk(name="VI_2", vrid=52))
    assert eng.instances["VI_1"].state == State.MASTER
    assert texts(eff) == ["(VI_2) Entering BACKUP STATE (init)"]
    assert eng.instances["VI_2"].next_deadline() == now + MDI_100


def test_sync_group_of_masters_stays_master_without_notifies() -> None:
    second = mk(name="VI_2", vrid=52, base_priority=150, wants_master=True)
    eng, now = running(MASTER, second)
    eff = reload(eng, now, MASTER, second, group=("VI_1", "VI_2"))
    assert eng.groups["G1"].state == State.MASTER
    assert kinds(eff) == ["ClaimAddresses", "ClaimAddresses"]


def test_sync_group_backup_notifies_only_when_its_state_changed() -> None:
    second = mk(name="VI_2", vrid=52)
    eng, now = running(mk(), second, group=("VI_1", "VI_2"), settle=SEC)
    assert eng.groups["G1"].state == State.BACKUP
    eff = reload(eng, now, mk(), second, group=("VI_1", "VI_2"))
    assert kinds(eff) == [] and texts(eff, None) == []  # the same group, still BACKUP (state_same_at_reload)
    eng2, now2 = running(mk(), second, settle=SEC)
    eff = reload(eng2, now2, mk(), second, group=("VI_1", "VI_2"))
    assert kinds(eff) == ["Notify"] and eff[0] == Notify("GROUP", "G1", "BACKUP", 0)


def test_master_joining_a_backup_group_goes_backup() -> None:
    """The group is MASTER only when every member is: a MASTER whose group is not logs `Entering
    BACKUP STATE (init)`, removes its VIPs (no priority 0) and notifies BACKUP."""
    eng, now = running(MASTER)
    eff = reload(eng, now, MASTER, mk(name="VI_2", vrid=52), group=("VI_1", "VI_2"))
    assert eng.instances["VI_1"].state == State.BACKUP
    assert kinds(eff)[:3] == ["ClaimAddresses", "Notify", "ReleaseAddresses"]
    assert "(VI_1) Entering BACKUP STATE (init)" in texts(eff)
    assert Notify("INSTANCE", "VI_1", "BACKUP", 150) in eff
    assert not any(isinstance(e, Transmit) for e in eff)


def test_counters_and_ah_sequence_carry_over() -> None:
    eng, now = running(MASTER)
    old = eng.instances["VI_1"]
    old.rx_state.ah_seq_number = 41
    reload(eng, now, MASTER)
    new = eng.instances["VI_1"]
    assert new.rx_state.ah_seq_number == 41
    assert new.stats == old.stats and new.stats is not old.stats


def test_news_for_an_instance_a_reload_removed_is_ignored() -> None:
    """The daemon's view of the running instances changes after the engine's at a reload: a link or
    source-address event for an instance the engine no longer has does nothing."""
    eng, now = running(MASTER)
    reload(eng, now, mk(name="VI_2", vrid=52))
    assert eng.set_link("VI_1", False, now) == [] and eng.set_source_address("VI_1", None, now) == []
    assert eng.instances["VI_2"].state == State.BACKUP
