# Theory of operation
# -------------------
# The cross-node check: what keepalived cannot see because it reads one node's file. A pure function
# of the nodes' configuration models (cluster/model.py builds the virtual routers from them); no I/O.
#
# RULES is the table the check runs, in order: each row is a code (what CI output greps for), what the
# rule looks at, and a small function of the cluster that yields Findings. A Finding names the
# virtual router, says what goes wrong in keepalived's own words (the log line a node would write,
# the keyword to change), cites every side as `FILE: Line N` (the line of the keyword, or of the
# vrrp_instance block when the keyword is left at its default) and suggests a fix. Its severity:
#   ERROR   the nodes cannot form one virtual router: adverts dropped on receive (VIP count, auth,
#           advert_int, version, checksum, transport), two routers on one VRID, two address owners:
#           expect two MASTERs holding the same VIP (split brain);
#   WARNING the router works but not as the files suggest: ties, nopreempt defeated, weights that
#           never move the VIP (or always do), notify scripts one node lacks, mismatched eVIPs.
#
# The tracking arithmetic reuses the VRRP core's own (vrrp/tracking.py contribution and the 1..254
# clamp), and the trackers an instance really has (sync group and owner rules) come from the same
# function the daemon uses (config/to_params.py instance_tracks).
"""Cross-node consistency check of a VRRP cluster's keepalived.conf files (pure)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from pykeepalived.cluster.model import Cluster, Member, Router, split_group
from pykeepalived.config.diag import Loc
from pykeepalived.config.to_params import instance_tracks
from pykeepalived.vrrp.tracking import clamp_priority, contribution

OWNER = 255


class Severity(enum.IntEnum):
    WARNING = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class Site:
    """One side of a finding: a node, the place in its file, what is written there."""

    node: str
    loc: Loc
    what: str


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    subject: str  # the virtual router (or instance) concerned
    message: str
    sites: tuple[Site, ...]
    fix: str

    def format(self) -> str:
        width = max(len(s.node) for s in self.sites) if self.sites else 0
        lines = [f"{self.severity.name} [{self.code}] {self.subject}: {self.message}"]
        lines += [f"    {s.node:<{width}}  {s.loc}: {s.what}" for s in self.sites]
        lines.append(f"    fix: {self.fix}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    looks_at: str
    run: Callable[[Cluster], Iterable[Finding]]


def per_router(fn: Callable[[Router], Iterable[Finding]]) -> Callable[[Cluster], Iterator[Finding]]:
    def run(c: Cluster) -> Iterator[Finding]:
        for r in c.routers():
            if len({m.node for m in r.members}) > 1:
                name = f"({r.members[0].inst.name})"  # the log lines quoted carry the instance's name
                yield from (replace(f, message=f.message.replace("(NAME)", name)) for f in fn(r))

    return run


def site(m: Member, what: str, *keywords: str) -> Site:
    written = any(k in dict(m.inst.keyword_locs) for k in keywords)
    return Site(m.node, m.loc(*keywords), what if written or not keywords else f"{what} (default)")


def differing(
    r: Router, value: Callable[[Member], object], keywords: tuple[str, ...], shown: Callable[[Member], str]
) -> tuple[Site, ...] | None:
    """The members' sites when `value` is not the same on every member, else None."""
    if len({repr(value(m)) for m in r.members}) < 2:
        return None
    return tuple(site(m, shown(m), *keywords) for m in r.members)


