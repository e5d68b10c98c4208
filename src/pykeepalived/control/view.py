# Theory of operation
# -------------------
# What a service beside VRRP (the control socket, the Prometheus collector, the SNMP agent, the
# DBus service) may see of the VRRP child, and nothing more:
# - `VrrpView`, a read-only query of the running instances and sync groups, answered from the
#   child's live state on its event loop (daemon/vrrp/instances.py InstanceTable implements it). A
#   service reads it when asked (a scrape, a request); it never keeps an instance object across a reload
#   (the reload builds new ones: look them up by name each time). Every service reads the same
#   view: the SNMP agent and the DBus service take beside it only what is theirs alone (the SNMP
#   agent the trackers and its one write, control/snmp_vrrp.SnmpExtras; the DBus service the dumps
#   and a GARP round, control/dbus.VrrpRequests).
# - `VrrpEvents`, the hook: the executor publishes every `StateChanged`, `Notify` and `RxRejected`
#   of the core once; each subscriber gets it in subscription order, at once (on the loop, before
#   the next effect). A subscriber must not block (queue the slow part); one that raises is logged
#   and the others still run. A notify subscriber `in_turn` hears it after the work the change
#   queued before it (`turn`: the executor's in_turn; at once when none is queued): the SNMP agent's
#   traps, whose -D lines keepalived logs after "setting VIPs." and, at stop, after the addresses are
#   removed (vrrp_state_become_master / vrrp_restore_interface, then send_instance_notifies), and at
#   start right after each instance's "Entering BACKUP STATE (init)" (vrrp_init_state). The VRRP child
#   subscribes its own parts at start (transition times, the notifier, the control plane,
#   lvs_sync_daemon, then the SNMP agent and the DBus service); a service turned off by a reload
#   unsubscribes. Both carry plain values of the core (vrrp/effects.py), so a service can be tested
#   with a VrrpEngine and an InstanceTable, without a child process.
"""The narrow ways into the VRRP child for the services beside it: a read-only view and a state hook."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from pykeepalived.logs import log

if TYPE_CHECKING:
    from pykeepalived.config.instance_setup import InstanceSetup
    from pykeepalived.linux.iface import InterfaceInfo
    from pykeepalived.vrrp.effects import Notify, RxRejected, StateChanged
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.params import IPAddress
    from pykeepalived.vrrp.sync_group import SyncGroup


class VrrpView(Protocol):
    """Read-only queries of the running VRRP instances (call them on the child's loop only)."""

    def instances(self) -> Mapping[str, VrrpInstance]:
        """Every running instance by name, in configuration order."""
        ...

    def groups(self) -> Mapping[str, SyncGroup]:
        """Every running sync group by name."""
        ...

    def instance(self, name: str) -> VrrpInstance | None:
        """A running instance by name, also one a reload is stopping (until the reload's new
        instances take the place of the old ones)."""
        ...

    def interface(self, name: str) -> str:
        """The interface instance `name` runs on (as found at start), else the configured one, else ""."""
        ...

    def interface_info(self, name: str) -> InterfaceInfo | None:
        """The interface instance `name` runs on, as found at start (None: no such instance, or
        its interface was not found)."""
        ...

    def setup(self, name: str) -> InstanceSetup | None:
        """What the daemon reads of the instance's vrrp_instance block beyond its core parameters:
        configured addresses, routes, rules, accept, promote_secondaries... (None: a core instance
        without a daemon around it)."""
        ...

    def addresses(self, name: str, excluded: bool) -> list[tuple[IPAddress, int, str]]:
        """The instance's virtual_ipaddress (excluded: virtual_ipaddress_excluded) as configured:
        (address, prefix length, interface)."""
        ...

    def address_set(self, name: str, addr: IPAddress) -> bool:
        """Whether the instance holds `addr` (one of its VIPs/eVIPs, set and not refused)."""
        ...

    def last_transition(self, name: str) -> float:
        """Wall-clock time of the instance's last state change, 0.0 if it has not changed yet."""
        ...

    def unknown_vrid_rcvd(self) -> int:
        """Adverts received for a VRID no instance uses."""
        ...


StateHook = Callable[["StateChanged"], None]
NotifyHook = Callable[["Notify"], None]
RejectedHook = Callable[["RxRejected"], None]
Turn = Callable[[Callable[[], None]], None]


class VrrpEvents:
    """The core's state changes, notifies and rejected adverts, fanned out to whoever subscribed."""

    def __init__(self) -> None:
        self._state: list[StateHook] = []
        self._notify: list[tuple[NotifyHook, bool]] = []  # (subscriber, in turn)
        self._rejected: list[RejectedHook] = []
        self.turn: Turn | None = None  # runs a call after the changes' queued work (the executor's in_turn)

    def subscribe(self, on_state: StateHook | None = None, on_notify: NotifyHook | None = None,
                  on_rejected: RejectedHook | None = None, in_turn: bool = False) -> None:
        """`in_turn`: `on_notify` hears each notify through `turn`, after the work queued before it."""
        if on_state is not None:
            self._state.append(on_state)
        if on_notify is not None:
            self._notify.append((on_notify, in_turn))
        if on_rejected is not None:
            self._rejected.append(on_rejected)

    def unsubscribe(self, on_state: StateHook | None = None, on_notify: NotifyHook | None = None) -> None:
        """A service that stops (a reload turning it off)."""
        if on_state is not None:
            self._state.remove(on_state)
        if on_notify is not None:
            self._notify = [(fn, t) for fn, t in self._notify if fn != on_notify]

    def state_changed(self, e: StateChanged) -> None:
        for fn in self._state:
            try:
                fn(e)
            except Exception as exc:  # one service's failure must not keep the change from the others
                log.error("internal error applying StateChanged: %r", exc)

    def notified(self, n: Notify) -> None:
        for fn, in_turn in self._notify:
            if in_turn and self.turn is not None:
                self.turn(functools.partial(_notify, fn, n))
            else:
                _notify(fn, n)

    def rx_rejected(self, e: RxRejected) -> None:
        """An advert rejected for a reason a trap reports (the SNMP agent's vrrpTrapAuthFailure)."""
        for fn in self._rejected:
            try:
                fn(e)
            except Exception as exc:
                log.error("internal error applying RxRejected: %r", exc)


def _notify(fn: NotifyHook, n: Notify) -> None:
    try:
        fn(n)
    except Exception as exc:  # one service's failure must not keep the notify from the others
        log.error("internal error applying Notify: %r", exc)
