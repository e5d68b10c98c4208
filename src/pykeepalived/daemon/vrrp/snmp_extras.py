"""What the VRRP child's SNMP MIBs read beside its VrrpView (control/snmp_vrrp.SnmpExtras): the
notify scripts, the trackers and an interface's index; and `snmp_set`, which hands a committed SNMP
set to the child's driver (the core applies it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from pykeepalived.linux.iface import ifindex_of

if TYPE_CHECKING:
    from pykeepalived.daemon.bfd_events import VrrpBfdTracker
    from pykeepalived.notify.scripts import NotifyScripts
    from pykeepalived.track.file import FileTrackers
    from pykeepalived.track.process import ProcessTracker, TrackedProcess
    from pykeepalived.track.script import ScriptTracker, ScriptTrackers


class ChildTrackers(Protocol):
    """The VRRP child's trackers as the SNMP tables read them, and its SNMP set entry (VrrpChild)."""

    scripts: ScriptTrackers | None
    files: FileTrackers | None
    processes: ProcessTracker | None
    bfd: VrrpBfdTracker

    def snmp_set(self, instance: str, column: int, value: int) -> None: ...


class ChildSnmpExtras:
    """Reads the notify scripts (the current ones after a reload) and the trackers."""

    def __init__(self, scripts: Callable[[], Mapping[tuple[str, str], NotifyScripts]],
                 trackers: ChildTrackers) -> None:
        self._scripts = scripts
        self._trackers = trackers

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