# ------------------------------------------------------------------------------------------------ rules
def vrid_collisions(c: Cluster) -> Iterator[Finding]:
    """Two different virtual routers on one VRID and LAN (VMAC included)."""
    for key, group in c.vrid_groups().items():
        parts = [Router(key, tuple(p)) for p in split_group(group)]
        label = parts[0].label.split(" (")[0]
        dup_node = [r for r in parts if len({m.node for m in r.members}) < len(r.members)]
        if len(parts) > 1 or dup_node:
            ms = [m for r in parts for m in r.members]
            yield Finding(
                "vrid-collision", Severity.ERROR, label,
                "different vrrp_instances (no common name or VIP) use the same virtual_router_id on the "
                "same LAN: each takes the other's adverts for its own router (\"received an unexpected ip "
                "number count\" / \"ip address associated with VRID not present in MASTER advert\"), "
                "so masters flap or both stay MASTER",
                tuple(site(m, f"vrrp_instance {m.inst.name} virtual_router_id {m.inst.vrid}, VIPs "
                              f"{_vips(m)}", "virtual_router_id") for m in ms),
                "give each virtual router its own virtual_router_id (1-255) on this LAN, the same on "
                "every node of that router",
            )
    for n in c.nodes:  # VMAC: one MAC 00:00:5e:00:01:VRID (02 for IPv6) per VRID, interface vrrp.VRID
        seen: dict[tuple[int, int | None], Member] = {}
        for i in n.model.vrrp_instances:
            if i.use_vmac is None or i.use_vmac.name:  # an explicit VMAC name is the operator's choice
                continue
            m = Member(n.name, i, n.model)
            first = seen.setdefault((i.family, i.vrid), m)
            if first is not m:
                yield Finding(
                    "vmac-collision", Severity.ERROR, f"VRID {i.vrid} use_vmac on {n.name}",
                    f"two instances with use_vmac and VRID {i.vrid} on one node want the same VMAC "
                    f"interface vrrp.{i.vrid} and MAC 00:00:5e:00:0{1 if i.family == 4 else 2}:{i.vrid:02x}",
                    (site(first, f"{first.inst.name} use_vmac", "use_vmac"),
                     site(m, f"{i.name} use_vmac", "use_vmac")),
                    "use a different virtual_router_id, or name the VMAC interfaces (use_vmac NAME)",
                )


def vip_in_two_routers(c: Cluster) -> Iterator[Finding]:
    """One address in the VIP lists of two virtual routers (often a VRID or interface differing
    between the nodes of what was meant to be one router)."""
    owner: dict[object, Router] = {}
    reported: set[tuple[object, ...]] = set()
    for r in c.routers():
        for m in r.members:
            for v in (*m.inst.vips, *m.inst.evips):
                first = owner.setdefault(v.address, r)
                if first is r or (first.key, r.key, v.address) in reported:
                    continue
                reported.add((first.key, r.key, v.address))
                other, ov = next((x, a) for x in first.members for a in (*x.inst.vips, *x.inst.evips)
                                 if a.address == v.address)
                yield Finding(
                    "vip-in-two-routers", Severity.ERROR, str(v.address),
                    f"the address is a VIP of two virtual routers ({first.label} and {r.label}): each "
                    "elects its own MASTER, and both add the address",
                    (Site(other.node, ov.loc, f"{other.inst.name} virtual_router_id {other.inst.vrid} "
                          f"interface {other.inst.interface}"),
                     Site(m.node, v.loc, f"{m.inst.name} virtual_router_id {m.inst.vrid} "
                          f"interface {m.inst.interface}")),
                    "put the address in one virtual router only, with the same virtual_router_id, "
                    "interface and unicast/multicast choice on every node",
                )


def lonely_routers(c: Cluster) -> Iterator[Finding]:
    if len(c.nodes) < 2:
        return
    routers = c.routers()
    keys = [r.key for r in routers]
    for r in routers:
        if len({m.node for m in r.members}) == 1 and keys.count(r.key) == 1:  # else: a vrid-collision
            m = r.members[0]
            yield Finding(
                "single-node-router", Severity.WARNING, r.label,
                f"only {m.node} has this virtual router: it is MASTER alone, with no backup (another node's "
                "instance of it may have a different virtual_router_id, interface or unicast setting)",
                (site(m, f"vrrp_instance {m.inst.name} virtual_router_id {m.inst.vrid} "
                         f"interface {m.inst.interface}", "virtual_router_id"),),
                "configure the instance on the other nodes with the same virtual_router_id, address family "
                "and LAN (--lan NODE:IFACE=LAN when interface names differ)",
            )


def _vips(m: Member, evips: bool = False) -> str:
    vs = m.inst.evips if evips else m.inst.vips
    return " ".join(sorted(str(v.address) for v in vs)) or "none"


