"""The VRRP child's firewall: which instances need drop rules, and when (keepalived vrrp_firewall.c).

# Theory of operation
RFC 5798 §6.4.3: a non-owner Master in Accept_Mode False must not accept packets addressed to its
virtual addresses. keepalived (and we) implement it with nftables (linux/vrrp_nft.py):

* selection, at start: the table named by global_defs `nftables [TABLE]` (or `vrrp_iptables`,
  which this keepalived build turns into nftables); if none is named but an instance has no_accept
  (vrrp_strict implies it unless priority 255) or use_vmac, the table `keepalived` is used and
  keepalived's line `use_vmac or no_accept/strict specified, but no firewall configured - using
  nftables` is logged;
* an instance "drops" when it is not the address owner and not in accept mode. When it becomes
  MASTER, its VIPs and eVIPs enter the table *before* the addresses are added ("setting firewall
  drop rule"); when it leaves MASTER they leave it *after* the addresses are removed ("removing
  firewall drop rule") — keepalived.md §1.11.2's order, driven by the executor's claim/release;
* a VMAC gets its IGMP/MLD redirection when it is created, for its family (and the other one when
  its eVIPs are of the other family);
* at stop the tables are deleted (keepalived 2.2.7 deletes them even with --dont-release-vrrp).

The executor only calls `claim`/`release` around its address changes; a failing nft is logged,
never raised (the VRRP state machine goes on, like keepalived's, without the rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.linux.nft import NftError
from pykeepalived.linux.vrrp_nft import DEFAULT_TABLE, Family, FwAddress, FwVmac, VrrpNftables

if TYPE_CHECKING:
    from pykeepalived.config.model import Model
    from pykeepalived.daemon.vrrp.instances import Runtime
    from pykeepalived.vrrp.params import IPAddress


def drops(rt: Runtime) -> bool:
    """keepalived vrrp_handle_accept_mode: not the address owner and not in accept mode (the config
    resolved strict mode's default already; None means keepalived's non-strict default, accept)."""
    return rt.params.base_priority != 255 and rt.setup.accept is False


def table_name(model: Model) -> str | None:
    """The table the VRRP child uses (keepalived vrrp_complete_instance / check_vrrp_instance)."""
    if model.global_defs.nftables is not None:
        return model.global_defs.nftables
    for conf in model.vrrp_instances:
        if conf.vrid is None:
            continue
        if conf.accept is False or conf.use_vmac is not None:
            log.info("use_vmac or no_accept/strict specified, but no firewall configured - using nftables")
            return DEFAULT_TABLE
    return None


class Firewall:
    """What the executor and the child call; does nothing when no table is selected."""

    def __init__(self, model: Model, netns: str | None = None) -> None:
        g = model.global_defs
        self.table = table_name(model)
        self.nft = None if self.table is None else VrrpNftables(
            self.table, priority=g.nftables_priority, counters=g.nftables_counters, netns=netns)
        self.ifindex = g.nftables_ifindex
        self.rules_set: dict[str, list[FwAddress]] = {}  # keepalived vrrp->firewall_rules_set

    def reload(self, model: Model) -> None:
        """keepalived's VRRP child re-selects the table at a reload (its name cannot change, the
        parent refuses that): instances that now need one get it."""
        table = table_name(model)
        if self.nft is None and table is not None:
            g = model.global_defs
            self.table = table
            self.nft = VrrpNftables(table, priority=g.nftables_priority, counters=g.nftables_counters)
            self.ifindex = g.nftables_ifindex

    def addresses(self, rt: Runtime, ips: Sequence[IPAddress]) -> list[FwAddress]:
        out = []
        own_dev = rt.vmac.ifname if rt.vmac is not None else (rt.iface.ifname if rt.iface else "")
        for ip in ips:
            a = rt.addresses.get(ip)
            if a is None:
                continue
            # keepalived nft_update_ipv6_address: link-local VIPs by name only for dont_track_primary
            by_name = not self.ifindex and rt.params.dont_track_primary and (a.dev == own_dev or a.no_track)
            out.append(FwAddress(ip, a.dev, by_name))
        return out

    async def claim(self, rt: Runtime, ips: Sequence[IPAddress]) -> None:
        if self.nft is None or not drops(rt):
            return
        name = rt.params.name
        log.log(DETAIL, "(%s) setting firewall drop rule", name)
        have = self.rules_set.setdefault(name, [])
        new = [a for a in self.addresses(rt, ips) if a not in have]
        try:
            await self.nft.add_addresses(new)
        except NftError as exc:
            log.error("(%s) cannot set firewall drop rule: %s", name, exc)
            return
        have += new

    async def release(self, rt: Runtime, ips: Sequence[IPAddress]) -> None:
        if self.nft is None or not drops(rt):
            return
        name = rt.params.name
        log.log(DETAIL, "(%s) removing firewall drop rule", name)
        have = self.rules_set.get(name, [])
        gone = [a for a in self.addresses(rt, ips) if a in have]
        try:
            await self.nft.remove_addresses(gone)
        except NftError as exc:
            log.error("(%s) cannot remove firewall drop rule: %s", name, exc)
        self.rules_set[name] = [a for a in have if a not in gone]

    def stale(self, rt: Runtime) -> None:
        """Start-up: keepalived's vrrp_restore_interface for instances on existing interfaces logs
        the (no-op) removal of the drop rule after removing stale VIPs."""
        if self.nft is not None and drops(rt) and rt.vmac is None:
            log.log(DETAIL, "(%s) removing firewall drop rule", rt.params.name)

    @staticmethod
    def _families(rt: Runtime) -> list[Family]:
        mine: Family = "ip" if rt.params.family == 4 else "ip6"
        other: Family = "ip6" if mine == "ip" else "ip"
        fams = [mine]
        if any(ip.version != rt.params.family for ip in rt.params.evips):
            fams.append(other)  # keepalived VRRP_FLAG_EVIP_OTHER_FAMILY
        return fams

    async def vmac_added(self, rt: Runtime) -> None:
        if self.nft is None or rt.vmac is None:
            return
        try:
            await self.nft.add_vmac(FwVmac(rt.vmac.ifname, rt.vmac.parent), self._families(rt))
        except NftError as exc:
            log.error("(%s) cannot set VMAC firewall rules: %s", rt.params.name, exc)

    async def close(self) -> None:
        if self.nft is None:
            return
        try:
            await self.nft.close()
        except NftError as exc:
            log.error("cannot remove nftables table %s: %s", self.table, exc)
