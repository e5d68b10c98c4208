# Theory of operation
# -------------------
# The checks of keepalived 2.2.7's vrrp_complete_init that look at the running system and make it
# fail (vrrp.c chk_min_cfg, check_vrid_conflicts; the loopback test of vrrp_parser.c's `interface`):
# its VRRP child then exits with a permanent CONFIG error and the parent stops the daemon with
# status 2, no respawn. A pure function of the model and the interface names/types it is given
# (read from /sys/class/net by default); used by the VRRP child at start and at a reload (where
# pykeepalived keeps the running configuration instead: docs/migration.md) and by the config test.
# fit_vips is vrrp_complete_instance's advert-size check, which changes the model instead of failing:
# the VIPs that do not fit in one advert (255, or fewer when the interface's MTU, less keepalived's
# header sizes, leaves less room) become eVIPs, with keepalived's line.
"""keepalived's vrrp_complete_init checks that depend on the system: loopback interface, duplicate
VRIDs, the number of VIPs an advert can carry."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import combinations

from pykeepalived.config.diag import NOWHERE, Diagnostic, Reporter
from pykeepalived.config.model import Model, VrrpInstance

ARPHRD_LOOPBACK = 772


def _sysfs(name: str, attr: str) -> int | None:
    """/sys/class/net/NAME/ATTR as a number, None if the interface does not exist."""
    try:
        with open(f"/sys/class/net/{name}/{attr}") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def link_type(name: str) -> int | None:
    """The interface's ARPHRD type, None if it does not exist."""
    return _sysfs(name, "type")


def link_mtu(name: str) -> int | None:
    """The interface's MTU, None if it does not exist."""
    return _sysfs(name, "mtu")


# keepalived's header sizes for the room an advert leaves: Ethernet, IP, VRRP header (and for
# VRRPv2 its 8 authentication bytes, plus the 24-byte AH header with auth_type AH)
_ETHER, _VRRP = 14, 8
DEFAULT_MTU = 1500  # keepalived's, for an instance without an interface (unicast)


def max_vips(i: VrrpInstance, mtu: int | None) -> int:
    """How many VIPs keepalived puts in an advert of instance `i` on an interface of MTU `mtu`
    (0 for an interface that does not exist yet: its unsigned room then wraps to the 255 cap)."""
    if i.family == 4:
        hdr = _ETHER + 20 + _VRRP + ((8 + (24 if i.auth_type == "AH" else 0)) if i.version == 2 else 0)
        size = 4
    else:
        hdr, size = _ETHER + 40 + _VRRP, 16
    room = (DEFAULT_MTU if i.interface is None else (mtu or 0)) - hdr
    return 255 if room < 0 else min(255, room // size)


def fit_vips(model: Model, mtus: Callable[[str], int | None] = link_mtu) -> tuple[Model, list[Diagnostic]]:
    """The model with each instance's VIPs beyond what its advert carries moved to the end of its
    eVIPs, and keepalived's line for each instance concerned."""
    rep = Reporter()
    out = []
    mtus = functools.cache(mtus)
    for i in model.vrrp_instances:
        limit = max_vips(i, mtus(i.interface) if i.interface is not None else None)
        if len(i.vips) > limit:
            rep.error(NOWHERE, f"({i.name}) Number of VIPs ({len(i.vips)}) exceeds maximum/space "
                               f"available in packet (max {limit} addresses) - excess moved to eVIPs")
            i = replace(i, vips=i.vips[:limit], evips=i.evips + i.vips[limit:])
        out.append(i)
    if not rep.diags:
        return model, []
    return replace(model, vrrp_instances=tuple(out)), rep.diags


def complete_diagnostics(model: Model, types: Callable[[str], int | None] = link_type) -> list[Diagnostic]:
    """The lines of keepalived's failing vrrp_complete_init checks (each marked stops_vrrp), in its
    order; none when the file passes them."""
    rep = Reporter()
    types = functools.cache(types)  # one look-up per interface, however many instances are on it
    for i in model.vrrp_instances:
        if i.interface is not None and types(i.interface) == ARPHRD_LOOPBACK:
            rep.error(i.interface_loc,
                      f"({i.name}) cannot use a loopback interface ({i.interface}) for vrrp - ignoring")
            rep.stop_vrrp(f"({i.name}) Unknown interface!")
            return rep.diags  # chk_min_cfg: the first failure stops
    for a, b in _same_vrid_pairs(model.vrrp_instances):
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


def _same_vrid_pairs(instances: Sequence[VrrpInstance]) -> list[tuple[VrrpInstance, VrrpInstance]]:
    """The pairs of instances with one family, VRID and kind (unicast or not), in the order of
    itertools.combinations over all of them (without going through the ~n²/2 others)."""
    groups: dict[tuple[int, int | None, bool], list[int]] = {}
    for k, i in enumerate(instances):
        groups.setdefault((i.family, i.vrid, bool(i.unicast_peers)), []).append(k)
    pairs = sorted(p for ks in groups.values() if len(ks) > 1 for p in combinations(ks, 2))
    return [(instances[a], instances[b]) for a, b in pairs]


def _group(model: Model, i: VrrpInstance) -> object:
    g = model.global_defs
    return i.mcast_dst_ip or (g.vrrp_mcast_group4 if i.family == 4 else g.vrrp_mcast_group6)