def _first_vip_loc(m: Member, evips: bool = False) -> Site:
    vs = m.inst.evips if evips else m.inst.vips
    kw = "virtual_ipaddress_excluded" if evips else "virtual_ipaddress"
    if vs:
        return Site(m.node, vs[0].loc, f"{kw} {_vips(m, evips)}")
    return site(m, f"{kw} {_vips(m, evips)}", kw)


@per_router
def vip_sets(r: Router) -> Iterator[Finding]:
    if len({_vips(m) for m in r.members}) > 1:
        counts = {len(m.inst.vips) for m in r.members}
        said = ("\"(NAME) received an unexpected ip number count N, expected M!\"" if len(counts) > 1 else
                "\"(NAME) ip address associated with VRID N not present in MASTER advert: ADDR\"")
        yield Finding(
            "vip-set", Severity.ERROR, r.label,
            f"the virtual_ipaddress lists differ: each node drops the other's adverts ({said}, "
            "addr_list_err) and every node becomes MASTER with its own list (split brain)",
            tuple(_first_vip_loc(m) for m in r.members),
            "give every node the same virtual_ipaddress addresses (order does not matter); addresses "
            "that differ per node go in virtual_ipaddress_excluded",
        )
    if len({_vips(m, True) for m in r.members}) > 1:
        yield Finding(
            "evip-set", Severity.WARNING, r.label,
            "the virtual_ipaddress_excluded lists differ: they are not in the adverts, so the router "
            "works, but a failover adds a different set of addresses",
            tuple(_first_vip_loc(m, True) for m in r.members),
            "list the same excluded addresses on every node, unless the difference is meant",
        )


@per_router
def auth(r: Router) -> Iterator[Finding]:
    if any(m.inst.version != 2 for m in r.members):
        return  # VRRPv3 has no authentication (keepalived ignores it); a version mismatch is reported
    sites = differing(r, lambda m: m.inst.auth_type or "NONE", ("auth_type", "authentication"),
                      lambda m: f"auth_type {m.inst.auth_type or '(none)'}")
    if sites:
        yield Finding(
            "auth-type", Severity.ERROR, r.label,
            "the authentication types differ: adverts are rejected (\"(NAME) received a 1 auth, "
            "expecting 0!\", \"No AH header but auth type is AH\"): every node becomes MASTER",
            sites, "use the same authentication { auth_type } on every node (or none anywhere)",
        )
        return
    if r.members[0].inst.auth_type is None:
        return
    sites = differing(r, lambda m: m.inst.auth_pass.encode("utf-8", "surrogateescape")[:8],
                      ("auth_pass",), lambda m: "auth_pass " + "*" * len(m.inst.auth_pass[:8]))
    if sites:
        yield Finding(
            "auth-pass", Severity.ERROR, r.label,
            "the auth_pass passwords differ (only the first 8 characters count): adverts are rejected "
            "(\"(NAME) received an invalid passwd!\" / \"invalid IPSEC HMAC-MD5 value\"): every node "
            "becomes MASTER",
            sites, "use the same auth_pass on every node",
        )


@per_router
def advert_int(r: Router) -> Iterator[Finding]:
    def shown(m: Member) -> str:
        return f"advert_int {m.inst.advert_int_us / 1e6:g}"

    sites = differing(r, lambda m: m.inst.advert_int_us, ("advert_int",), shown)
    if not sites:
        return
    if all(m.inst.version == 2 for m in r.members):
        yield Finding(
            "advert-int", Severity.ERROR, r.label,
            "the advert_int values differ: VRRPv2 drops every advert with another interval "
            "(\"(NAME) advertisement interval mismatch mine=1 sec rcv'd=2 sec\"): every node becomes MASTER",
            sites, "use the same advert_int on every node",
        )
    elif all(m.inst.version == 3 for m in r.members):
        yield Finding(
            "advert-int", Severity.WARNING, r.label,
            "the advert_int values differ: with VRRPv3 a backup adopts its master's interval, so the "
            "failover time depends on which node is MASTER",
            sites, "use the same advert_int on every node",
        )


