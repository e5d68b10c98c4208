"""The BFD state machine and engine in simulated time (RFC 5880 §6.2, §6.5, §6.8; keepalived's texts)."""

from __future__ import annotations

import dataclasses
import itertools
import random

from pykeepalived.bfd.engine import BfdEngine, Received
from pykeepalived.bfd.packet import ControlPacket, Diag, State, encode
from pykeepalived.bfd.session import Event, Transmit

from .sim import A, B, Wire, params

MS = 1000


def pair(**kw: object) -> Wire:
    return Wire(params("B1", B, **kw), params("B1", A, **kw))


def test_three_way_handshake_down_init_up() -> None:
    w = pair()
    w.start()
    w.run_until(3000 * MS)
    assert (w.state("a"), w.state("b")) == ("Up", "Up")
    # each side only moves forward Down -> Init -> Up, and Init was on the wire (the middle step)
    seen = set()
    for k in "ab":
        states = [p.state for _, p in w.nodes[k].sent]
        assert states[0] is State.DOWN and states == sorted(states), states
        seen |= set(states)
    assert seen == {State.DOWN, State.INIT, State.UP}
    # start reports the current (Down) state, then Up once
    assert [(n, up) for _, n, up in w.nodes["a"].events] == [("B1", False), ("B1", True)]
    assert any(t == "(B1) Entering Up state" for _, t in w.nodes["a"].logs)


def test_one_side_starting_late_still_handshakes() -> None:
    w = pair()
    w.start("a")
    w.run_until(3000 * MS)
    assert w.state("a") == "Down"
    w.start("b")
    w.run_until(6000 * MS)
    assert (w.state("a"), w.state("b")) == ("Up", "Up")


def test_poll_sequence_after_up_then_fast_timers() -> None:
    w = pair(min_tx_us=10 * MS, min_rx_us=10 * MS, multiplier=3)
    w.start()
    w.run_until(3000 * MS)
    sent = [p for _, p in w.nodes["a"].sent]
    first_up = next(i for i, p in enumerate(sent) if p.state is State.UP)
    assert sent[first_up].poll and sent[first_up].desired_min_tx_us == 10 * MS
    # the peer answered every poll with a Final, and our poll ended
    assert any(p.final for _, p in w.nodes["b"].sent)
    s = w.nodes["a"].engine.session("B1")
    assert not s.poll and s.local_tx_us == 10 * MS and s.detect_time_us == 30 * MS
    assert any("Detection time is 30000 us" in t for _, t in w.nodes["a"].logs)
    # while down the packets advertised idle_tx (1 s, §6.8.3)
    assert sent[0].desired_min_tx_us == 1000 * MS
    # after the poll, the peer transmits at 10 ms less jitter
    times = [t for t, p in w.nodes["b"].sent if p.state is State.UP and not p.final][-10:]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(7_500 <= g <= 10_000 for g in gaps), gaps


def test_detection_timeout_goes_down_with_diag_1() -> None:
    w = pair(min_tx_us=10 * MS, min_rx_us=10 * MS, multiplier=3)
    w.start()
    w.run_until(3000 * MS)
    w.mute.add("b")
    cut = w.now
    w.run_until(cut + 100 * MS)
    a = w.nodes["a"]
    assert w.state("a") == "Down"
    down_t = [t for t, _, up in a.events if not up][-1]
    assert 0 < down_t - cut <= 30 * MS + 200  # multiplier x interval (+ one-way delay of the last packet)
    assert any(t.startswith("(B1) Expired after ") and "usec overdue" in t for _, t in a.logs)
    assert any(t == "(B1) Entering Down state (Local diagnostic - Control Detection Time Expired, "
                    "Remote diagnostic - No Diagnostic)" for _, t in a.logs)
    last = a.sent[-1][1]
    assert last.state is State.DOWN and last.diag is Diag.CONTROL_DETECTION_TIME_EXPIRED
    assert last.your_discriminator == 0  # §6.8.1: RemoteDiscr zeroed on expiry
    # b hears a's Down: it falls too, with diagnostic 3
    w.mute.clear()
    w.run_until(w.now + 3000 * MS)
    assert (w.state("a"), w.state("b")) == ("Up", "Up")  # and the session comes back


def test_peer_admin_down_is_not_an_event() -> None:
    w = pair()
    w.start()
    w.run_until(3000 * MS)
    a = w.nodes["a"].engine
    s = a.session("B1")
    pkt = ControlPacket(state=State.ADMIN_DOWN, diag=Diag.ADMINISTRATIVELY_DOWN, detect_mult=5,
                        my_discriminator=s.remote_discr, your_discriminator=s.local_discr)
    out = a.receive(Received(encode(pkt), B, 49152, A, 255), w.now)
    assert s.state is State.DOWN and s.local_diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert not [e for e in out if isinstance(e, Event)]  # keepalived: no event for a peer's AdminDown


def test_local_admin_down_discards_and_recovers() -> None:
    w = pair(min_tx_us=10 * MS, min_rx_us=10 * MS, multiplier=3)
    w.start()
    w.run_until(3000 * MS)
    eng = w.nodes["a"].engine
    w.apply("a", eng.admin_down("B1", w.now))
    assert w.nodes["a"].logs[-1][1] == "(B1) Entering AdminDown state"
    n = len(w.nodes["a"].sent)
    w.run_until(w.now + 200 * MS)
    assert len(w.nodes["a"].sent) == n  # nothing sent while AdminDown
    assert w.state("a") == "AdminDown" and w.state("b") == "Down"
    w.apply("a", eng.enable("B1", w.now))
    w.run_until(w.now + 3000 * MS)
    assert (w.state("a"), w.state("b")) == ("Up", "Up")


