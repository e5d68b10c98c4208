# Theory of operation
# -------------------
# keepalived's garp_extra_if (vrrp_send_vmac_update): while MASTER, when an advert is sent and the
# extra-interface GARP timer has passed, send one gratuitous ARP / unsolicited NA on each "extra"
# interface (the first VIP/eVIP living there) and re-arm the timer. The timer is first armed on
# becoming MASTER (vrrp_state_become_master). The config layer (config/vrrp_extra.py) resolved which
# addresses stand for which interface, so the core only keeps the timer.
"""Periodic GARP/NA on the extra interfaces of a MASTER (garp_extra_if)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykeepalived.vrrp.effects import Effect, GarpReason, SendGratuitous

if TYPE_CHECKING:
    from pykeepalived.vrrp.instance import VrrpInstance


def arm(inst: VrrpInstance, now: int) -> None:
    """On becoming MASTER: the first round is due one interval later."""
    inst.extra_garp_timer = now + inst.params.garp_extra_if_us


def on_master_tx(inst: VrrpInstance, out: list[Effect], now: int) -> None:
    """After an advert: send the extra-interface round when its time has passed (strictly)."""
    due = inst.extra_garp_timer
    if due is None or now <= due:
        return
    if inst.vipset and inst.params.garp_extra_if_addrs:
        out.append(SendGratuitous(inst.name, inst.params.garp_extra_if_addrs, 1, GarpReason.EXTRA_IF))
    inst.extra_garp_timer = now + inst.params.garp_extra_if_us
