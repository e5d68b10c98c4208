# Theory of operation
# -------------------
# `fifo_write_vrrp_states_on_reload` (global_defs, keepalived.md §1.2 and §5.6). After a SIGHUP,
# keepalived 2.2.7 runs vrrp_init_state over every instance and sync group again; with this option
# the objects that get no notify of their own re-emit their current state line to notify_fifo and
# vrrp_notify_fifo (vrrp_notify.c notify_instance_fifo / notify_group_fifo):
# - sync groups first: each one that was already running, whatever its state (a group in BACKUP or
#   FAULT that is new gets its normal notifies instead);
# - then the instances, in configuration order: each one that was running and is BACKUP or FAULT.
#   A MASTER kept at the reload takes vrrp_init_state's "reload master" branch, which writes no
#   line (2.2.7 behaviour, checked against keepalived in tests/daemon/test_fifo_reload.py).
# Lines only: no notify script, no SMTP alert. New or changed instances start as at boot and report
# through their usual notifies.
"""FIFO state lines re-written after a reload (fifo_write_vrrp_states_on_reload)."""

from __future__ import annotations

from collections.abc import Iterable

from pykeepalived.config.model import Model
from pykeepalived.notify.scripts import Notifier
from pykeepalived.vrrp.effects import State
from pykeepalived.vrrp.engine import VrrpEngine

_LINES = (State.MASTER, State.BACKUP, State.FAULT)  # the states these FIFO lines report


def write_states_on_reload(
    model: Model, engine: VrrpEngine, notifier: Notifier | None,
    kept: Iterable[str], kept_groups: Iterable[str],
) -> int:
    """Queue the FIFO lines for the instances and groups `kept` across a reload; return how many."""
    if notifier is None or notifier.fifos is None:
        return 0
    if not model.global_defs.fifo_write_vrrp_states_on_reload:
        return 0
    kept, kept_groups = set(kept), set(kept_groups)
    n = 0
    for g in model.sync_groups:
        group = engine.groups.get(g.name)
        if g.name in kept_groups and group is not None and group.state in _LINES:
            notifier.fifo_line("GROUP", g.name, group.state.word, 0)
            n += 1
    for conf in model.vrrp_instances:
        inst = engine.instances.get(conf.name) if conf.name in kept else None
        if inst is not None and inst.state in (State.BACKUP, State.FAULT):
            notifier.fifo_line("INSTANCE", conf.name, inst.state.word, inst.effective_priority)
            n += 1
    return n