def test_passive_waits_for_the_peer() -> None:
    w = Wire(params("B1", B, passive=True), params("B1", A, passive=True))
    w.start()
    w.run_until(5000 * MS)
    assert not w.nodes["a"].sent and not w.nodes["b"].sent
    w = Wire(params("B1", B, passive=True), params("B1", A))
    w.start("a")
    w.run_until(2000 * MS)
    assert not w.nodes["a"].sent
    w.start("b")
    w.run_until(4000 * MS)
    assert (w.state("a"), w.state("b")) == ("Up", "Up")
    first_a = w.nodes["a"].sent[0][0]
    first_b = w.nodes["b"].sent[0][0]
    assert first_a > first_b  # the passive side spoke only after hearing the active one


def test_poll_is_answered_with_final_at_once() -> None:
    w = pair()
    w.start()
    w.run_until(3000 * MS)
    eng = w.nodes["a"].engine
    s = eng.session("B1")
    pkt = ControlPacket(state=State.UP, detect_mult=5, my_discriminator=s.remote_discr,
                        your_discriminator=s.local_discr, desired_min_tx_us=20 * MS,
                        required_min_rx_us=30 * MS, poll=True)
    out = eng.receive(Received(encode(pkt), B, 49152, A, 255), w.now)
    tx = [e for e in out if isinstance(e, Transmit)]
    assert len(tx) == 1 and tx[0].packet.final and not tx[0].packet.poll
    assert s.local_tx_us == 30 * MS  # the peer's new RequiredMinRx applies at the poll (§6.8.3)
    assert s.detect_time_us == 5 * 20 * MS


def test_reload_changing_timers_starts_a_poll_and_keeps_state() -> None:
    w = pair()
    w.start()
    w.run_until(3000 * MS)
    eng = w.nodes["a"].engine
    s = eng.session("B1")
    new = dataclasses.replace(s.params, min_tx_us=20 * MS)
    out = eng.configure([new], w.now)
    assert eng.session("B1") is s and s.is_up and s.poll
    assert [e for e in out if isinstance(e, Event)] == [Event("B1", True)]  # state re-sent on reload
    w.run_until(w.now + 500 * MS)
    assert not s.poll and s.local_tx_us == 20 * MS  # peer answered with F; new interval in use
    # a changed neighbour is a new session
    moved = dataclasses.replace(new, neighbor=A)
    eng.configure([moved], w.now)
    assert eng.session("B1") is not s and eng.session("B1").state is State.DOWN


def test_jitter_bounds_multiplier_one() -> None:
    eng = BfdEngine(random.Random(7))
    eng.configure([params("J", B, multiplier=1, idle_tx_us=1000 * MS)], 0)
    s = eng.session("J")
    times = []
    now = 0
    for _ in range(200):
        now = eng.next_deadline() or 0
        if any(isinstance(e, Transmit) for e in eng.run_timers(now)):
            times.append(now)
        assert s.state is State.DOWN
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 750 * MS and max(gaps) <= 900 * MS  # §6.8.7: 75-90 % when DetectMult is 1
    eng2 = BfdEngine(random.Random(7))
    eng2.configure([params("J", B, multiplier=3)], 0)
    times = []
    for _ in range(300):
        now = eng2.next_deadline() or 0
        eng2.run_timers(now)
        times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 750 * MS and max(gaps) <= 1000 * MS and max(gaps) > 900 * MS


def test_gtsm_ttl_check_and_max_hops() -> None:
    for max_hops, ttl, accepted in ((0, 255, True), (0, 254, False), (1, 254, True), (255, 1, True)):
        eng = BfdEngine(random.Random(1))
        eng.configure([params("T", B, max_hops=max_hops)], 0)
        pkt = ControlPacket(state=State.DOWN, my_discriminator=99)
        out = eng.receive(Received(encode(pkt), B, 49152, A, ttl), 10)
        assert (eng.session("T").state is State.INIT) == accepted, (max_hops, ttl)
        if not accepted:
            assert out[0].text == f"Packet ttl({ttl}) < 255 - discarding"  # type: ignore[union-attr]


def test_demultiplexing() -> None:
    eng = BfdEngine(random.Random(3))
    eng.configure([params("X", B, source=A), params("Y", A)], 0)
    x, y = eng.session("X"), eng.session("Y")
    assert x.local_discr != y.local_discr and 0 not in (x.local_discr, y.local_discr)
    down = ControlPacket(state=State.DOWN, my_discriminator=5)
    eng.receive(Received(encode(down), B, 49152, A, 255), 1)
    assert x.state is State.INIT and y.state is State.DOWN
    # wrong local address for X: not found
    eng.receive(Received(encode(down), B, 49152, B, 255), 1)
    unknown = ControlPacket(state=State.UP, my_discriminator=5, your_discriminator=12345)
    out = eng.receive(Received(encode(unknown), B, 49152, A, 255), 2)
    assert "session is not found - your discriminator field is 0x00003039" in out[0].text  # type: ignore[union-attr]
    assert eng.dropped == 2
    by_discr = ControlPacket(state=State.DOWN, my_discriminator=6, your_discriminator=y.local_discr)
    eng.receive(Received(encode(by_discr), A, 49152, B, 255), 3)
    assert y.state is State.INIT