@per_router
def version_and_checksum(r: Router) -> Iterator[Finding]:
    sites = differing(r, lambda m: m.inst.version, ("version", "vrrp_version"),
                      lambda m: f"version {m.inst.version}")
    if sites:
        yield Finding(
            "vrrp-version", Severity.ERROR, r.label,
            "the VRRP versions differ (version / global vrrp_version): adverts are rejected "
            "(\"(NAME) wrong version. Received 3 and expect 2\"): every node becomes MASTER",
            _global_fallback(r, sites, "vrrp_version"),
            "use the same version on every node (move all nodes to 3 together)",
        )
        return
    if r.members[0].inst.version == 3 and r.members[0].inst.family == 4:
        sites = differing(r, lambda m: m.inst.v3_checksum_as_v2, ("v3_checksum_as_v2",),
                          lambda m: "v3_checksum_as_v2" if m.inst.v3_checksum_as_v2 else "RFC 5798 checksum")
        if sites:
            yield Finding(
                "checksum", Severity.ERROR, r.label,
                "the VRRPv3 checksum forms differ (global v3_checksum_as_v2 on some nodes only): the "
                "nodes without it reject the others' adverts (\"Invalid VRRPv3 checksum\", chk_err)",
                _global_fallback(r, sites, "v3_checksum_as_v2"),
                "set v3_checksum_as_v2 on every node, or on none",
            )
        sites = differing(r, lambda m: m.inst.old_unicast_checksum, ("old_unicast_checksum",),
                          lambda m: "old_unicast_checksum" if m.inst.old_unicast_checksum else "new checksum")
        if sites and r.members[0].unicast:
            yield Finding(
                "checksum", Severity.WARNING, r.label,
                "old_unicast_checksum is set on some nodes only: the others fall back after a first "
                "\"Invalid VRRPv3 checksum\" (\"Setting unicast VRRPv3 checksum to old version\")",
                sites, "set old_unicast_checksum on every node or on none",
            )
    sites = differing(r, lambda m: m.inst.strict_mode, ("strict_mode", "vrrp_strict"),
                      lambda m: "strict_mode on" if m.inst.strict_mode else "strict_mode off")
    if sites:
        yield Finding(
            "strict-mode", Severity.WARNING, r.label,
            "vrrp_strict / strict_mode is set on some nodes only: the strict nodes use no authentication, "
            "no preempt_delay and lower_prio_no_advert, so the nodes behave differently after a failover",
            _global_fallback(r, sites, "vrrp_strict"),
            "use vrrp_strict on every node or on none",
        )


def _global_fallback(r: Router, sites: tuple[Site, ...], gkw: str) -> tuple[Site, ...]:
    """Cite global_defs' keyword where the instance does not set the value itself."""
    out = []
    for m, s in zip(r.members, sites, strict=True):
        g = m.model.global_defs.loc_of(gkw)
        inherited = s.what.endswith("(default)")
        what = "global_defs " + s.what.removesuffix(" (default)")
        out.append(Site(s.node, g, what) if g and inherited else s)
    return tuple(out)


@per_router
def priorities(r: Router) -> Iterator[Finding]:
    owners = [m for m in r.members if m.inst.priority == OWNER]
    if len(owners) > 1:
        yield Finding(
            "two-owners", Severity.ERROR, r.label,
            "more than one node has priority 255 (the address owner): each is MASTER from its start "
            "and none yields to the other (equal priority): both hold the VIPs",
            tuple(site(m, f"priority {m.inst.priority}", "priority", "state") for m in owners),
            "give priority 255 to one node at most (the one that really owns the addresses); others 1-254",
        )
    by_prio: dict[int, list[Member]] = {}
    for m in r.members:
        if m.inst.priority != OWNER:
            by_prio.setdefault(m.inst.priority, []).append(m)
    for prio, ms in by_prio.items():
        if len(ms) > 1:
            yield Finding(
                "priority-tie", Severity.WARNING, r.label,
                f"{len(ms)} nodes have priority {prio}: at a simultaneous start the one with the highest "
                "primary IP address wins, and after a failover the new MASTER keeps the VIPs (a backup "
                "of equal priority never preempts)",
                tuple(site(m, f"priority {m.inst.priority}", "priority") for m in ms),
                "give each node a different priority if one should be preferred (or use nopreempt on "
                "all of them if none should)",
            )


