"""The checker child's read-only view for its SNMP subtree (control/snmp_check.CheckSource): the
runtime's virtual server states, which are in the data plane, the resolved notify commands and the
data plane's counters as last read."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.check.scheduler import CheckerRuntime
    from pykeepalived.check.state import VirtualServerState
    from pykeepalived.lvs.model import LvsCounters
    from pykeepalived.track.command import ScriptCommand


class CheckerSnmpView:
    """Reads the runtime (the current one after a reload), the commands map and the counters."""

    def __init__(self, runtime: Callable[[], CheckerRuntime | None],
                 commands: Callable[[], Mapping[str, ScriptCommand]],
                 counters: Callable[[], LvsCounters]) -> None:
        self._rt = runtime
        self._commands = commands
        self._counters = counters

    def virtual_servers(self) -> Sequence[VirtualServerState]:
        rt = self._rt()
        return list(rt.states) if rt is not None else []

    def in_data_plane(self, index: int) -> bool:
        rt = self._rt()
        return rt is not None and not rt.suspended(index)

    def command(self, text: str) -> ScriptCommand | None:
        return self._commands().get(text)

    def counters(self) -> LvsCounters:
        return self._counters()
