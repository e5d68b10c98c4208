"""The LVS table as plain frozen values, independent of the data plane (IPVS or nftables).

# Theory of operation
A *service* is what `ipvsadm -Ln` prints on a `TCP 203.0.113.10:80 wlc` line: a key (family, protocol,
address and port, or a firewall mark) plus scheduling attributes. A *destination* is one `->` line under
it. An `LvsTable` maps each service key to a `ServiceEntry` (the service and its destinations by
address/port). The checker keeps a *desired* table computed from the real-server state machines; each
data plane reports its *actual* table; lvs/plan.py turns the difference into operations.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Protocol(enum.Enum):
    TCP = "tcp"
    UDP = "udp"
    SCTP = "sctp"
    NONE = "none"  # fwmark services


class Forwarding(enum.Enum):
    """lb_kind / lvs_method; values are IPVS_CONN_F_* forwarding codes."""

    NAT = 0  # IP_VS_CONN_F_MASQ
    TUN = 2  # IP_VS_CONN_F_TUNNEL
    DR = 3  # IP_VS_CONN_F_DROUTE


@dataclass(frozen=True, slots=True)
class ServiceKey:
    family: int  # 4 or 6
    protocol: Protocol
    addr: str | None  # None for fwmark services
    port: int
    fwmark: int = 0

    def __str__(self) -> str:
        """keepalived's FMT_VS: `[IP]:proto:port` or `FWM N`."""
        if self.fwmark:
            return f"FWM {self.fwmark}"
        return f"[{self.addr}]:{self.protocol.value}:{self.port}"


@dataclass(frozen=True, slots=True, order=True)
class DestKey:
    addr: str
    port: int


@dataclass(frozen=True, slots=True)
class Dest:
    addr: str
    port: int
    weight: int = 1
    forwarding: Forwarding = Forwarding.NAT
    u_threshold: int = 0
    l_threshold: int = 0

    @property
    def key(self) -> DestKey:
        return DestKey(self.addr, self.port)


@dataclass(frozen=True, slots=True)
class Service:
    key: ServiceKey
    scheduler: str = "wlc"
    persistence_timeout: int = 0  # seconds, 0 = not persistent
    persistence_granularity: str | None = None  # netmask (v4) or prefix length (v6)
    persistence_engine: str | None = None
    flags: frozenset[str] = frozenset()  # flag-1.., sh-port, sh-fallback, mh-port, mh-fallback, ops


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    service: Service
    dests: Mapping[DestKey, Dest] = field(default_factory=dict)


LvsTable = Mapping[ServiceKey, ServiceEntry]


@dataclass(frozen=True, slots=True)
class LvsStats:
    """Traffic counters of a service or destination, as IPVS keeps them (ip_vs_stats, `ipvsadm -Ln
    --stats`): connections, packets and bytes in and out. The nftables data plane fills what its
    counters can see (out* stay 0 where a direction is not counted)."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0


@dataclass(frozen=True, slots=True)
class ServiceStats:
    total: LvsStats
    dests: Mapping[DestKey, LvsStats] = field(default_factory=dict)


LvsCounters = Mapping[ServiceKey, ServiceStats]


def make_entry(service: Service, dests: list[Dest]) -> ServiceEntry:
    return ServiceEntry(service, {d.key: d for d in dests})
