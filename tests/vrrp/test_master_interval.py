"""A VRRPv3 master's shorter advert interval reaches the daemon as MasterIntervalLowered, which cuts
the interface's up/down debounce delays to fit it (keepalived update_master_adver_int and
check_debounce_timers; the daemon side in daemon/vrrp/linkdelay.py)."""

from __future__ import annotations

from fsm_helpers import mk, rx

from pykeepalived.daemon.vrrp.linkdelay import UpDownDelay, fit_delays, lower_interval
from pykeepalived.vrrp.effects import MasterIntervalLowered
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC

T0 = 1_000_000_000


def _backup() -> VrrpInstance:
    inst = VrrpInstance(mk(version=3))
    inst.start(T0)
    return inst


def test_only_a_lower_interval_is_announced() -> None:
    inst = _backup()
    eff = inst.on_packet(rx(150, version=3, adver_int=50), T0 + SEC)
    lowered = [e for e in eff if isinstance(e, MasterIntervalLowered)]
    assert lowered == [MasterIntervalLowered("VI_1", 500_000)]
    again = inst.on_packet(rx(150, version=3, adver_int=50), T0 + SEC + 500_000)
    assert not [e for e in again if isinstance(e, MasterIntervalLowered)]  # unchanged
    higher = inst.on_packet(rx(150, version=3, adver_int=200), T0 + 2 * SEC)
    assert not [e for e in higher if isinstance(e, MasterIntervalLowered)]  # raised: nothing to cut


def test_delays_cut_as_keepalived() -> None:
    d = UpDownDelay(1_800_000, 900_000)  # down, up
    assert fit_delays(d, 3, 500_000)  # limit 2 x 0.5 s: down cut to 1 s - 0.5 s / 256, up fits
    assert (d.down_us, d.up_us) == (1_000_000 - 1_953, 900_000)
    assert not fit_delays(d, 3, 500_000)  # already fits
    keep = UpDownDelay(400_000, 0)
    assert not fit_delays(keep, 3, 500_000) and (keep.down_us, keep.up_us) == (400_000, 0)


def test_lower_interval_logs_keepalived_line(caplog: object) -> None:
    import logging

    delays = {"eth0": UpDownDelay(1_800_000, 1_800_000)}
    with caplog.at_level(logging.DEBUG, logger="pykeepalived"):  # type: ignore[attr-defined]
        lower_interval(delays, mk(version=3), 500_000)
        lower_interval(delays, mk(version=3, interface="eth1"), 500_000)  # no delays there
    lines = [r.getMessage() for r in caplog.records]  # type: ignore[attr-defined]
    assert lines == ["VI_1: lower advert_int reducing interface eth0 debounce timer(s)"]
    assert delays["eth0"].down_us < 1_000_000
