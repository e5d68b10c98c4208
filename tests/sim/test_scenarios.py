"""Scenario tests on the simulator: real core, real codec, virtual time (keepalived.md §5)."""

from __future__ import annotations

import pytest

from pykeepalived.sim.invariants import (
    InvariantError,
    check_converged,
    check_vips_held_by_masters,
    last_advert,
    takeover_time,
)
from pykeepalived.sim.scenario import Simulation, params
from pykeepalived.vrrp.effects import State
from pykeepalived.vrrp.params import SEC, TrackWeight
from pykeepalived.vrrp.timers import master_down_interval, skew_time

DELAY = 100


def three(sim: Simulation, **kw: object) -> None:
    sim.add_node("a", params(priority=100, src="192.0.2.1", **kw))
    sim.add_node("b", params(priority=150, src="192.0.2.2", **kw))
    sim.add_node("c", params(priority=200, src="192.0.2.3", **kw))


def test_highest_priority_wins_and_holds_vips() -> None:
    sim = Simulation(seed=1, delay_us=DELAY)
    three(sim)
    sim.start_all()
    sim.run_until(10 * SEC)
    assert sim.masters() == [("c", "VI_1")]
    check_converged(sim, 51)
    check_vips_held_by_masters(sim)
    # c became master exactly at its master down interval
    assert takeover_time(sim, "c", 0) == master_down_interval(2, 200, SEC)
    assert sim.state("a") == sim.state("b") == State.BACKUP


def test_hard_takeover_exactly_at_master_down_interval() -> None:
    sim = Simulation(seed=2, delay_us=DELAY)
    three(sim)
    sim.start_all()
    kill_at = 20 * SEC + 123_456
    sim.kill("c", at=kill_at)
    sim.run_until(40 * SEC)
    last = last_advert(sim, "c", kill_at)
    assert last is not None
    assert takeover_time(sim, "b", kill_at) == last + DELAY + master_down_interval(2, 150, SEC)
    check_converged(sim, 51)


def test_graceful_takeover_at_skew_time() -> None:
    sim = Simulation(seed=3, delay_us=DELAY)
    three(sim)
    sim.start_all()
    stop_at = 20 * SEC + 500_000
    sim.stop("c", at=stop_at)
    sim.run_until(30 * SEC)
    assert takeover_time(sim, "b", stop_at) == stop_at + DELAY + skew_time(2, 150, SEC)
    check_converged(sim, 51)


def test_v3_fast_adverts_and_backup_adopts_master_interval() -> None:
    sim = Simulation(seed=4, delay_us=DELAY)
    sim.add_node("a", params(priority=100, src="192.0.2.1", version=3, adver_int_us=2 * SEC))
    sim.add_node("b", params(priority=200, src="192.0.2.2", version=3, adver_int_us=50_000))
    sim.start_all()
    sim.run_until(10 * SEC)
    assert sim.masters() == [("b", "VI_1")]
    assert sim.instance("a").master_adver_int_us == 50_000
    kill_at = 10 * SEC + 1
    sim.kill("b", at=kill_at)
    sim.run_until(12 * SEC)
    last = last_advert(sim, "b", kill_at)
    assert last is not None
    # the backup's down interval uses the master's 50 ms: 3 * 50 ms + (156 * 5 * 625 // 16)
    assert takeover_time(sim, "a", kill_at) == last + DELAY + 150_000 + 30_468


def test_ipv6_v3() -> None:
    sim = Simulation(seed=5, delay_us=DELAY)
    sim.add_node("a", params(priority=100, src="fe80::1", vips=("2001:db8::100",), adver_int_us=100_000))
    sim.add_node("b", params(priority=120, src="fe80::2", vips=("2001:db8::100",), adver_int_us=100_000))
    sim.start_all()
    sim.run_until(3 * SEC)
    assert sim.masters() == [("b", "VI_1")]
    assert sim.instance("a").stats["advert_rcvd"] > 10


def test_equal_priority_simultaneous_start_highest_address_wins() -> None:
    sim = Simulation(seed=6, delay_us=DELAY)
    for i in range(1, 5):
        sim.add_node(f"n{i}", params(priority=100, src=f"192.0.2.{10 * i}"))
    sim.start_all()
    sim.run_until(10 * SEC)
    check_converged(sim, 51, strict_ties=True)
    assert sim.masters() == [("n4", "VI_1")]


def test_equal_priority_backup_never_preempts() -> None:
    sim = Simulation(seed=7, delay_us=DELAY)
    sim.add_node("low", params(priority=100, src="192.0.2.1"))
    sim.add_node("high", params(priority=100, src="192.0.2.9"))
    sim.start("low")
    sim.start("high", at=10 * SEC)
    sim.run_until(30 * SEC)
    assert sim.masters() == [("low", "VI_1")]


