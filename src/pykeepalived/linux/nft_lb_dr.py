"""Routing plumbing of the nftables data plane for lb_kind DR and TUN (issue 7).

# Theory of operation
IPVS sends a DR packet unchanged (destination still the VIP) to the real server's MAC address, and a
TUN packet encapsulated IP-in-IP to the real server. The nftables plane gets there with the kernel's
own routing: nft picks the real server and writes its *route mark* into the packet mark (see
nft_lb.py), and this module gives every DR / TUN real server a route mark, an `ip rule` and a routing
table of its own:

    ip rule  pref 1  fwmark 0x6b610003 lookup 1801519107     (one per real server)
    table 1801519107:  default via 192.0.2.11 dev eth1      (DR: on-link, the frame goes to its MAC)
                       default dev pklb_t3                  (TUN: an ipip / ip6tnl device, remote = RS)
    ip rule  pref 2  lookup local                           (moved from pref 0, restored at the end)

The director normally holds the VIP itself (VRRP), so a packet to the VIP would match the `local`
table, which the kernel consults at preference 0, before any other rule, and be delivered locally.
The first DR / TUN route of a family therefore moves the local rule to preference LOCAL_PREF, behind
the fwmark rules; the last one going away (or `close()`) puts it back at 0. Everything is done over
rtnetlink (pyroute2's AsyncIPRoute); `flush_leftovers()` removes what an unclean stop left behind
(rules pointing at our table range, devices named pklb_t*), so start-up is idempotent.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any

from pykeepalived.linux.rtnl import AsyncIPRoute
from pykeepalived.lvs.model import Forwarding

log = logging.getLogger("pykeepalived")

MARK_BASE = 0x6B610000  # route marks: MARK_BASE + n, n in 1..0xffff
TABLE_BASE = 0x6B610000  # routing tables: TABLE_BASE + n
RULE_PREF = 1
LOCAL_PREF = 2
TUN_PREFIX = "pklb_t"
IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41


@dataclass(frozen=True, slots=True)
class RouteKey:
    family: int
    kind: Forwarding  # DR or TUN
    addr: str


def _family(fam: int) -> int:
    return socket.AF_INET if fam == 4 else socket.AF_INET6


def _errno(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


class RoutePlumbing:
    """Route marks, rules, tables and tunnel devices of the DR / TUN real servers."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self.ids: dict[RouteKey, int] = {}
        self.live: set[RouteKey] = set()  # routes installed in the kernel
        self._moved: set[int] = set()  # families whose local rule we moved
        self._ipr: AsyncIPRoute | None = None

    def mark(self, key: RouteKey) -> int:
        if key not in self.ids:
            used = set(self.ids.values())
            n = next(i for i in range(1, 0x10000) if i not in used)
            self.ids[key] = n
        return MARK_BASE + self.ids[key]

    async def _conn(self) -> AsyncIPRoute:
        if self._ipr is None:
            self._ipr = AsyncIPRoute(netns=self.netns) if self.netns else AsyncIPRoute()
            await self._ipr.setup_endpoint()
        return self._ipr

    async def sync(self, wanted: set[RouteKey]) -> None:
        """Install the routes of `wanted` that are missing (call before the nft transaction)."""
        for key in sorted(wanted - self.live, key=lambda k: (k.family, k.addr, k.kind.value)):
            await self._install(key)
            self.live.add(key)
        for fam in {k.family for k in wanted}:
            await self._move_local(fam)

    async def prune(self, wanted: set[RouteKey]) -> None:
        """Remove the routes no longer used (call after the nft transaction)."""
        for key in sorted(self.live - wanted, key=lambda k: (k.family, k.addr, k.kind.value)):
            await self._remove(key)
            self.live.discard(key)
        for fam in list(self._moved):
            if not any(k.family == fam for k in self.live):
                await self._restore_local(fam)

    async def close(self) -> None:
        """Close the netlink socket; what is installed stays (`--dont-release-ipvs`)."""
        if self._ipr is not None:
            with contextlib.suppress(Exception):
                await self._ipr.close()
            self._ipr = None

    # -- kernel objects --------------------------------------------------------------------------
    def _table(self, key: RouteKey) -> int:
        return TABLE_BASE + self.ids[key]

    def _tun(self, key: RouteKey) -> str:
        return f"{TUN_PREFIX}{self.ids[key]}"

    async def _install(self, key: RouteKey) -> None:
        ipr = await self._conn()
        mark, table, fam = self.mark(key), 0, _family(key.family)
        table = self._table(key)
        route: dict[str, Any] = {
            "dst": "default" if key.family == 4 else "::/0",
            "table": table,
            "family": fam,
        }
        if key.kind is Forwarding.TUN:
            name = self._tun(key)
            with contextlib.suppress(Exception):
                await ipr.link("del", ifname=name)
            if key.family == 4:
                await ipr.link("add", ifname=name, kind="ipip", ipip_remote=key.addr, ipip_ttl=64)
            else:
                await ipr.link(
                    "add",
                    ifname=name,
                    kind="ip6tnl",
                    ip6tnl_remote=key.addr,
                    ip6tnl_proto=IPPROTO_IPV6,
                    ip6tnl_ttl=64,
                )
            (idx,) = await ipr.link_lookup(ifname=name)
            await ipr.link("set", index=idx, state="up")
            route["oif"] = idx
        else:
            oif, gateway = await self._path(ipr, key)
            if gateway:
                log.warning(
                    "nftables data plane: DR real server %s is not on a directly connected "
                    "network (reached via %s)",
                    key.addr,
                    gateway,
                )
            route["gateway"] = key.addr
            route["oif"] = oif
        try:
            await ipr.route("replace", **route)
        except Exception as exc:
            raise OSError(f"cannot add the route of {key.kind.name} real server {key.addr}: {exc}") from exc
        with contextlib.suppress(Exception):
            await ipr.rule(
                "del",
                family=fam,
                priority=RULE_PREF,
                fwmark=mark,
                fwmask=0xFFFFFFFF,
                table=table,
                action="FR_ACT_TO_TBL",
            )
        await ipr.rule(
            "add",
            family=fam,
            priority=RULE_PREF,
            fwmark=mark,
            fwmask=0xFFFFFFFF,
            table=table,
            action="FR_ACT_TO_TBL",
        )

    async def _path(self, ipr: AsyncIPRoute, key: RouteKey) -> tuple[int, str | None]:
        msgs = await ipr.route("get", dst=key.addr, family=_family(key.family))
        for msg in msgs:
            return int(msg.get("RTA_OIF")), msg.get("RTA_GATEWAY")
        raise OSError(f"no route to real server {key.addr}")

    async def _remove(self, key: RouteKey) -> None:
        ipr = await self._conn()
        fam = _family(key.family)
        with contextlib.suppress(Exception):
            await ipr.rule(
                "del",
                family=fam,
                priority=RULE_PREF,
                fwmark=self.mark(key),
                fwmask=0xFFFFFFFF,
                table=self._table(key),
                action="FR_ACT_TO_TBL",
            )
        with contextlib.suppress(Exception):
            await ipr.route(
                "del", dst="default" if key.family == 4 else "::/0", table=self._table(key), family=fam
            )
        if key.kind is Forwarding.TUN:
            with contextlib.suppress(Exception):
                await ipr.link("del", ifname=self._tun(key))

    async def _rules(self, fam: int) -> list[Any]:
        ipr = await self._conn()
        return [m async for m in await ipr.rule("dump", family=_family(fam))]

    async def _move_local(self, fam: int) -> None:
        if fam in self._moved:
            return
        rules = await self._rules(fam)
        local = [r for r in rules if _rule_table(r) == 255]
        if any(r.get("FRA_PRIORITY", 0) == 0 for r in local):
            ipr = await self._conn()
            if not any(r.get("FRA_PRIORITY", 0) == LOCAL_PREF for r in local):
                await ipr.rule(
                    "add", family=_family(fam), priority=LOCAL_PREF, table=255, action="FR_ACT_TO_TBL"
                )
            await ipr.rule("del", family=_family(fam), priority=0, table=255, action="FR_ACT_TO_TBL")
            self._moved.add(fam)

    async def _restore_local(self, fam: int) -> None:
        ipr = await self._conn()
        with contextlib.suppress(Exception):
            await ipr.rule("add", family=_family(fam), priority=0, table=255, action="FR_ACT_TO_TBL")
        with contextlib.suppress(Exception):
            await ipr.rule("del", family=_family(fam), priority=LOCAL_PREF, table=255, action="FR_ACT_TO_TBL")
        self._moved.discard(fam)

    async def flush_leftovers(self) -> None:
        """Remove rules, tables and tunnels of ours left by an unclean stop; restore the local rule."""
        ipr = await self._conn()
        for fam in (4, 6):
            rules = await self._rules(fam)
            for r in rules:
                table = _rule_table(r)
                if TABLE_BASE < table <= TABLE_BASE + 0xFFFF:
                    with contextlib.suppress(Exception):
                        await ipr.rule(
                            "del",
                            family=_family(fam),
                            priority=r.get("FRA_PRIORITY", 0),
                            fwmark=r.get("FRA_FWMARK"),
                            fwmask=0xFFFFFFFF,
                            table=table,
                            action="FR_ACT_TO_TBL",
                        )
                    with contextlib.suppress(Exception):
                        await ipr.route(
                            "del", dst="default" if fam == 4 else "::/0", table=table, family=_family(fam)
                        )
            local = [r for r in rules if _rule_table(r) == 255]
            if local and not any(r.get("FRA_PRIORITY", 0) == 0 for r in local):
                self._moved.add(fam)
                await self._restore_local(fam)
        async for link in await ipr.link("dump"):
            name = link.get("IFLA_IFNAME") or ""
            if name.startswith(TUN_PREFIX):
                with contextlib.suppress(Exception):
                    await ipr.link("del", index=link["index"])
        self.live.clear()


def _rule_table(msg: Any) -> int:
    t = msg.get("FRA_TABLE")
    return int(t if t is not None else msg["table"])


def gran_mask(family: int, granularity: str | None) -> str | None:
    """The nft mask of persistence_granularity (a v4 netmask or a v6 prefix length); None = whole
    address. Raises ValueError on a malformed value."""
    if not granularity:
        return None
    width = 32 if family == 4 else 128
    if family == 4 and "." in granularity:
        mask = ipaddress.IPv4Address(granularity)
        plen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    else:
        plen = int(granularity.lstrip("/"))
    if not 0 <= plen <= width:
        raise ValueError(f"bad persistence_granularity {granularity}")
    if plen == width:
        return None
    net = ipaddress.ip_network(f"{'0.0.0.0' if family == 4 else '::'}/{plen}")
    return str(net.netmask)
