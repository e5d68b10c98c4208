"""Junk must not move the protocol timer (issue 20 item 6), at the core level: µs-exact, no I/O.

keepalived 2.2.7 re-arms an instance's one timer (vrrp_init_instance_sands) after EVERY datagram
that carries the instance's VRID, whatever the receive checks said: in MASTER that pushes the
Adver_Timer to now + advert_int, so a few bad-checksum packets a second silence the master and the
backup takes over at its Master_Down_Interval. pykeepalived acts only on adverts that passed the
checks (RFC 5798 §6.4.2 / §6.4.3): a rejected or dropped datagram is counted and logged, nothing
else. The simulator scenarios show the consequence on a LAN: a live master holds under a flood and a
dead one is replaced at exactly the protocol's bound.
"""

from __future__ import annotations

import itertools
from ipaddress import IPv4Address, IPv6Address

import pytest
from fsm_helpers import mk
from vrrp_pkt import Pkt

from pykeepalived.sim.invariants import last_advert, takeover_time
from pykeepalived.sim.scenario import Simulation, params
from pykeepalived.vrrp.effects import Log, State, Transmit
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import RxPacket
from pykeepalived.vrrp.params import SEC, AuthType, TrackWeight
from pykeepalived.vrrp.timers import master_down_interval

T0 = 1_000_000_000
PW = b"s3cret"
MS = 1_000
AUTH = {"auth_type": AuthType.PASS, "auth_pass": PW}
# the campaign's junk: priority 255, the instance's VRID and password, from a third host
JUNK = Pkt(priority=255, auth_type=1, auth_data=PW, src=IPv4Address("192.0.2.3"))

# every kind of datagram the receive checks turn away (KO) or ignore (DROP)
JUNK_KINDS = {
    "bad checksum": JUNK.replace(csum_xor=0xFFFF),
    "wrong password": JUNK.replace(auth_data=b"guess"),
    "wrong TTL": JUNK.replace(ttl=64),
    "wrong version": JUNK.replace(version=3, auth_type=0, auth_data=b""),
    "wrong type": JUNK.replace(type=2),
    "other address count": JUNK.replace(addresses=()),
    "advert interval mismatch (DROP)": JUNK.replace(adver_int=3),
    "truncated": JUNK,
}


def advert(priority: int) -> RxPacket:
    """A valid advert from 192.0.2.2 (the instance's password)."""
    return Pkt(priority=priority, auth_type=1, auth_data=PW).rx()


def junk(kind: str) -> RxPacket:
    p = JUNK_KINDS[kind]
    data = p.datagram()
    if kind == "truncated":
        data = data[:28]  # IP header + VRRP header only
    return RxPacket(0, 4, p.src, p.dst, p.ttl, data)


def gaps(times: list[int]) -> set[int]:
    return {b - a for a, b in itertools.pairwise(times)}


def master(**kw: object) -> VrrpInstance:
    inst = VrrpInstance(mk(**AUTH, **kw))  # type: ignore[arg-type]
    inst.start(T0)
    dl = inst.next_deadline()
    assert dl is not None
    inst.handle_timer(dl)
    assert inst.state == State.MASTER
    return inst


def backup(**kw: object) -> VrrpInstance:
    inst = VrrpInstance(mk(**AUTH, **kw))  # type: ignore[arg-type]
    inst.start(T0)
    inst.on_packet(advert(150), T0 + SEC)  # a live master's advert
    assert inst.state == State.BACKUP and inst.master_priority == 150
    return inst


@pytest.mark.parametrize("kind", JUNK_KINDS)
def test_junk_does_not_postpone_the_masters_advert_timer(kind: str) -> None:
    inst = master()
    due = inst.next_deadline()
    assert due is not None
    eff = inst.on_packet(junk(kind), due - 100 * MS)
    assert not any(isinstance(e, Transmit) for e in eff)
    assert any(isinstance(e, Log) for e in eff)  # counted and logged as keepalived does
    assert inst.next_deadline() == due  # keepalived 2.2.7: due - 100 ms + 1 s
    assert inst.state == State.MASTER


@pytest.mark.parametrize("kind", JUNK_KINDS)
def test_junk_does_not_postpone_the_master_down_timer(kind: str) -> None:
    inst = backup()
    due, down = inst.next_deadline(), inst.ms_down_timer
    inst.on_packet(junk(kind), T0 + SEC + 500 * MS)
    assert (inst.next_deadline(), inst.ms_down_timer) == (due, down)


def test_priority_change_after_junk_moves_the_down_timer_by_the_skew_change_only() -> None:
    """keepalived 2.2.7 leaves ms_down_timer at the time remaining after a rejected packet, so a
    later priority change re-arms the Master_Down_Timer to a full interval from then."""
    inst = backup(tracks=(TrackWeight("script", "chk", weight=-20),))
    inst.set_tracker("script", "chk", True, T0 + SEC)
    due = inst.next_deadline()
    assert due == T0 + SEC + master_down_interval(2, 100, SEC)
    inst.on_packet(junk("bad checksum"), T0 + 2 * SEC)
    inst.set_tracker("script", "chk", False, T0 + 3 * SEC)  # priority 100 -> 80: skew grows
    assert inst.effective_priority == 80
    assert inst.next_deadline() == due + master_down_interval(2, 80, SEC) - master_down_interval(2, 100, SEC)