def test_preemption_by_later_higher_priority_node() -> None:
    sim = Simulation(seed=8, delay_us=DELAY)
    sim.add_node("a", params(priority=100, src="192.0.2.1"))
    sim.add_node("b", params(priority=200, src="192.0.2.2"))
    sim.start("a")
    join = 10 * SEC
    sim.start("b", at=join)
    sim.run_until(30 * SEC)
    assert sim.masters() == [("b", "VI_1")]
    # b discards a's lower adverts and takes over when its own init down timer runs out
    assert takeover_time(sim, "b", join) == join + master_down_interval(2, 200, SEC)
    assert [t.new for t in sim.transitions("a")] == [State.BACKUP, State.MASTER, State.BACKUP]


def test_nopreempt_holds() -> None:
    sim = Simulation(seed=9, delay_us=DELAY)
    sim.add_node("a", params(priority=100, src="192.0.2.1", nopreempt=True))
    sim.add_node("b", params(priority=200, src="192.0.2.2", nopreempt=True))
    sim.start("a")
    sim.start("b", at=10 * SEC)
    sim.run_until(60 * SEC)
    assert sim.masters() == [("a", "VI_1")]
    check_converged(sim, 51)


def test_preempt_delay_holds() -> None:
    sim = Simulation(seed=10, delay_us=DELAY)
    sim.add_node("a", params(priority=100, src="192.0.2.1"))
    sim.add_node("b", params(priority=200, src="192.0.2.2", preempt_delay_us=10 * SEC))
    sim.start("a")
    join = 10 * SEC
    sim.start("b", at=join)
    sim.run_until(60 * SEC)
    assert sim.masters() == [("b", "VI_1")]
    t = takeover_time(sim, "b", join)
    assert t is not None
    first_heard = join + DELAY  # a's adverts leave on whole seconds + phase; b hears the first within 1 s
    assert t >= first_heard + 10 * SEC
    assert t <= join + SEC + 10 * SEC + master_down_interval(2, 200, SEC)


def test_priority_change_via_weighted_tracker_moves_mastership() -> None:
    sim = Simulation(seed=11, delay_us=DELAY)
    tw = (TrackWeight("script", "chk", weight=-60),)
    sim.add_node("a", params(priority=120, src="192.0.2.1", tracks=tw))
    sim.add_node("b", params(priority=100, src="192.0.2.2", tracks=tw))
    for n in ("a", "b"):
        sim.set_tracker(n, "script", "chk", True)
    sim.start_all()
    sim.run_until(10 * SEC)
    assert sim.masters() == [("a", "VI_1")]
    sim.set_tracker("a", "script", "chk", False, at=10 * SEC + 7)
    sim.run_until(20 * SEC)
    assert sim.masters() == [("b", "VI_1")]
    assert sim.instance("a").effective_priority == 60
    check_converged(sim, 51)


def test_partition_and_heal_leaves_one_master_that_reannounces() -> None:
    sim = Simulation(seed=12, delay_us=DELAY)
    three(sim)
    sim.start_all()
    sim.partition({"a", "b"}, {"c"}, at=10 * SEC)
    sim.run_until(20 * SEC)
    assert sorted(sim.masters()) == [("b", "VI_1"), ("c", "VI_1")]
    check_converged(sim, 51)  # one per component
    heal = 20 * SEC + 250_000
    sim.heal_partition(at=heal)
    sim.run_until(heal + SEC + DELAY)
    assert sim.masters() == [("c", "VI_1")]
    assert any(g.node == "c" and g.reason == "lower_prio" and g.time >= heal for g in sim.garps)
    check_vips_held_by_masters(sim)


def test_sync_group_moves_together_across_nodes() -> None:
    sim = Simulation(seed=13, delay_us=DELAY)
    groups = {"G1": ["VI_1", "VI_2"]}
    for name, prio, src in (("a", 100, "192.0.2.1"), ("b", 200, "192.0.2.2")):
        sim.add_node(
            name,
            [
                params("VI_1", vrid=51, priority=prio, src=src),
                params("VI_2", vrid=52, priority=prio, src=src, vips=("192.0.2.200",)),
            ],
            sync_groups=groups,
        )
    sim.start_all()
    sim.run_until(10 * SEC)
    assert sorted(sim.masters()) == [("b", "VI_1"), ("b", "VI_2")]
    sim.nodes["b"].driver.set_link("VI_2", False)  # one member faults: the whole group follows
    sim.run_until(20 * SEC)
    assert sorted(sim.masters()) == [("a", "VI_1"), ("a", "VI_2")]
    assert sim.state("b", "VI_1") == State.FAULT


def test_invariant_checker_can_fail() -> None:
    sim = Simulation(seed=14, delay_us=DELAY)
    three(sim)
    sim.start_all()
    sim.run_until(2 * SEC)  # nobody is master yet
    with pytest.raises(InvariantError):
        check_converged(sim, 51)


def test_lossy_lan_with_duplicates_and_reordering_converges_after_heal() -> None:
    sim = Simulation(seed=15, delay_us=DELAY, jitter_us=2_000, loss=0.3, dup=0.2)
    three(sim, adver_int_us=SEC)
    sim.start_all()
    sim.run_until(60 * SEC)
    lan = sim.lans["lan0"]
    lan.loss = lan.dup = 0.0
    lan.jitter_us = 0
    sim.run_until(80 * SEC)
    check_converged(sim, 51)
    assert sim.masters() == [("c", "VI_1")]
