# Theory of operation
# -------------------
# keepalived reads one node's file; a cluster is several nodes' files read together. Each node is the
# configuration model that `load_config` built for it (its file, its `-i` config-id selecting the
# `@node` lines), never re-parsed here. A *virtual router* is what VRRP elects a master for: the
# instances of different nodes that hear each other's adverts, i.e. the same address family and
# VRID on the same LAN with the same transport. keepalived keeps unicast and multicast VRIDs apart
# (vrrp.c check_vrid_conflicts: "Unicast and multicast are separate VRID spaces"); a multicast router
# is further told apart by its group and by its LAN, which for a multicast instance is named by its
# interface: nodes of a cluster usually have the same interface names for one LAN, and `lan_of`
# maps (node, interface) to another LAN name where they do not (`--lan` in the CLI).
#
# Instances grouped this way that share neither a name nor a virtual address are two different
# routers using one VRID (a collision), so a group splits into the connected parts of "same
# instance name or a common VIP": each part is a Router; `Cluster.routers` lists them.
"""The cluster view: the nodes' configuration models and the virtual routers they form."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from pykeepalived.config.diag import Loc
from pykeepalived.config.model import Model, VrrpInstance

TransportKey = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One node: a name for messages, and the model built from its file with its config-id."""

    name: str
    model: Model


@dataclass(frozen=True, slots=True)
class Member:
    """One node's instance of a virtual router."""

    node: str
    inst: VrrpInstance
    model: Model

    def loc(self, *keywords: str) -> Loc:
        return self.inst.loc_of(*keywords)

    @property
    def unicast(self) -> bool:
        return bool(self.inst.unicast_peers)


@dataclass(frozen=True, slots=True)
class Router:
    """The instances (at most one per node, unless they collide) that form one virtual router."""

    key: TransportKey
    members: tuple[Member, ...]

    @property
    def vrid(self) -> int:
        vrid = self.members[0].inst.vrid
        assert vrid is not None
        return vrid

    @property
    def label(self) -> str:
        names = "/".join(dict.fromkeys(m.inst.name for m in self.members))
        fam = "" if self.key[0] == 4 else " IPv6"
        where = "unicast" if self.key[2] == "unicast" else f"on {self.key[3]}"
        return f"VRID {self.vrid}{fam} {where} ({names})"


def transport_key(
    node: str, i: VrrpInstance, model: Model, lan_of: Mapping[tuple[str, str], str]
) -> TransportKey:
    if i.unicast_peers:
        return (i.family, i.vrid, "unicast", "")
    g = model.global_defs
    group = i.mcast_dst_ip or (g.vrrp_mcast_group4 if i.family == 4 else g.vrrp_mcast_group6)
    ifname = i.interface or g.default_interface
    return (i.family, i.vrid, "multicast", lan_of.get((node, ifname), ifname), str(group or ""))


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[ClusterNode, ...]
    lan_of: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def members(self) -> Iterator[Member]:
        for n in self.nodes:
            for i in n.model.vrrp_instances:
                if i.vrid is not None:
                    yield Member(n.name, i, n.model)

    def vrid_groups(self) -> dict[TransportKey, list[Member]]:
        """Members by (family, VRID, transport, LAN[, group]): who hears whose adverts."""
        out: dict[TransportKey, list[Member]] = {}
        for m in self.members():
            out.setdefault(transport_key(m.node, m.inst, m.model, self.lan_of), []).append(m)
        return out

    def routers(self) -> list[Router]:
        out = []
        for key, group in self.vrid_groups().items():
            out += [Router(key, tuple(part)) for part in split_group(group)]
        return out


def split_group(group: list[Member]) -> list[list[Member]]:
    """The connected parts of `group` under "same instance name or a common VIP" (union-find)."""
    parent = list(range(len(group)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a in range(len(group)):
        for b in range(a + 1, len(group)):
            ma, mb = group[a], group[b]
            if ma.node == mb.node:
                continue  # two instances of one node never form one router
            if ma.inst.name == mb.inst.name or {v.address for v in ma.inst.vips} & {
                v.address for v in mb.inst.vips
            }:
                parent[find(a)] = find(b)
    parts: dict[int, list[Member]] = {}
    for k, m in enumerate(group):
        parts.setdefault(find(k), []).append(m)
    return list(parts.values())
