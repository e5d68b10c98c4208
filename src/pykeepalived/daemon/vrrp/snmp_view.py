"""The VRRP child's view for its SNMP MIBs (control/snmp_vrrp.VrrpSource): the engine's instances
and sync groups, each instance's configuration and interface, and its set addresses (read-only);
and `snmp_set`, which hands a committed SNMP set to the child's driver (the core applies it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from pykeepalived.linux.iface import ifindex_of

if TYPE_CHECKING:
    from pykeepalived.config.model import VrrpInstance as ConfInstance
    from pykeepalived.daemon.bfd_events import VrrpBfdTracker
    from pykeepalived.daemon.vrrp.instances import Runtime
    from pykeepalived.linux.iface import InterfaceInfo
    from pykeepalived.notify.scripts import NotifyScripts
    from pykeepalived.track.file import FileTrackers
    from pykeepalived.track.process import ProcessTracker, TrackedProcess
    from pykeepalived.track.script import ScriptTracker, ScriptTrackers
    from pykeepalived.vrrp.engine import VrrpEngine
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.sync_group import SyncGroup


class ChildTrackers(Protocol):
    """The VRRP child's trackers as the SNMP tables read them, and its SNMP set entry (VrrpChild)."""

    scripts: ScriptTrackers | None
    files: FileTrackers | None
    processes: ProcessTracker | None
    bfd: VrrpBfdTracker

    def snmp_set(self, instance: str, column: int, value: int) -> None: ...


class ChildSnmpView:
    """Reads the engine (the current one after a reload), the runtime map and the trackers."""

    def __init__(self, engine: Callable[[], VrrpEngine], runtime: Callable[[], Mapping[str, Runtime]],
                 scripts: Callable[[], Mapping[tuple[str, str], NotifyScripts]],
                 trackers: ChildTrackers) -> None:
        self._engine = engine
        self._runtime = runtime
        self._scripts = scripts
        self._trackers = trackers

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

    def script_trackers(self) -> Mapping[str, ScriptTracker]:
        sc = self._trackers.scripts
        return sc.trackers if sc is not None else {}

    def file_values(self) -> Mapping[str, int]:
        f = self._trackers.files
        return f.values if f is not None else {}

    def processes(self) -> Sequence[TrackedProcess]:
        p = self._trackers.processes
        return list(p.tracked.values()) if p is not None else []

    def bfd_up(self) -> Mapping[str, bool]:
        return self._trackers.bfd.up

    def snmp_set(self, instance: str, column: int, value: int) -> None:
        self._trackers.snmp_set(instance, column, value)

    def ifindex(self, ifname: str) -> int | None:
        return ifindex_of(ifname)
