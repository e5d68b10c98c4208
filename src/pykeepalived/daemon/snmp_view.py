"""The VRRP child's read-only view for its SNMP MIBs (control/snmp_vrrp.VrrpSource): the engine's
instances and sync groups, each instance's configuration and interface, and its set addresses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.config.model import VrrpInstance as ConfInstance
    from pykeepalived.daemon.executor import Runtime
    from pykeepalived.linux.iface import InterfaceInfo
    from pykeepalived.notify.scripts import NotifyScripts
    from pykeepalived.vrrp.engine import VrrpEngine
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.sync_group import SyncGroup


class ChildSnmpView:
    """Reads the engine (the current one after a reload) and the runtime map, nothing else."""

    def __init__(self, engine: Callable[[], VrrpEngine], runtime: Callable[[], Mapping[str, Runtime]],
                 scripts: Callable[[], Mapping[tuple[str, str], NotifyScripts]]) -> None:
        self._engine = engine
        self._runtime = runtime
        self._scripts = scripts

    def instances(self) -> Sequence[VrrpInstance]:
        return list(self._engine().instances.values())

    def sync_groups(self) -> Sequence[SyncGroup]:
        return list(self._engine().groups.values())

    def conf(self, name: str) -> ConfInstance | None:
        rt = self._runtime().get(name)
        return rt.conf if rt is not None else None

    def interface(self, name: str) -> InterfaceInfo | None:
        rt = self._runtime().get(name)
        return rt.iface if rt is not None else None

    def address_set(self, name: str, addr: object) -> bool:
        rt = self._runtime().get(name)
        return rt is not None and rt.inst.vipset and addr in rt.addresses and addr not in rt.not_set

    def notify_scripts(self, target: str, name: str) -> NotifyScripts | None:
        return self._scripts().get((target, name))
