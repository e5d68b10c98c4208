"""The advert hot path's caches keep the core's behaviour: one Transmit per priority and source."""

from __future__ import annotations

from ipaddress import ip_address

from pykeepalived.vrrp.effects import Effect, Transmit
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from tests.vrrp.fsm_helpers import mk

T0 = 1_000_000_000
SEC = 1_000_000


def _tx(effects: list[Effect]) -> list[Transmit]:
    return [e for e in effects if isinstance(e, Transmit)]


def _master() -> VrrpInstance:
    inst = VrrpInstance(mk(src_ip=None, garp_master_delay_us=0))
    inst.set_source_address(ip_address("192.0.2.1"), T0)
    inst.start(T0)
    while inst.state.name != "MASTER":
        when = inst.next_deadline()
        assert when is not None
        inst.handle_timer(when)
    return inst


def test_transmit_reused_per_priority_and_rebuilt_on_source_change() -> None:
    inst = _master()
    t = inst.next_deadline()
    assert t is not None
    a = _tx(inst.handle_timer(t))
    b = _tx(inst.handle_timer(t + SEC))
    assert len(a) == len(b) == 1 and a[0] is b[0]  # the executor keys its encoded datagram on this
    assert a[0].src == ip_address("192.0.2.1") and a[0].priority == 100
    inst.set_source_address(ip_address("192.0.2.9"), t + SEC)
    c = _tx(inst.handle_timer(t + 2 * SEC))
    assert c[0] is not a[0] and c[0].src == ip_address("192.0.2.9") and c[0].advert == a[0].advert
    stop = _tx(inst.shutdown(t + 2 * SEC + 1))
    assert stop[0].priority == 0 and stop[0].advert.priority == 0 and stop[0].src == ip_address("192.0.2.9")


def test_engine_serves_many_instances_due_together_in_one_call() -> None:
    """200 masters in lockstep: each timer call serves every due instance once, in order, and the
    next deadline is one advert interval later (one heap entry per distinct deadline)."""
    eng = VrrpEngine()
    for k in range(1, 201):
        p = mk(name=f"VI_{k}", vrid=k, version=3, adver_int_us=100_000, base_priority=200,
               vips=(ip_address(f"203.0.113.{k}"),), garp_master_delay_us=0)
        eng.add_instance(VrrpInstance(p), 1)
    eng.start(T0)
    now = T0
    for _ in range(40):
        when = eng.next_deadline()
        assert when is not None
        now = when
        eng.handle_timer(now)
    assert all(i.state.name == "MASTER" for i in eng.instances.values())
    for _ in range(3):
        when = eng.next_deadline()
        assert when == now + 100_000
        now = when
        sent = _tx(eng.handle_timer(now))
        assert sorted(t.instance for t in sent) == sorted(eng.instances)
    # one heap entry per distinct deadline (all 200 share it) and no stale entries pile up
    assert eng._heap == [now + 100_000] and len(eng._due[now + 100_000]) == 200
