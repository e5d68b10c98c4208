"""The sans-I/O core: garp_extra_if timing (keepalived vrrp_state_master_tx / vrrp_send_vmac_update)
and the unicast_fault_no_peer config fault (vrrp_init_state with num_config_faults)."""

from __future__ import annotations

from ipaddress import IPv4Address

from pykeepalived.vrrp.effects import GarpReason, Log, Notify, SendGratuitous, State
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, InstanceParams

VIP = IPv4Address("192.0.2.1")
EXTRA = IPv4Address("198.51.100.1")


def _params(**kw: object) -> InstanceParams:
    return InstanceParams(name="VI_1", vrid=51, family=4, version=2, base_priority=200,
                          interface="eth0", adver_int_us=SEC, vips=(VIP, EXTRA), garp_master_delay_us=0,
                          **kw)  # type: ignore[arg-type]


def _run(inst: VrrpInstance, until: int) -> list[tuple[int, SendGratuitous]]:
    out: list[tuple[int, SendGratuitous]] = []
    while (t := inst.next_deadline()) is not None and t <= until:
        out += [(t, e) for e in inst.handle_timer(t) if isinstance(e, SendGratuitous)]
    return out


def test_extra_if_round_every_interval_at_advert_time() -> None:
    inst = VrrpInstance(_params(garp_extra_if_us=2 * SEC, garp_extra_if_addrs=(EXTRA,)))
    inst.start(0)
    sent = _run(inst, 20 * SEC)
    master = [t for t, e in sent if e.reason is GarpReason.MASTER]
    extra = [(t, e) for t, e in sent if e.reason is GarpReason.EXTRA_IF]
    assert len(master) == 1 and inst.state is State.MASTER
    t0 = master[0]
    assert all(e.addresses == (EXTRA,) and e.repeat == 1 for _, e in extra)
    # armed at becoming MASTER, sent at the first advert strictly after each deadline: every 3 adverts
    assert [t - t0 for t, _ in extra] == [3 * SEC * k for k in range(1, len(extra) + 1)]
    assert len(extra) >= 4


def test_no_extra_if_round_when_off() -> None:
    inst = VrrpInstance(_params())
    inst.start(0)
    assert not [e for _, e in _run(inst, 10 * SEC) if e.reason is GarpReason.EXTRA_IF]


def test_config_fault_is_a_quiet_fault_with_notify() -> None:
    inst = VrrpInstance(_params(config_fault=True))
    assert not inst.has_init_fault()
    out = inst.start(0)
    assert inst.state is State.FAULT
    assert not [e for e in out if isinstance(e, Log)]
    assert [e.event for e in out if isinstance(e, Notify)] == ["FAULT"]
    assert inst.next_deadline() is None
    # nothing clears it: a link event does not bring it up
    inst.set_link(False, SEC)
    inst.set_link(True, 2 * SEC)
    assert inst.state is State.FAULT
