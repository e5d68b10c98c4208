"""keepalived's VRRP firewall on nftables: accept-mode drop rules and VMAC IGMP/MLD handling.

# Theory of operation
RFC 5798 §6.4.3 (Accept_Mode): a Master that is not the address owner must not accept packets
addressed to the virtual addresses unless Accept_Mode is True. keepalived (no_accept, or vrrp_strict
with priority < 255) implements that with an nftables table, by default `keepalived` (global_defs
`nftables [TABLE]`), one per address family, laid out as keepalived 2.2.7 lays it out so that
`nft list ruleset` reads the same:

    table ip keepalived {
        set vips { type ipv4_addr }                     # VIPs/eVIPs of non-accepting Masters
        chain out { type filter hook output priority P; policy accept;   ip saddr @vips drop }
        chain in  { type filter hook input priority P; policy accept;    ip daddr @vips drop }
    }
    table ip6 keepalived {                              # same, plus neighbour discovery stays
        set vips, set neighbor-discovery (constant: NS, NA), set vips_link_local (addr . ifindex)
        chain out { icmpv6 type @neighbor-discovery accept; ip6 saddr fe80::/10 goto out_link_local;
                    ip6 saddr @vips drop }
        chain in  { ... daddr ... goto in_link_local ...}
        chain in_link_local  { ip6 daddr . iif @vips_link_local drop }
        chain out_link_local { ip6 saddr . oif @vips_link_local drop }
    }

`P` is `nftables_priority` (default -1), `nftables_counters` puts a counter in every rule. A
link-local VIP is keyed by interface index, or by interface name (set `vips_link_local_name`,
`iifname`/`oifname`) when the instance has dont_track_primary and `nftables_ifindex` is not given.

VMACs (use_vmac): a macvlan in private mode would send the IGMP/MLD reports of its multicast
memberships with the VMAC's source MAC; keepalived moves them to the parent interface:

    map vmac_map { type iface_index : iface_index }     # VMAC -> parent
    chain out { ip protocol igmp meta oifkind "macvlan" dup to ip daddr device oif map @vmac_map drop }
    (IPv6: icmpv6 type mld2-listener-report ... ; and router solicitations from VMACs are dropped
     through set vmac_set)

Everything is created lazily, like keepalived: the first time a family's table is needed, a table of
the same name left over (a killed predecessor) is deleted in the same transaction ("Deleting old ...
table"); the chains/sets for VIPs appear when a non-accepting instance first becomes Master, and stay
(empty) afterwards; the VMAC rules appear with the first VMAC. Each change (an instance entering or
leaving MASTER, a VMAC created or removed, stop) is ONE `nft -f -` transaction (linux/nft.run_nft),
atomic in the kernel. Elements are reference-counted, so two instances sharing an address do not
remove it from under each other. At stop both tables are deleted (keepalived 2.2.7 does so even
with --dont-release-vrrp).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address
from typing import Literal

from pykeepalived.linux.nft import run_nft

log = logging.getLogger("pykeepalived")

Family = Literal["ip", "ip6"]
FAMILIES: tuple[Family, ...] = ("ip", "ip6")
DEFAULT_TABLE = "keepalived"
TABLE_MAXNAMELEN = 256  # NFT_TABLE_MAXNAMELEN (the terminating NUL included)
LINK_LOCAL = "fe80::/10"


@dataclass(frozen=True, slots=True)
class FwAddress:
    """One VIP/eVIP as the firewall sees it: link-local IPv6 ones are per interface."""

    address: IPv4Address | IPv6Address
    dev: str = ""  # the interface carrying it (link-local IPv6 only)
    by_name: bool = False  # link-local keyed by interface name rather than index

    @property
    def family(self) -> Family:
        return "ip" if self.address.version == 4 else "ip6"

    @property
    def set_name(self) -> str:
        if self.address.version == 4 or not self.address.is_link_local:
            return "vips"
        return "vips_link_local_name" if self.by_name else "vips_link_local"

    def element(self) -> str:
        if self.set_name.startswith("vips_link_local"):
            return f'{self.address} . "{self.dev}"'
        return str(self.address)


@dataclass(frozen=True, slots=True)
class FwVmac:
    """A VMAC (macvlan) and its parent interface, per address family it carries."""

    ifname: str
    parent: str


@dataclass(slots=True)
class _Setup:
    """What exists in the kernel (keepalived's ipv4_table_setup, ipv4_vips_setup, ...)."""

    table: set[str] = field(default_factory=set)
    vips: set[str] = field(default_factory=set)
    link_local: set[str] = field(default_factory=set)  # set names created
    igmp: set[str] = field(default_factory=set)
    checked_old: bool = False

    def copy(self) -> _Setup:
        return replace(self, table=set(self.table), vips=set(self.vips), link_local=set(self.link_local),
                       igmp=set(self.igmp))


class VrrpNftables:
    """The VRRP firewall table(s); every public coroutine is one nft transaction (or none)."""

    def __init__(self, table: str = DEFAULT_TABLE, *, priority: int = -1, counters: bool = False,
                 nft: str = "nft", netns: str | None = None) -> None:
        self.table = table
        self.priority = priority
        self.counters = counters
        self.nft = nft
        self.netns = netns
        self.setup = _Setup()
        self.elements: Counter[tuple[Family, str, str]] = Counter()
        self.vmacs: Counter[tuple[Family, FwVmac]] = Counter()
        self.transactions = 0

    # ------------------------------------------------------------------ public
    async def add_addresses(self, addrs: list[FwAddress]) -> None:
        """Start dropping traffic to/from these addresses (a non-accepting instance became Master)."""
        setup = self.setup.copy()
        lines = await self._old_tables(setup, {a.family for a in addrs})
        new: list[FwAddress] = []
        for a in addrs:
            key = (a.family, a.set_name, a.element())
            if self.elements[key] == 0 and a not in new:
                lines += self._need_vips(setup, a)
                new.append(a)
        lines += self._elements("add", new)
        await self._commit(lines, setup)
        for a in addrs:
            self.elements[(a.family, a.set_name, a.element())] += 1

    async def remove_addresses(self, addrs: list[FwAddress]) -> None:
        """Stop dropping them (the instance left MASTER)."""
        gone: list[FwAddress] = []
        for a in addrs:
            key = (a.family, a.set_name, a.element())
            if self.elements[key] <= 0:
                continue
            self.elements[key] -= 1
            if self.elements[key] == 0:
                del self.elements[key]
                gone.append(a)
        await self._commit(self._elements("delete", gone), self.setup)

    async def add_vmac(self, vmac: FwVmac, families: list[Family]) -> None:
        """Move IGMP/MLD reports of a VMAC to its parent (keepalived nft_add_vmac)."""
        setup = self.setup.copy()
        lines = await self._old_tables(setup, set(families))
        for fam in families:
            if fam not in setup.igmp:
                lines += self._need_table(setup, fam) + self._igmp(fam)
                setup.igmp.add(fam)
            lines += self._vmac_elements("add", fam, vmac)
        await self._commit(lines, setup)
        for fam in families:
            self.vmacs[(fam, vmac)] += 1

    async def remove_vmac(self, vmac: FwVmac, families: list[Family]) -> None:
        lines: list[str] = []
        for fam in families:
            if self.vmacs[(fam, vmac)] <= 0:
                continue
            self.vmacs[(fam, vmac)] -= 1
            if self.vmacs[(fam, vmac)] == 0:
                del self.vmacs[(fam, vmac)]
                lines += self._vmac_elements("delete", fam, vmac)
        await self._commit(lines, self.setup)

    async def close(self) -> None:
        """Delete our tables (keepalived nft_cleanup, at stop)."""
        lines = [f"delete table {fam} {self.table}" for fam in FAMILIES if fam in self.setup.table]
        await self._commit(lines, _Setup(checked_old=True))
        self.elements.clear()
        self.vmacs.clear()

    # ------------------------------------------------------------------ rendering
    def _chain(self, fam: Family, name: str, hook: str) -> str:
        return (f"add chain {fam} {self.table} {name} {{ type filter hook {hook} priority {self.priority}; "
                "policy accept; }")

    def _rule(self, fam: Family, chain: str, match: str, verdict: str) -> str:
        counter = "counter " if self.counters else ""
        return f"add rule {fam} {self.table} {chain} {match} {counter}{verdict}"

    async def _old_tables(self, setup: _Setup, families: set[Family]) -> list[str]:
        """keepalived check_and_delete_tables: before creating the first of our tables, remove ones of
        the same name (left by a predecessor that was killed)."""
        if setup.checked_old or not families:
            return []
        setup.checked_old = True
        listing = await run_nft("list tables\n", nft=self.nft, netns=self.netns)
        present = {tuple(line.split()[1:3]) for line in listing.splitlines() if line.startswith("table ")}
        lines = []
        for fam in FAMILIES:
            if (fam, self.table) in present:
                log.info("Deleting old %s %s table", fam, self.table)
                lines.append(f"delete table {fam} {self.table}")
        return lines

    def _need_table(self, setup: _Setup, fam: Family) -> list[str]:
        if fam in setup.table:
            return []
        setup.table.add(fam)
        return [f"add table {fam} {self.table}", self._chain(fam, "out", "output")]

    def _need_vips(self, setup: _Setup, a: FwAddress) -> list[str]:
        fam = a.family
        lines = self._need_table(setup, fam)
        if fam not in setup.vips:
            setup.vips.add(fam)
            lines += self._vips(fam)
        if a.set_name.startswith("vips_link_local") and a.set_name not in setup.link_local:
            setup.link_local.add(a.set_name)
            lines += self._link_local(a.set_name)
        return lines

    def _vips(self, fam: Family) -> list[str]:
        t = self.table
        if fam == "ip":
            return [
                self._chain(fam, "in", "input"),
                f"add set ip {t} vips {{ type ipv4_addr; }}",
                self._rule(fam, "in", "ip daddr @vips", "drop"),
                self._rule(fam, "out", "ip saddr @vips", "drop"),
            ]
        # keepalived matches the next header field (not meta l4proto) for neighbour discovery
        nd = "ip6 nexthdr icmpv6 icmpv6 type @neighbor-discovery"
        return [
            self._chain(fam, "in", "input"),
            f"add chain ip6 {t} in_link_local",
            f"add chain ip6 {t} out_link_local",
            f"add set ip6 {t} vips {{ type ipv6_addr; }}",
            f"add set ip6 {t} neighbor-discovery {{ type icmpv6_type; flags constant; "
            "elements = { nd-neighbor-solicit, nd-neighbor-advert }; }",
            self._rule(fam, "in", nd, "accept"),
            self._rule(fam, "in", f"ip6 daddr {LINK_LOCAL}", "goto in_link_local"),
            self._rule(fam, "out", nd, "accept"),
            self._rule(fam, "out", f"ip6 saddr {LINK_LOCAL}", "goto out_link_local"),
            self._rule(fam, "in", "ip6 daddr @vips", "drop"),
            self._rule(fam, "out", "ip6 saddr @vips", "drop"),
        ]

    def _link_local(self, set_name: str) -> list[str]:
        by_name = set_name.endswith("_name")
        key, iif, oif = ("ifname", "iifname", "oifname") if by_name else ("iface_index", "iif", "oif")
        return [
            f"add set ip6 {self.table} {set_name} {{ type ipv6_addr . {key}; }}",
            self._rule("ip6", "in_link_local", f"ip6 daddr . {iif} @{set_name}", "drop"),
            self._rule("ip6", "out_link_local", f"ip6 saddr . {oif} @{set_name}", "drop"),
        ]

    def _igmp(self, fam: Family) -> list[str]:
        t = self.table
        kind = 'meta oifkind "macvlan"'
        if fam == "ip":
            return [
                f"add map ip {t} vmac_map {{ type iface_index : iface_index; }}",
                self._rule(fam, "out", f"ip protocol igmp {kind} dup to ip daddr device oif map @vmac_map",
                           "drop"),
            ]
        return [
            f"add map ip6 {t} vmac_map {{ type iface_index : iface_index; }}",
            f"add set ip6 {t} vmac_set {{ type iface_index; }}",
            self._rule(fam, "out", f"icmpv6 type mld2-listener-report {kind} dup to ip6 daddr device oif "
                       "map @vmac_map", "drop"),
            self._rule(fam, "out", f"icmpv6 type nd-router-solicit {kind} oif @vmac_set", "drop"),
        ]

    def _elements(self, verb: str, addrs: list[FwAddress]) -> list[str]:
        """One element command per set, sets in keepalived's order (v4, v6, link-local by index/name)."""
        lines = []
        for fam, set_name in (("ip", "vips"), ("ip6", "vips"), ("ip6", "vips_link_local"),
                              ("ip6", "vips_link_local_name")):
            elems = [a.element() for a in addrs if a.family == fam and a.set_name == set_name]
            if elems:
                lines.append(f"{verb} element {fam} {self.table} {set_name} {{ {', '.join(elems)} }}")
        return lines

    def _vmac_elements(self, verb: str, fam: Family, v: FwVmac) -> list[str]:
        lines = [f'{verb} element {fam} {self.table} vmac_map {{ "{v.ifname}" : "{v.parent}" }}']
        if fam == "ip6":
            lines.append(f'{verb} element ip6 {self.table} vmac_set {{ "{v.ifname}" }}')
        return lines

    async def _commit(self, lines: list[str], setup: _Setup) -> None:
        if not lines:
            return
        await run_nft("\n".join(lines) + "\n", nft=self.nft, netns=self.netns)
        self.transactions += 1
        self.setup = setup
