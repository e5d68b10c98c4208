# Theory of operation
# -------------------
# The checks of keepalived 2.2.7's vrrp_complete_init that look at the running system and make it
# fail (vrrp.c chk_min_cfg, check_vrid_conflicts; the loopback test of vrrp_parser.c's `interface`):
# its VRRP child then exits with a permanent CONFIG error and the parent stops the daemon with
# status 2, no respawn. A pure function of the model and the interface names/types it is given
# (read from /sys/class/net by default); used by the VRRP child at start and at a reload (where
# pykeepalived keeps the running configuration instead: docs/migration.md) and by the config test.
"""keepalived's vrrp_complete_init failures that depend on the system: loopback interface, duplicate VRIDs."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

from pykeepalived.config.diag import Diagnostic, Reporter
from pykeepalived.config.model import Model, VrrpInstance

ARPHRD_LOOPBACK = 772


def link_type(name: str) -> int | None:
    """The interface's ARPHRD type (/sys/class/net/NAME/type), None if it does not exist."""
    try:
        with open(f"/sys/class/net/{name}/type") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def complete_diagnostics(model: Model, types: Callable[[str], int | None] = link_type) -> list[Diagnostic]:
    """The lines of keepalived's failing vrrp_complete_init checks (each marked stops_vrrp), in its
    order; none when the file passes them."""
    rep = Reporter()
    for i in model.vrrp_instances:
        if i.interface is not None and types(i.interface) == ARPHRD_LOOPBACK:
            rep.error(i.interface_loc,
                      f"({i.name}) cannot use a loopback interface ({i.interface}) for vrrp - ignoring")
            rep.stop_vrrp(f"({i.name}) Unknown interface!")
            return rep.diags  # chk_min_cfg: the first failure stops
    for a, b in combinations(model.vrrp_instances, 2):
        if a.family != b.family or a.vrid != b.vrid or bool(a.unicast_peers) != bool(b.unicast_peers):
            continue
        if a.unicast_peers:
            if a.interface and b.interface and a.interface != b.interface:
                continue
            if (a.unicast_src_ip, a.interface if a.unicast_src_ip is None else None) != (
                    b.unicast_src_ip, b.interface if b.unicast_src_ip is None else None):
                continue  # different local addresses (one from the interface: treated as different)
            if {p[0] for p in a.unicast_peers} & {p[0] for p in b.unicast_peers}:
                rep.stop_vrrp(f"({a.name}) duplicate VRID conflict with {b.name} VRID {a.vrid}")
            continue
        if a.interface != b.interface or _group(model, a) != _group(model, b):
            continue
        if a.interface is not None and types(a.interface) is not None:
            rep.stop_vrrp(f"{a.name} and {b.name} both use VRID {a.vrid} with IPv{a.family}"
                          f" on interface {a.interface}")
    return rep.diags


def _group(model: Model, i: VrrpInstance) -> object:
    g = model.global_defs
    return i.mcast_dst_ip or (g.vrrp_mcast_group4 if i.family == 4 else g.vrrp_mcast_group6)
