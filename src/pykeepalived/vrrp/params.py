# Theory of operation
# -------------------
# What the VRRP core needs to know about one vrrp_instance, resolved and validated: the daemon builds
# an `InstanceParams` from the parsed keepalived.conf model (config/), the simulator builds them
# directly. Values are final (keepalived's defaults and strict-mode rewrites already applied), so the
# core never consults global_defs. Times are integer microseconds (keepalived's TIMER_HZ = 1_000_000)
# except where a name says otherwise (`_cs` centiseconds, `_s` seconds).
"""Resolved per-instance parameters for the sans-I/O VRRP core."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address

# keepalived: TIMER_HZ
SEC = 1_000_000
"""One second in the core's time unit (integer microseconds)."""


class AuthType(enum.IntEnum):
    """VRRPv2 authentication types (RFC 2338 §5.3.6; keepalived vrrp.h)."""

    NONE = 0
    PASS = 1
    AH = 2


class ChecksumMode(enum.Enum):
    """How a VRRPv3 IPv4 checksum is computed (keepalived.md §5.10)."""

    PSEUDO_HEADER = "pseudo"  # RFC 5798 §5.2.8 (keepalived and FRR default)
    AS_V2 = "as_v2"  # v3_checksum_as_v2 / RFC 9568 without pseudo-header
    OLD_UNICAST = "old_unicast"  # old_unicast_checksum: group address as pseudo-header dst


@dataclass(frozen=True, slots=True)
class UnicastPeer:
    address: IPAddress
    min_ttl: int | None = None
    max_ttl: int | None = None


@dataclass(frozen=True, slots=True)
class TrackWeight:
    """One tracked object as the instance uses it: `weight` 0 means unweighted (failure = FAULT)."""

    kind: str  # "script" | "interface" | "file" | "process" | "bfd"
    name: str
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class InstanceParams:
    name: str  # iname, as logged: "(VI_1) ..."
    vrid: int
    family: int  # 4 or 6
    version: int  # 2 or 3
    base_priority: int  # 1..255; 255 = address owner
    interface: str | None
    adver_int_us: int  # own advert interval (v2: whole seconds; v3: 10 ms steps)
    vips: tuple[IPAddress, ...]  # carried in adverts, configured order
    evips: tuple[IPAddress, ...] = ()
    wants_master: bool = False  # `state MASTER`
    nopreempt: bool = False
    preempt_delay_us: int = 0
    down_timer_adverts: int = 3
    auth_type: AuthType = AuthType.NONE
    auth_pass: bytes = b""  # already truncated/zero-padded to 8 bytes
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER
    # old_unicast_checksum: absent = auto-detect (True), `never` = False; configured = OLD_UNICAST above
    old_unicast_checksum_auto: bool = True
    src_ip: IPAddress | None = None  # unicast_src_ip / mcast_src_ip; None = interface primary
    mcast_group: IPAddress | None = None  # None = 224.0.0.18 / ff02::12
    unicast_peers: tuple[UnicastPeer, ...] = ()
    check_unicast_src: bool = False
    unicast_ttl: int = 255
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    owner_ignore_adverts: bool = False
    skip_check_adv_addr: bool = False
    dont_track_primary: bool = False
    garp_master_delay_us: int = 5 * SEC
    garp_master_repeat: int = 5
    garp_master_refresh_us: int = 0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay_us: int = 5 * SEC
    garp_lower_prio_repeat: int = 5
    tracks: tuple[TrackWeight, ...] = ()
    sync_group: str | None = None
    startup_delay_us: int = 0  # vrrp_startup_delay
    strict: bool = False
    use_vmac: bool = False
    log_unknown_vrids: bool = False
    # garp_extra_if / vrrp_garp_extra_if: while MASTER, every N s one GARP/NA per extra interface
    # (the first VIP/eVIP on each), checked when an advert is sent (keepalived vrrp_send_vmac_update)
    garp_extra_if_us: int = 0
    garp_extra_if_addrs: tuple[IPAddress, ...] = ()
    config_fault: bool = False  # unicast_fault_no_peer without peers: held in FAULT (num_config_faults)
    # notify_priority_changes: the instance's, else its sync group's, else the global setting
    notify_priority_changes: bool = False

    @property
    def is_owner(self) -> bool:
        return self.base_priority == 255

    @property
    def is_unicast(self) -> bool:
        return bool(self.unicast_peers)

    @property
    def adver_int_cs(self) -> int:
        return self.adver_int_us // 10_000
