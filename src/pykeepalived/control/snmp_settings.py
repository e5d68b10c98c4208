"""Which SNMP MIBs the VRRP child serves (global_defs enable_snmp_* with -x/-A applied), in a module
of its own so the VRRP child decides whether to start a subagent without importing the SNMP code
(control/snmp_vrrp.py, the MIB tables and AgentX: loaded only when a MIB is enabled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.config.model import Model


@dataclass(frozen=True)
class SnmpSettings:
    """The SNMP part of global_defs with -x/-A applied (keepalived global_data.c)."""

    vrrp: bool = False
    checker: bool = False
    rfcv2: bool = False
    rfcv3: bool = False
    traps: bool = False
    socket: str | None = None

    @property
    def any_vrrp(self) -> bool:
        return self.vrrp or self.rfcv2 or self.rfcv3


def settings(model: Model, snmp_option: bool, socket_option: str | None) -> SnmpSettings:
    s = model.global_defs.snmp  # enable_snmp_keepalived is read as its alias enable_snmp_vrrp
    return SnmpSettings(
        vrrp=snmp_option or s.vrrp,
        checker=snmp_option or s.checker,
        rfcv2=snmp_option or s.rfc or s.rfcv2,
        rfcv3=snmp_option or s.rfc or s.rfcv3,
        traps=s.traps,
        socket=socket_option or s.socket,
    )