@per_router
def preemption(r: Router) -> Iterator[Finding]:
    ms = r.members
    masters = [m for m in ms if m.inst.state == "MASTER" and m.inst.priority != OWNER]
    top = max(m.inst.priority for m in ms)
    if len(masters) > 1:
        yield Finding(
            "state-master", Severity.WARNING, r.label,
            "several nodes have state MASTER: each starts as MASTER without waiting for the others' "
            "adverts, so both hold the VIPs until the lower priority one hears the higher",
            tuple(site(m, f"state MASTER, priority {m.inst.priority}", "state") for m in masters),
            "set state BACKUP everywhere and let the priorities elect the master",
        )
    for m in masters:
        higher = [o for o in ms if o.inst.priority > m.inst.priority]
        if higher:
            o = higher[0]
            yield Finding(
                "state-master", Severity.WARNING, r.label,
                f"{m.node} has state MASTER but {o.node} has a higher priority: {m.node} takes the VIPs at "
                f"each start and gives them back as soon as it hears {o.node} (a needless double move)",
                (site(m, f"state MASTER, priority {m.inst.priority}", "state"),
                 site(o, f"priority {o.inst.priority}", "priority")),
                "use state BACKUP, or give the MASTER node the highest priority",
            )
    nopre = [m for m in ms if m.inst.nopreempt]
    if not nopre:
        return
    for m in masters:
        yield Finding(
            "nopreempt", Severity.WARNING, r.label,
            f"nopreempt on {', '.join(n.node for n in nopre)} is defeated by state MASTER on {m.node}: "
            f"{m.node} becomes MASTER at each start whatever the others' state (keepalived: nopreempt "
            "needs state BACKUP on every node)",
            (*(site(n, "nopreempt", "nopreempt") for n in nopre), site(m, "state MASTER", "state")),
            f"set state BACKUP on {m.node}",
        )
    preempting_top = [m for m in ms if m.inst.priority == top and not m.inst.nopreempt]
    if preempting_top and not masters:
        t = preempting_top[0]
        yield Finding(
            "nopreempt", Severity.WARNING, r.label,
            f"nopreempt is set on {', '.join(n.node for n in nopre)} but not on {t.node}, the highest "
            f"priority ({t.inst.priority}): {t.node} still takes the VIPs back whenever it returns",
            (*(site(n, "nopreempt", "nopreempt") for n in nopre), site(t, "(preempts)", "nopreempt")),
            f"set nopreempt on every node, {t.node} included, if the VIPs should stay where they are",
        )


@per_router
def unicast_peers(r: Router) -> Iterator[Finding]:
    ms = r.members
    if not all(m.unicast for m in ms):
        return  # a unicast instance never groups with a multicast one (separate VRID spaces)
    srcs = {m.node: m.inst.unicast_src_ip for m in ms}
    for m in ms:
        if srcs[m.node] is None:
            yield Finding(
                "unicast-src", Severity.WARNING, r.label,
                f"{m.node} has unicast_peer but no unicast_src_ip: it sends from its interface's primary "
                "address, which the other nodes' unicast_peer lists cannot be checked against",
                (site(m, "unicast_peer without unicast_src_ip", "unicast_peer"),),
                f"set unicast_src_ip on {m.node} to the address the other nodes list",
            )
    for a in ms:
        for b in ms:
            src = srcs[a.node]
            if a is b or src is None:
                continue
            peers = {p for p, _, _ in b.inst.unicast_peers}
            if src not in peers:
                yield Finding(
                    "unicast-peer", Severity.ERROR, r.label,
                    f"{b.node}'s unicast_peer list lacks {a.node}'s unicast_src_ip {src}: {b.node} never "
                    f"sends its adverts to {a.node}"
                    + (f" and drops {a.node}'s (\"unicast source address {src} not a unicast peer\")"
                       if b.inst.check_unicast_src else "")
                    + ": the peering is not symmetric and both can be MASTER",
                    (site(a, f"unicast_src_ip {src}", "unicast_src_ip"),
                     site(b, "unicast_peer " + " ".join(sorted(map(str, peers))), "unicast_peer")),
                    f"add {src} to {b.node}'s unicast_peer block",
                )
    for m in ms:
        own = srcs[m.node]
        if own is not None and own in {p for p, _, _ in m.inst.unicast_peers}:
            yield Finding(
                "unicast-peer", Severity.WARNING, r.label,
                f"{m.node} lists its own unicast_src_ip {own} as a unicast_peer",
                (site(m, f"unicast_src_ip {own}", "unicast_src_ip"), site(m, "unicast_peer", "unicast_peer")),
                "remove the node's own address from its unicast_peer block",
            )


