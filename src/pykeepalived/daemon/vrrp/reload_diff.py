"""What a reload (SIGHUP) changes on the system for the VRRP child: keepalived's clear_diff_*.

`reload_matches` pairs the instances of the reloaded file with the running ones (keepalived
vrrp_exist); `ReloadDiff` removes what the new file drops and a kept instance had set (its virtual
rules, routes, VIPs and eVIPs, with keepalived's log lines), the static_* entries the new file drops,
and the leftovers of instances new at the reload. The order of the whole reload is the child's
(daemon/vrrp/vrrp_child.py VrrpChild._reload); this module is only the differences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from pykeepalived.config.model import Model
from pykeepalived.daemon.addrmap import address_from_spec, route_from_config, rule_from_config
from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.daemon.vrrp.firewall import Firewall, drops
from pykeepalived.daemon.vrrp.instances import Runtime
from pykeepalived.linux.addresses import Address, AddressKeeper, Route, Rule, del_address, del_route, del_rule


class ReloadDiff:
    """Removes what a reloaded configuration drops (through `ipr`, telling the address `keeper`)."""

    def __init__(self, ipr: Any, keeper: AddressKeeper, firewall: Firewall | None) -> None:
        self.ipr = ipr
        self.keeper = keeper  # the addresses restored when removed behind our back
        self.firewall = firewall

    async def clear_diff(self, old: Runtime, new: Runtime) -> bool:
        """keepalived clear_diff_vrrp for an instance the reload keeps: the virtual rules, routes and
        VIPs/eVIPs it had set that the new configuration drops are removed, with keepalived's lines;
        those kept stay untouched. True when the new configuration adds an address (the engine's
        restore sets it and announces them all)."""
        held = old.inst.vipset  # rules, routes and addresses are set while the VIPs are
        await self._diff_rules(old.rules, new.rules, held)
        await self._diff_routes(old.routes, new.routes, held)
        if not held:
            return False
        if self.firewall is not None and drops(old) and not drops(new):
            # accept mode now (no_accept or strict mode dropped): the VIPs no longer drop traffic;
            # keepalived 2.2.7 leaves the drop rules (its TODO in clear_diff_vrrp_vip)
            await self.firewall.release(old, list(old.addresses))
        dropped = await self._diff_addresses(new.params.name, old.addresses.values(), new.addresses.values())
        if self.firewall is not None and dropped:
            await self.firewall.release(old, [a.address for a in dropped])
        return bool(set(new.addresses.values()) - set(old.addresses.values()))

    async def clear_diff_static(self, old: Model, new: Model) -> None:
        """keepalived clear_diff_static_rules, _routes and _addresses: the static_rules,
        static_routes and static_ipaddress entries the new file drops are removed (those it keeps
        or adds are set after the instances, `set_static`). keepalived names no instance in the
        address line: `((null)) ip address ... no longer exist`."""
        was, now = statics(old), statics(new)
        await self._diff_rules(was[2], now[2], True)
        await self._diff_routes(was[1], now[1], True)
        await self._diff_addresses("(null)", was[0], now[0])

    async def _diff_rules(self, old: Sequence[Rule], new: Sequence[Rule], held: bool) -> None:
        """keepalived clear_diff_rules: those set (`held`) that `new` drops are removed."""
        if not old:
            return
        drop = [u for u in old if u not in new] if held else []
        if not new:
            log.info("Removing a VirtualRule block")
        else:
            for u in drop:
                to = f" to {net_text(u.dst)}" if u.dst else ""
                log.log(DETAIL, "ip rule from %s%s removed", net_text(u.src) if u.src else "all", to)
        for u in drop:
            await del_rule(self.ipr, u)

    async def _diff_routes(self, old: Sequence[Route], new: Sequence[Route], held: bool) -> None:
        """keepalived clear_diff_routes: those set (`held`) that `new` drops are removed."""
        if not old:
            return
        gone = [r for r in old if r not in new] if held else []
        if not new:
            log.log(DETAIL, "Removing a VirtualRoute block")
        else:
            for r in gone:
                log.log(DETAIL, "Removing route %s", net_text(r.dst))
        for r in gone:
            await del_route(self.ipr, r)

    async def _diff_addresses(self, name: str, old: Iterable[Address], new: Iterable[Address]
                              ) -> list[Address]:
        """keepalived get_diff_address + clear_address_list: the addresses `new` drops are removed;
        returns them."""
        kept = set(new)
        dropped = [a for a in old if a not in kept]
        self.keeper.unwant(dropped)  # before the kernel reports them gone
        for a in dropped:
            log.info("(%s) ip address %s/%d dev %s, no longer exist", name, a.address, a.plen, a.dev)
            await del_address(self.ipr, a)
        return dropped

    async def remove_leftovers(self, running: Mapping[str, Runtime], model: Model, fresh: list[Runtime]
                               ) -> None:
        """Instances new at a reload start as BACKUP: their VIPs and eVIPs must not be on the host
        (as at start-up, `remove_stale_addresses`), unless a running instance holds them or they are
        static addresses. keepalived 2.2.7 skips this at a reload and leaves them (its issue #2700:
        duplicate addresses on master and backup); silently, as its log shows no such step."""
        held = {a for rt in running.values() if rt.inst.vipset for a in rt.addresses.values()}
        held |= set(statics(model)[0])
        for rt in fresh:
            for a in rt.addresses.values():
                if a not in held:
                    await del_address(self.ipr, a)


def statics(model: Model) -> tuple[list[Address], list[Route], list[Rule]]:
    """static_ipaddress (without `dev`: on default_interface), static_routes, static_rules."""
    dflt = model.global_defs.default_interface
    addrs = [a for a in (address_from_spec(s, dflt) for s in model.static_ipaddress) if a is not None]
    routes = [route_from_config(r) for r in model.static_routes]
    return addrs, routes, [rule_from_config(r) for r in model.static_rules]


def net_text(net: IPv4Network | IPv6Network) -> str:
    """keepalived ipaddresstos: the address, with its prefix length unless a host's."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def reload_key(rt: Runtime) -> tuple[object, ...]:
    """keepalived vrrp_exist: what makes an instance of a reloaded file the same instance (its name
    does not): VRID, family, configured interface and unicast or not; then the unicast source
    address, else the use of VMACs and the multicast group."""
    p = rt.params
    if p.is_unicast:
        return (p.vrid, p.family, p.interface, True, rt.inst.own_src)
    vmac_addr = rt.setup.use_vmac_addr
    return (p.vrid, p.family, p.interface, False, rt.setup.use_vmac is not None, vmac_addr, p.mcast_group)


def reload_matches(old: Mapping[str, Runtime], new: Mapping[str, Runtime]) -> dict[str, str]:
    """Which running instance each instance of a reloaded file continues: new name -> old name, by
    `reload_key`; the first of a key on either side, each old one at most once."""
    firsts: dict[tuple[object, ...], str] = {}
    for name, rt in new.items():
        firsts.setdefault(reload_key(rt), name)
    out: dict[str, str] = {}
    for name, rt in old.items():
        found = firsts.get(reload_key(rt))
        if found is not None and found not in out:
            out[found] = name
    return out
