# Theory of operation
# -------------------
# CONTRACT STUB, to be replaced by the implementation. keepalived's receive validation
# (vrrp.c:vrrp_check_packet, keepalived.md §5.5) as one pure function: given the instance's
# parameters, its small mutable receive state and one received datagram, say OK / KO / DROP, which
# stats counters to bump and which log lines to emit. The state machine applies the verdict.
"""Receive validation of VRRP adverts in keepalived's order."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pykeepalived.vrrp.packet import Advertisement, RxPacket
from pykeepalived.vrrp.params import IPAddress, InstanceParams


class RxResult(enum.Enum):
    OK = "ok"  # process it (vrrp_state_backup / vrrp_state_master_rx)
    KO = "ko"  # invalid: counted, logged, ignored
    DROP = "drop"  # not for us: ignored


@dataclass(slots=True)
class RxState:
    """Per-instance receive state that outlives one packet."""

    ah_seq_seen: dict[IPAddress, int] = field(default_factory=dict)  # IPSEC-AH anti-replay
    old_unicast_checksum: bool = False  # switched on by auto-detection (§5.10)


@dataclass(frozen=True, slots=True)
class RxVerdict:
    result: RxResult
    advert: Advertisement | None
    counters: tuple[str, ...] = ()  # keepalived stats names to increment, e.g. ("advert_rcvd",)
    # (rate-limit key, full log text incl. the "(VI_1) " prefix); the state machine logs each key
    # once until its rate-limit flags are cleared (state change / new master), as keepalived does.
    logs: tuple[tuple[str, str], ...] = ()


def check_packet(
    params: InstanceParams,
    state: RxState,
    rx: RxPacket,
    *,
    own_src: IPAddress,
    is_master: bool,
    current_master: IPAddress | None,
) -> RxVerdict:
    raise NotImplementedError
