# Theory of operation
# -------------------
# What the BFD core needs to know about one bfd_instance, resolved and validated: the BFD child builds
# `BfdParams` from the parsed keepalived.conf model (config/ keeps bfd_instance blocks as `Named`
# blocks, their keywords typed in Named.bfd), the tests build them directly. Defaults and limits are
# keepalived 2.2.7's (keepalived.md §1.8; bfd.h, bfd_parser.c): min_rx/min_tx 10 ms, idle_tx 1000 ms,
# multiplier 5, ttl 255 (IPv4) / hoplimit 64 (IPv6), max_hops 0, events to both the VRRP and the
# checker process unless `vrrp` or `checker` names one. Times are integer microseconds (keepalived's
# TIMER_HZ).
#
# keepalived's end-of-block checks (bfd_parser.c bfd_end_handler) are reproduced in
# `params_from_model`, with its texts: source and neighbour of different families, a duplicate
# neighbour (or source/neighbour pair) remove the instance; max_hops above ttl is clamped.
# `multihop` (RFC 5883, port 4784) is accepted by our grammar though keepalived 2.2.7 has no such
# keyword: it is a pykeepalived extension.
"""Resolved bfd_instance parameters for the sans-I/O BFD core."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.config.model import Model, Named

IPAddress = IPv4Address | IPv6Address

MS = 1_000
SEC = 1_000_000
MIN_RX_DEFAULT_US = 10 * MS
MIN_TX_DEFAULT_US = 10 * MS
IDLE_TX_DEFAULT_US = 1000 * MS
IDLE_TX_MIN_US = 1000 * MS  # RFC 5880 §6.8.3: not less than one second while not Up
MULTIPLIER_DEFAULT = 5
TTL_DEFAULT = 255  # IPv4 (RFC 5881 §5)
HOPLIMIT_DEFAULT = 64  # IPv6: keepalived's BFD_CONTROL_HOPLIMIT
MAX_HOPS_DISABLED = 255  # keepalived: max_hops 255 turns the TTL check off
SENSIBLE_MAX_MS = 10_000


@dataclass(frozen=True, slots=True)
class BfdParams:
    name: str
    neighbor: IPAddress
    source: IPAddress | None = None
    min_rx_us: int = MIN_RX_DEFAULT_US  # bfd.RequiredMinRxInterval
    min_tx_us: int = MIN_TX_DEFAULT_US  # bfd.DesiredMinTxInterval while Up
    idle_tx_us: int = IDLE_TX_DEFAULT_US  # bfd.DesiredMinTxInterval while not Up
    multiplier: int = MULTIPLIER_DEFAULT  # bfd.DetectMult
    passive: bool = False  # RFC 5880 §6.1 passive role
    ttl: int = TTL_DEFAULT  # TTL / hop limit we send with; also the GTSM reference
    max_hops: int = 0  # allowed TTL decrease of received packets (255: no check)
    multihop: bool = False  # RFC 5883 (port 4784); extension
    vrrp: bool = True  # send events to the VRRP process
    checker: bool = True  # send events to the checker process
    weight: int = 0  # default weight for vrrp track_bfd (used by the VRRP child)
    weight_reverse: bool = False

    @property
    def family(self) -> int:
        return self.neighbor.version

    @property
    def port(self) -> int:
        return 4784 if self.multihop else 3784

    def same_path(self, other: BfdParams) -> bool:
        """Same neighbour, source and encapsulation: a reload may keep the session's state."""
        return (self.neighbor, self.source, self.multihop) == (other.neighbor, other.source, other.multihop)

    def min_ttl(self) -> int | None:
        """Lowest received TTL accepted (keepalived bfd_check_packet_ttl), None when unchecked."""
        if self.max_hops == MAX_HOPS_DISABLED:
            return None
        return max(self.ttl - self.max_hops, 0)


def params_from_named(n: Named) -> tuple[BfdParams | None, list[str]]:
    """One bfd_instance block → BfdParams (None if keepalived would drop it) and warning texts."""
    b = n.bfd  # typed by the configuration (config/bag_fields.py)
    warnings: list[str] = []
    if b is None or b.neighbor_ip is None:
        return None, [f"Configuration error: BFD instance {n.name} has no neighbor address set, "
                      "disabling instance"]
    neighbor = ip_address(b.neighbor_ip)
    source = ip_address(b.source_ip) if b.source_ip is not None else None
    if source is not None and source.version != neighbor.version:
        return None, [f"Configuration error: BFD instance {n.name} source address {source} and neighbor "
                      f"address {neighbor} are not of the same family, disabling instance"]
    f = {"min_rx": MIN_RX_DEFAULT_US, "min_tx": MIN_TX_DEFAULT_US, "idle_tx": IDLE_TX_DEFAULT_US}
    for kw, given in (("min_rx", b.min_rx_us), ("min_tx", b.min_tx_us), ("idle_tx", b.idle_tx_us)):
        if given is not None:
            v = given
            if kw == "idle_tx" and v < IDLE_TX_MIN_US:
                warnings.append(f"Configuration error: BFD instance {n.name} idle_tx value {v / MS:g} is not "
                                f"valid (must be in range [1000-4294967]), ignoring")
                continue
            f[kw] = v
            if v > SENSIBLE_MAX_MS * MS:
                warnings.append(f"Configuration warning: BFD instance {n.name} {kw} value {v / MS:g} is "
                                f"larger than max sensible ({SENSIBLE_MAX_MS})")
    multiplier = b.multiplier if b.multiplier is not None else MULTIPLIER_DEFAULT
    ttl = b.ttl
    if not ttl:
        ttl = TTL_DEFAULT if neighbor.version == 4 else HOPLIMIT_DEFAULT
    max_hops = b.max_hops
    if max_hops < 0:
        max_hops = MAX_HOPS_DISABLED  # keepalived stores -1 in a uint8_t
    if max_hops > ttl:
        warnings.append(f"BFD instance {n.name}: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit")
        max_hops = ttl
    vrrp, checker = b.vrrp, b.checker
    if not vrrp and not checker:
        vrrp = checker = True
    return BfdParams(
        name=n.name, neighbor=neighbor, source=source, ttl=ttl, max_hops=max_hops,
        passive=b.passive, multihop=b.multihop, vrrp=vrrp, checker=checker,
        weight=b.weight, weight_reverse=b.weight_reverse, min_rx_us=f["min_rx"], min_tx_us=f["min_tx"],
        idle_tx_us=f["idle_tx"], multiplier=multiplier,
    ), warnings


def params_from_model(model: Model) -> tuple[list[BfdParams], list[str]]:
    """Every usable bfd_instance, in configuration order, and the warnings to log (keepalived texts)."""
    out: list[BfdParams] = []
    warnings: list[str] = []
    for n in model.named_blocks:
        if n.kind != "bfd_instance":
            continue
        p, w = params_from_named(n)
        warnings += w
        if p is None:
            continue
        if any(o.name == p.name for o in out):
            warnings.append(f"Configuration error: BFD instance {p.name} already configured - ignoring")
            continue
        dup = next((o for o in out if o.neighbor == p.neighbor
                    and (o.source is None or p.source is None or o.source == p.source)), None)
        if dup is not None:
            if p.source is not None:
                warnings.append(f"Configuration error: BFD instance {p.name} has duplicate source/neighbor "
                                f"address {p.source}/{p.neighbor}, ignoring instance")
            else:
                warnings.append(f"Configuration error: BFD instance {p.name} has duplicate neighbor address "
                                f"{p.neighbor}, ignoring instance")
            continue
        out.append(p)
    return out, warnings