def _group_routers(c: Cluster) -> dict[tuple[str, str], tuple[Member, frozenset[str]]]:
    """(node, instance) -> (member, the labels of the routers of its sync group's members)."""
    label = {(m.node, m.inst.name): r.label for r in c.routers() for m in r.members}
    out = {}
    for n in c.nodes:
        for g in n.model.sync_groups:
            routers = frozenset(label[(n.name, i)] for i in g.members if (n.name, i) in label)
            for i in n.model.vrrp_instances:
                if i.name in g.members:
                    out[(n.name, i.name)] = (Member(n.name, i, n.model), routers)
    return out


def sync_groups(c: Cluster) -> Iterator[Finding]:
    groups = _group_routers(c)
    for r in c.routers():
        if len({m.node for m in r.members}) < 2:
            continue
        views = {m.node: groups.get((m.node, m.inst.name), (m, frozenset()))[1] for m in r.members}
        if len(set(views.values())) < 2:
            continue

        yield Finding(
            "sync-group", Severity.WARNING, r.label,
            "the nodes group this router with different routers in their vrrp_sync_group: the routers "
            "that move together on one node move separately on the other, so after a failover the VIPs "
            "of one group can be split between nodes",
            tuple(Site(m.node, _sync_loc(m), _sync_shown(m, views[m.node])) for m in r.members),
            "put the same instances (same VRIDs) in the same vrrp_sync_group on every node",
        )


def _sync_shown(m: Member, routers: frozenset[str]) -> str:
    if not routers:
        return "in no sync group"
    return f"vrrp_sync_group {m.inst.sync_group} with {', '.join(sorted(routers))}"


def _sync_loc(m: Member) -> Loc:
    g = next((g for g in m.model.sync_groups if g.name == m.inst.sync_group), None)
    return g.loc if g is not None else m.inst.loc


def _priority_range(m: Member) -> tuple[int, list[tuple[str, str, int, Loc]]]:
    """The member's effective priority with every tracker healthy, and each weighted boolean
    tracker's (kind, name, priority when it alone fails, where the tracking is written)."""
    base = m.inst.priority
    tracks = [t for t in instance_tracks(m.model, m.inst) if t.weight and t.kind != "file"]
    healthy = sum(contribution(t, True) or 0 for t in tracks)
    locs = {(t.kind, t.name): t.loc for t in m.inst.tracks}
    out = []
    for t in tracks:
        failed = healthy - (contribution(t, True) or 0) + (contribution(t, False) or 0)
        out.append((t.kind, t.name, clamp_priority(base + failed), locs.get((t.kind, t.name), m.inst.loc)))
    return clamp_priority(base + healthy), out


