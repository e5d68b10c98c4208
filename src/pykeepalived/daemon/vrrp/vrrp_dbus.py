"""The VRRP child's side of the DBus service (control/dbus.py): its settings from the configuration,
and `ChildRequests`, what the service asks of the child beside reading its VrrpView (the dumps, a
GARP round), built from the child's parts rather than from the child itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pykeepalived.control.dbus import NO_INTERFACE, SERVICE_NAME, DbusSettings
from pykeepalived.vrrp.effects import Effect

if TYPE_CHECKING:
    from pykeepalived.config.model import Model
    from pykeepalived.control.view import VrrpView
    from pykeepalived.options import Options


def dbus_settings(model: Model, opts: Options) -> DbusSettings:
    """enable_dbus, dbus_service_name, dbus_no_interface_name; the path's network namespace (-s, else
    net_namespace) and instance name (the top-level `instance`)."""
    d, root = model.global_defs.dbus, model.root
    return DbusSettings(
        enabled=d.enabled,
        service_name=d.service_name or SERVICE_NAME,
        no_interface=d.no_interface_name or NO_INTERFACE,
        net_namespace=opts.namespace or root.net_namespace or None,
        instance=root.instance or None,
    )


class Dumps(Protocol):
    """What writes the VRRP child's dumps (daemon/vrrp/status.py StatusWriter)."""

    def dump_data(self) -> None: ...

    def dump_stats(self, clear: bool = False) -> None: ...


@dataclass
class ChildRequests:
    """control.dbus.VrrpRequests for the VRRP child: `dumps` writes the SIGUSR1/SIGUSR2 files,
    `apply` runs a core change on the driver (a GARP round of an instance of `vrrp`)."""

    vrrp: VrrpView
    dumps: Dumps
    apply: Callable[[Callable[[int], list[Effect]]], None]

    def print_data(self) -> None:
        self.dumps.dump_data()

    def print_stats(self, clear: bool) -> None:
        self.dumps.dump_stats(clear)

    def send_garp(self, name: str) -> None:
        inst = self.vrrp.instances().get(name)
        if inst is not None:
            self.apply(inst.send_garp)
