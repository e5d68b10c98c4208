"""keepalived 2.2.7's per-cause FAULT lines at start-up (vrrp_track.c initialise_*_tracking_priorities)."""

from __future__ import annotations

from ipaddress import IPv4Address

from pykeepalived.vrrp.effects import Log, Notify, State
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import InstanceParams, TrackWeight

T0 = 1_000_000


def mk(name: str, vrid: int, **kw: object) -> VrrpInstance:
    args: dict[str, object] = {"src_ip": IPv4Address("192.0.2.1"), **kw}
    p = InstanceParams(name=name, vrid=vrid, family=4, version=2, base_priority=100, interface="eth0",
                       adver_int_us=1_000_000, vips=(IPv4Address("192.0.2.100"),), **args)  # type: ignore[arg-type]
    return VrrpInstance(p)


def texts(eff: list[object]) -> list[str]:
    return [e.text for e in eff if isinstance(e, Log)]


def test_each_cause_is_logged_in_keepalived_order_then_entering_fault() -> None:
    eng = VrrpEngine()
    a = eng.add_instance(mk("VI_1", 1, tracks=(
        TrackWeight("interface", "eth1"), TrackWeight("script", "chk"), TrackWeight("file", "tf", weight=-2),
        TrackWeight("process", "nginx"))))
    b = eng.add_instance(mk("VI_2", 2, src_ip=None))
    eng.set_tracker("interface", "eth1", False, T0)
    eng.set_tracker("script", "chk", False, T0)
    eng.set_tracker("file", "tf", 200, T0)
    eng.set_tracker("process", "nginx", False, T0)
    eng.set_link("VI_2", False, T0)
    eng.set_source_address("VI_2", None, T0)
    eff = eng.start(T0)
    assert texts(eff) == [
        "(VI_1): entering FAULT state (interface eth1 down)",
        "(VI_2): entering FAULT state (interface eth0 down)",
        "(VI_1): entering FAULT state (tracked file tf has status -400)",
        "(VI_1) entering FAULT state (tracked process nginx quorum not achieved)",
        "(VI_1): entering FAULT state due to script chk",
        "(VI_2) entering FAULT state (no IPv4 address for interface)",
        "(VI_1) entering FAULT state",
        "(VI_2) entering FAULT state",
    ]
    assert [e for e in eff if isinstance(e, Notify)] == [
        Notify("INSTANCE", "VI_1", "FAULT", 100), Notify("INSTANCE", "VI_2", "FAULT", 100)]
    assert a.state == b.state == State.FAULT


def test_script_not_yet_run_is_quiet_and_first_failure_only_notifies() -> None:
    eng = VrrpEngine()
    a = eng.add_instance(mk("VI_1", 1, tracks=(TrackWeight("script", "chk"),)))
    assert texts(eng.start(T0)) == []
    eff = eng.set_tracker("script", "chk", False, T0 + 10)
    assert texts(eff) == []
    assert [e for e in eff if isinstance(e, Notify)] == [Notify("INSTANCE", "VI_1", "FAULT", 100)]
    assert a.state == State.FAULT


def test_sync_group_member_fault_drags_group_at_start_before_group_notify() -> None:
    eng = VrrpEngine()
    eng.add_instance(mk("VI_1", 1, tracks=(TrackWeight("interface", "eth1"),)))
    eng.add_instance(mk("VI_2", 2))
    eng.add_sync_group("G1", ["VI_1", "VI_2"])
    eng.set_tracker("interface", "eth1", False, T0)
    eff = eng.start(T0)
    assert texts(eff) == [
        "(VI_1): entering FAULT state (interface eth1 down)",
        "VRRP_Group(G1): Syncing VI_1 to FAULT state",
        "(VI_1) entering FAULT state",
        "(VI_2) entering FAULT state",
    ]
    assert [e for e in eff if isinstance(e, Notify)] == [
        Notify("INSTANCE", "VI_1", "FAULT", 100), Notify("INSTANCE", "VI_2", "FAULT", 100),
        Notify("GROUP", "G1", "FAULT", 0)]


def test_start_logs_the_tracked_priority_change() -> None:
    eng = VrrpEngine()
    eng.add_instance(mk("VI_1", 1, tracks=(TrackWeight("file", "tf", weight=1),)))
    eng.set_tracker("file", "tf", 3, T0)
    assert texts(eng.start(T0)) == ["(VI_1) Changing effective priority from 100 to 103",
                                    "(VI_1) Entering BACKUP STATE (init)"]


def test_sync_group_waits_quietly_for_a_members_first_script_result() -> None:
    """keepalived num_member_init: no FAULT notifies while a member's script has not reported."""
    eng = VrrpEngine()
    a = eng.add_instance(mk("VI_1", 1, tracks=(TrackWeight("script", "chk"),)))
    b = eng.add_instance(mk("VI_2", 2))
    eng.add_sync_group("G1", ["VI_1", "VI_2"])
    eff = eng.start(T0)
    assert texts(eff) == [] and [e for e in eff if isinstance(e, Notify)] == []
    eff = eng.set_tracker("script", "chk", True, T0 + 10)
    assert a.state == b.state == State.BACKUP
    assert [e for e in eff if isinstance(e, Notify)] == [
        Notify("INSTANCE", "VI_1", "BACKUP", 100), Notify("INSTANCE", "VI_2", "BACKUP", 100),
        Notify("GROUP", "G1", "BACKUP", 0)]
