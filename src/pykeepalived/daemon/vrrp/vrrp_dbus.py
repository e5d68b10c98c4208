"""The VRRP child's side of the DBus service (control/dbus.py): its settings from the configuration,
and `ChildBus`, the few things of the child the service may read and ask for (instances and their
states, the dumps, a GARP round), built from those parts rather than from the child itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pykeepalived.control.dbus import NO_INTERFACE, SERVICE_NAME, BusInstance, DbusSettings
from pykeepalived.vrrp.effects import Effect

if TYPE_CHECKING:
    from pykeepalived.config.model import Model
    from pykeepalived.daemon.vrrp.instances import Runtime
    from pykeepalived.options import Options
    from pykeepalived.vrrp.engine import VrrpEngine
    from pykeepalived.vrrp.params import InstanceParams


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


def _bus_instance(p: InstanceParams) -> BusInstance:
    return BusInstance(p.name, p.interface, p.vrid, p.family)


class Dumps(Protocol):
    """What writes the VRRP child's dumps (daemon/vrrp/status.py StatusWriter)."""

    def dump_data(self) -> None: ...

    def dump_stats(self, clear: bool = False) -> None: ...


@dataclass
class ChildBus:
    """control.dbus.VrrpBus for the VRRP child: `runtimes` gives its running instances (they change
    at a reload), `engine` their states, `dumps` the SIGUSR1/SIGUSR2 files, `apply` runs a core
    change on the driver (for a GARP round)."""

    runtimes: Callable[[], Mapping[str, Runtime]]
    engine: VrrpEngine
    dumps: Dumps
    apply: Callable[[Callable[[int], list[Effect]]], None]

    def bus_instances(self) -> Sequence[BusInstance]:
        return [_bus_instance(rt.params) for rt in self.runtimes().values()]

    def instance_of(self, name: str) -> BusInstance | None:
        inst = self.engine.instances.get(name)
        if inst is not None:
            return _bus_instance(inst.params)
        rt = self.runtimes().get(name)  # dropped by a reload, still in the running set
        return _bus_instance(rt.params) if rt is not None else None

    def state_of(self, name: str) -> int | None:
        inst = self.engine.instances.get(name)
        return int(inst.state) if inst is not None else None

    def print_data(self) -> None:
        self.dumps.dump_data()

    def print_stats(self, clear: bool) -> None:
        self.dumps.dump_stats(clear)

    def send_garp(self, name: str) -> None:
        inst = self.engine.instances.get(name)
        if inst is not None:
            self.apply(inst.send_garp)
