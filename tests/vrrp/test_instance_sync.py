"""Tracking arithmetic, sync groups, engine demux/heap, driver, and the sans-I/O purity rule."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Callable, Sequence

from fsm_helpers import kinds, mk, rx, texts

import pykeepalived.sim
import pykeepalived.vrrp
from pykeepalived.vrrp.driver import Driver
from pykeepalived.vrrp.effects import Effect, Notify, State
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, TrackWeight
from pykeepalived.vrrp.tracking import clamp_priority, contribution

T0 = 5_000_000
MDI_100 = 3_609_375


def test_contribution_rules() -> None:
    up, down = True, False
    assert contribution(TrackWeight("script", "s", 10), up) == 10
    assert contribution(TrackWeight("script", "s", 10), down) == 0
    assert contribution(TrackWeight("script", "s", -10), up) == 0
    assert contribution(TrackWeight("script", "s", -10), down) == -10
    assert contribution(TrackWeight("script", "s", 10, reverse=True), up) == -10
    assert contribution(TrackWeight("script", "s", -10, reverse=True), down) == 10
    assert contribution(TrackWeight("script", "s", 0), down) is None
    assert contribution(TrackWeight("script", "s", 0, reverse=True), up) is None
    assert contribution(TrackWeight("script", "s", 0), None) is None  # not run yet
    assert contribution(TrackWeight("script", "s", 5), None) == 0
    # track_file: value * weight, clamped -254..253, exactly -254 = FAULT; unweighted: non-zero = FAULT
    assert contribution(TrackWeight("file", "f", 3), 7) == 21
    assert contribution(TrackWeight("file", "f", -2), 100) == -200
    assert contribution(TrackWeight("file", "f", -2), 200) is None
    assert contribution(TrackWeight("file", "f", 2), 1000) == 253
    assert contribution(TrackWeight("file", "f", 0), 0) == 0
    assert contribution(TrackWeight("file", "f", 0), 1) is None
    assert contribution(TrackWeight("file", "f", 0, reverse=True), 0) is None
    assert [clamp_priority(x) for x in (-5, 0, 1, 254, 255, 400)] == [1, 1, 1, 254, 254, 254]


def test_effective_priority_clamped() -> None:
    tracks = (TrackWeight("script", "a", 100), TrackWeight("file", "f", 10))
    inst = VrrpInstance(mk(base_priority=200, tracks=tracks))
    inst.set_tracker("script", "a", True, T0)
    inst.set_tracker("file", "f", 5, T0)
    inst.start(T0)
    assert inst.total_priority == 350 and inst.effective_priority == 254
    eff = inst.set_tracker("script", "a", False, T0 + 1)
    assert inst.total_priority == 250 and texts(eff) == ["(VI_1) Changing effective priority from 254 to 250"]
    eff = inst.set_tracker("file", "f", -25, T0 + 2)
    assert inst.total_priority == -50 and inst.effective_priority == 1
    assert texts(eff) == ["(VI_1) Changing effective priority from 250 to 1"]
    eff = inst.set_tracker("file", "f", -26, T0 + 3)  # -260 clamps to -254: FAULT
    assert inst.state == State.FAULT


def _pair(**kw: object) -> tuple[VrrpEngine, VrrpInstance, VrrpInstance]:
    eng = VrrpEngine()
    a = eng.add_instance(VrrpInstance(mk(name="VI_1", vrid=51, **kw)))
    b = eng.add_instance(VrrpInstance(mk(name="VI_2", vrid=52, **kw)))
    eng.add_sync_group("G1", ["VI_1", "VI_2"])
    return eng, a, b


def test_sync_group_goes_master_only_when_all_want_master() -> None:
    eng, a, b = _pair()
    eff = eng.start(T0)
    assert eff[0] == Notify("GROUP", "G1", "BACKUP", 0)
    assert eng.next_deadline() == T0 + MDI_100
    # VI_2 keeps hearing a master, VI_1 does not
    eng.on_packet(rx(150, vrid=52), T0 + 3 * SEC)
    eff = eng.handle_timer(T0 + MDI_100)
    assert a.state == State.BACKUP and a.wantstate == State.MASTER
    assert a.next_deadline() == T0 + 2 * MDI_100  # waits another master down interval
    assert kinds(eff) == []
    # VI_2's master dies: when its timer fires, both go MASTER together
    t2 = T0 + 3 * SEC + MDI_100
    eff = eng.handle_timer(t2)
    assert a.state == b.state == State.MASTER
    assert "VRRP_Group(G1) Syncing instances to MASTER state" in texts(eff)
    assert eff[-1] == Notify("GROUP", "G1", "MASTER", 0)


def test_sync_group_fault_drags_members_and_recovers() -> None:
    eng, a, b = _pair(tracks=(), dont_track_primary=False)
    eng.start(T0)
    eng.handle_timer(T0 + MDI_100)
    assert a.state == b.state == State.MASTER
    eff = eng.set_link("VI_1", False, T0 + MDI_100 + 10)
    assert a.state == b.state == State.FAULT
    assert texts(eff) == [
        "(VI_1) Entering FAULT STATE",
        "VRRP_Group(G1) Syncing instances to FAULT state",
        "(VI_2) Entering FAULT STATE",
    ]
    assert eff[-1] == Notify("GROUP", "G1", "FAULT", 0)
    eff = eng.set_link("VI_1", True, T0 + 20 * SEC)
    assert a.state == b.state == State.BACKUP
    assert texts(eff) == [
        "(VI_1) Entering BACKUP STATE",
        "VRRP_Group(G1) Syncing instances to BACKUP state",
        "(VI_2) Entering BACKUP STATE",
    ]


def test_sync_group_backup_member_dragged_to_fault_is_not_logged() -> None:
    eng, _a, b = _pair()
    eng.start(T0)
    eff = eng.set_link("VI_1", False, T0 + 10)
    assert b.state == State.FAULT
    assert texts(eff) == ["(VI_1) Entering FAULT STATE", "VRRP_Group(G1) Syncing instances to FAULT state"]


def test_sync_group_master_to_backup_takes_all() -> None:
    eng, a, b = _pair()
    eng.start(T0)
    eng.handle_timer(T0 + MDI_100)
    eff = eng.on_packet(rx(200, vrid=51), T0 + MDI_100 + 5)
    assert a.state == b.state == State.BACKUP
    assert "VRRP_Group(G1) Syncing instances to BACKUP state" in texts(eff)


def test_shutdown_notifies_after_every_release() -> None:
    """keepalived vrrp_terminate_phase1: restore_vrrp_interfaces over every instance (priority 0,
    removals), then notify_shutdown: every instance's STOP notify, then the sync groups'."""
    eng, a, b = _pair()
    eng.start(T0)
    eng.handle_timer(T0 + MDI_100)
    assert a.state == b.state == State.MASTER
    eff = eng.shutdown(T0 + MDI_100 + 10)
    assert kinds(eff) == ["Transmit(0)", "ReleaseAddresses", "StateChanged(STOP)",
                          "Transmit(0)", "ReleaseAddresses", "StateChanged(STOP)",
                          "Notify", "Notify", "Notify"]
    assert [e for e in eff if isinstance(e, Notify)] == [
        Notify("INSTANCE", "VI_1", "STOP", 100), Notify("INSTANCE", "VI_2", "STOP", 100),
        Notify("GROUP", "G1", "STOP", 0)]


def test_engine_ignores_unknown_vrid_and_keeps_one_deadline() -> None:
    eng = VrrpEngine()
    insts = [
        eng.add_instance(VrrpInstance(mk(name=f"VI_{i}", vrid=i, base_priority=100 + i))) for i in range(1, 6)
    ]
    eng.start(T0)
    assert eng.on_packet(rx(150, vrid=99), T0 + 1) == []
    assert eng.unknown_vrid_rcvd == 1
    assert eng.next_deadline() == min(i.next_deadline() or 0 for i in insts)
    eng.on_packet(rx(250, vrid=5), T0 + 2)
    assert eng.next_deadline() == min(i.next_deadline() or 0 for i in insts)
    eng.handle_timer(T0 + 10 * SEC)
    assert all(i.state == State.MASTER for i in insts)


class _Clock:
    def __init__(self) -> None:
        self.t = 0
        self.timers: list[tuple[int, Callable[[], None]]] = []

    def now(self) -> int:
        return self.t

    def call_at(self, when: int, fn: Callable[[], None]) -> _Clock:
        self.timers.append((when, fn))
        return self

    def cancel(self) -> None:
        self.timers.clear()


class _Sink:
    def __init__(self) -> None:
        self.effects: list[Effect] = []

    def submit(self, effects: Sequence[Effect]) -> None:
        self.effects.extend(effects)


def test_driver_arms_one_timer_and_never_runs_early() -> None:
    eng = VrrpEngine()
    eng.add_instance(VrrpInstance(mk()))
    clock, sink = _Clock(), _Sink()
    drv = Driver(eng, clock, sink)
    drv.start()
    assert [w for w, _ in clock.timers] == [MDI_100]
    when, fn = clock.timers.pop()
    clock.t = when - 50  # the loop fired early: the engine still sees the deadline
    fn()
    assert eng.instances["VI_1"].state == State.MASTER
    assert [w for w, _ in clock.timers] == [MDI_100 + SEC]


FORBIDDEN = {"socket", "asyncio", "os", "time", "subprocess", "select", "threading", "signal", "pyroute2"}


def test_core_and_simulator_are_pure() -> None:
    for pkg in (pykeepalived.vrrp, pykeepalived.sim):
        for path in pathlib.Path(pkg.__path__[0]).glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for n in names:
                    assert n.split(".")[0] not in FORBIDDEN, f"{path.name} imports {n}"