def test_a_valid_advert_still_rearms() -> None:
    """Only junk is ignored: a valid lower-priority advert makes the master answer (keepalived's
    "forcing new election") and re-arm from then, as before."""
    inst = master()
    due = inst.next_deadline()
    assert due is not None
    eff = inst.on_packet(advert(50), due - 100 * MS)
    assert [e.priority for e in eff if isinstance(e, Transmit)] == [100]
    assert inst.next_deadline() == due - 100 * MS + SEC


def test_master_under_a_junk_flood_sends_every_interval() -> None:
    """4 junk packets a second for 20 s: the adverts still leave exactly one interval apart."""
    inst = master()
    eng_sent: list[int] = []
    t = inst.next_deadline()
    assert t is not None
    start = t - SEC
    j = start + 250 * MS
    while min(t, j) <= start + 20 * SEC:
        if j < t:
            inst.on_packet(junk("bad checksum"), j)
            j += 250 * MS
        else:
            if any(isinstance(e, Transmit) for e in inst.handle_timer(t)):
                eng_sent.append(t)
            nxt = inst.next_deadline()
            assert nxt is not None
            t = nxt
    assert len(eng_sent) == 20
    assert gaps(eng_sent) == {SEC}
    assert inst.stats["auth_failure"] == 0 and inst.stats["advert_rcvd"] == 0


# ---------------------------------------------------------------- on a simulated LAN

DELAY = 100


def flood(sim: Simulation, until: int, every: int = 250 * MS) -> None:
    """The campaign's junk from a third host, multicast to every node on the LAN."""
    data = JUNK.replace(csum_xor=0xFFFF).datagram()
    pkt = RxPacket(sim.lan().ifindex, 4, JUNK.src, JUNK.dst, 255, data)

    def send(t: int) -> None:
        for node in sim.nodes.values():
            node.deliver("lan0", pkt)
        if t + every < until:
            sim.at(t + every, lambda: send(t + every))

    sim.at(every, lambda: send(every))


def pair(sim: Simulation) -> None:
    sim.add_node("a", params(priority=150, src="192.0.2.1", **AUTH))  # type: ignore[arg-type]
    sim.add_node("b", params(priority=100, src="192.0.2.2", **AUTH))  # type: ignore[arg-type]


def test_sim_live_master_holds_under_junk_flood() -> None:
    sim = Simulation(seed=20, delay_us=DELAY)
    pair(sim)
    sim.start_all()
    flood(sim, until=30 * SEC)
    sim.run_until(30 * SEC)
    # a won at its start-up down interval and nothing changed afterwards
    assert [(t.node, t.new) for t in sim.transitions() if t.new == State.MASTER] == [("a", State.MASTER)]
    sent = [r.time for r in sim.txlog if r.node == "a"]
    assert gaps(sent) == {SEC}


def test_sim_dead_master_replaced_at_the_bound_under_junk_flood() -> None:
    sim = Simulation(seed=21, delay_us=DELAY)
    pair(sim)
    sim.start_all()
    flood(sim, until=40 * SEC)
    kill_at = 15 * SEC + 123_456
    sim.kill("a", at=kill_at)
    sim.run_until(40 * SEC)
    last = last_advert(sim, "a", kill_at)
    assert last is not None
    assert takeover_time(sim, "b", kill_at) == last + DELAY + master_down_interval(2, 100, SEC)
    sent = [r.time for r in sim.txlog if r.node == "b" and r.time > kill_at]
    assert gaps(sent) == {SEC}  # the new master too


# ---------------------------------------------------------------- keepalived's too-short line


@pytest.mark.parametrize(("family", "data", "text"), [
    (4, JUNK.datagram()[:24], "IPv4 VRRP packet too short - 24 bytes"),
    (4, JUNK.replace(ah=True, ah_key=PW).datagram()[:50], "IPv4 VRRP packet with AH too short - 50 bytes"),
    (6, bytes(4), "IPv6 VRRP packet too short - 4 bytes"),  # the kernel strips the IPv6 header
], ids=["VRRP", "AH", "IPv6"])
def test_too_short_is_logged_for_every_packet(family: int, data: bytes, text: str) -> None:
    """keepalived vrrp_get_header logs before the VRID lookup, every time (2.2.7 has no rate limit)."""
    eng = VrrpEngine()
    eng.add_instance(VrrpInstance(mk(**AUTH)))  # type: ignore[arg-type]
    eng.start(T0)
    src, dst = (JUNK.src, JUNK.dst) if family == 4 else (IPv6Address("fe80::3"), IPv6Address("ff02::12"))
    pkt = RxPacket(0, family, src, dst, 255, data)
    lines = [e.text for k in range(3) for e in eng.on_packet(pkt, T0 + k) if isinstance(e, Log)]
    assert lines == [text] * 3