@per_router
def tracking_weights(r: Router) -> Iterator[Finding]:
    ms = [m for m in r.members if m.inst.priority != OWNER]  # an owner's priority never changes
    if len(ms) < 2:
        return
    healthy = {m.node: _priority_range(m) for m in ms}
    eff = {n: h[0] for n, h in healthy.items()}
    master = max(ms, key=lambda m: eff[m.node])
    for kind, name, failed, loc in healthy[master.node][1]:
        takers = [o for o in ms if o is not master and eff[o.node] > failed and not o.inst.nopreempt]
        if takers:
            continue
        best = max((o for o in ms if o is not master), key=lambda o: eff[o.node])
        why = (f"{failed} is still not below {best.node}'s {eff[best.node]}" if eff[best.node] <= failed else
               f"{best.node} ({eff[best.node]}) has nopreempt and never takes over from a live MASTER")
        yield Finding(
            "weight-never-moves", Severity.WARNING, r.label,
            f"when track_{kind} {name} fails on {master.node} (the MASTER, effective priority "
            f"{eff[master.node]}), its priority drops to {failed}, but {why}: the VIPs never move",
            (Site(master.node, loc, f"track_{kind} {name} (priority {master.inst.priority}, "
                  f"{eff[master.node]} healthy, {failed} failed)"),
             site(best, f"priority {best.inst.priority} ({eff[best.node]} healthy)", "priority")),
            f"make the weight's magnitude larger than {eff[master.node] - eff[best.node]} (weight "
            f"-{eff[master.node] - eff[best.node] + 1}), or track it without weight (a failure is then "
            "FAULT)" + (f", or drop nopreempt on {best.node}" if best.inst.nopreempt else ""),
        )
    top_base = max(m.inst.priority for m in ms)
    preferred = [m for m in ms if m.inst.priority == top_base]
    if len(preferred) == 1 and eff[master.node] > eff[preferred[0].node]:
        p = preferred[0]
        yield Finding(
            "weight-always-moves", Severity.WARNING, r.label,
            f"with every check passing, {master.node}'s positive weights lift it to {eff[master.node]}, "
            f"above {p.node}'s {eff[p.node]}: {p.node}, configured with the highest priority, never holds "
            "the VIPs while things are healthy",
            (site(master, f"priority {master.inst.priority} ({eff[master.node]} healthy)", "priority"),
             site(p, f"priority {p.inst.priority} ({eff[p.node]} healthy)", "priority")),
            "use the same tracked objects and weights on every node, or negative weights (subtracted on "
            "failure) so that the configured priorities decide while all is healthy",
        )


NOTIFY_KEYWORDS = ("notify", "notify_master", "notify_backup", "notify_fault", "notify_stop",
                   "notify_master_rx_lower_pri", "notify_deleted")


def _notify_kinds(m: Member) -> tuple[str, ...]:
    kinds = {kw for kw, _ in m.inst.notify}
    g = next((g for g in m.model.sync_groups if g.name == m.inst.sync_group), None)
    kinds |= {f"vrrp_sync_group {kw}" for kw, _ in (g.notify if g else ())}
    return tuple(sorted(kinds))


@per_router
def notify_contracts(r: Router) -> Iterator[Finding]:
    sites = differing(r, _notify_kinds, NOTIFY_KEYWORDS,
                      lambda m: ", ".join(_notify_kinds(m)) or "no notify script")
    if sites:
        yield Finding(
            "notify", Severity.WARNING, r.label,
            "the nodes run different notify scripts: what one node does when it becomes MASTER (or "
            "BACKUP, FAULT, STOP) the other does not, so a failover leaves the service half configured",
            sites, "give every node the same notify / notify_master / notify_backup / notify_fault "
            "keywords (the scripts themselves may differ)",
        )


RULES: tuple[Rule, ...] = (
    Rule("vrid-collision", "VRID + LAN used by different instances; VMAC names", vrid_collisions),
    Rule("vip-in-two-routers", "one VIP in two virtual routers", vip_in_two_routers),
    Rule("single-node-router", "a virtual router on one node only", lonely_routers),
    Rule("vip-set", "virtual_ipaddress / _excluded lists", vip_sets),
    Rule("auth", "auth_type and auth_pass (VRRPv2)", auth),
    Rule("advert-int", "advert_int", advert_int),
    Rule("vrrp-version", "version / vrrp_version, checksum form, vrrp_strict", version_and_checksum),
    Rule("priority", "two owners (255), ties", priorities),
    Rule("preempt", "state MASTER, nopreempt", preemption),
    Rule("unicast", "unicast_src_ip / unicast_peer symmetry", unicast_peers),
    Rule("sync-group", "vrrp_sync_group membership", sync_groups),
    Rule("weights", "tracked script/interface weights vs priorities", tracking_weights),
    Rule("notify", "notify scripts", notify_contracts),
)


def check(cluster: Cluster) -> list[Finding]:
    """Every finding of every rule, in RULES order."""
    return [f for rule in RULES for f in rule.run(cluster)]
