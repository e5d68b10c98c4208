"""The typed values of the global LVS keywords (lvs_timeouts, lvs_sync_daemon): built by the
configuration (config/lvs_globals.py), applied by either data plane (linux/ipvs.py, linux/nft_lb.py,
linux/ipvs_sync.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LvsTimeouts:
    """Seconds; 0 = not configured (the kernel's value is kept)."""

    tcp: int = 0
    tcpfin: int = 0
    udp: int = 0

    def __bool__(self) -> bool:
        return bool(self.tcp or self.tcpfin or self.udp)


@dataclass(frozen=True, slots=True)
class SyncdConfig:
    ifname: str
    instance: str | None = None  # the vrrp_instance that decides master/backup; None: both
    syncid: int | None = None  # None: the instance's VRID (0 without an instance)
    maxlen: int = 0  # 0: kernel default
    port: int = 0
    ttl: int = 0
    group: str | None = None  # IPv4 or IPv6 multicast group; None: kernel default


def resolve_syncid(cfg: SyncdConfig, vrids: dict[str, int]) -> int | None:
    """The sync id: configured, else the tied instance's VRID, else 0; None if the instance is unknown
    (keepalived vrrp_complete_init: `Unable to find vrrp instance VI for lvs_syncd - clearing ...`)."""
    if cfg.instance is not None and cfg.instance not in vrids:
        return None
    if cfg.syncid is not None:
        return cfg.syncid
    return vrids[cfg.instance] if cfg.instance is not None else 0


Tied = tuple[SyncdConfig, int] | None  # an instance-tied lvs_sync_daemon and its sync id


def tied_syncd(cfg: SyncdConfig | None, vrids: dict[str, int], report: Callable[[str], None]) -> Tied:
    """The lvs_sync_daemon the VRRP child runs (one tied to an instance) with its sync id; None
    without one (or when it is the checker child's), or, reported, when the instance is unknown."""
    if cfg is None or cfg.instance is None:
        return None
    syncid = resolve_syncid(cfg, vrids)
    if syncid is None:
        report(f"Unable to find vrrp instance {cfg.instance} for lvs_syncd - clearing lvs_syncd config")
        return None
    return cfg, syncid
