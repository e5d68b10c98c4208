"""IPVS data plane over generic netlink (pyroute2's IPVS support), and data-plane selection.

# Theory of operation
`IpvsBackend` implements the checker's `LvsBackend`: `dump()` reads the kernel's services and
destinations into an `LvsTable`, `apply()` sends one IPVS command per planned operation (IPVS has no
transactions). Forwarding codes and scheduler names are IPVS's own, so `ipvsadm -Ln` shows what
keepalived would show for the same configuration.

`choose_dataplane(mode)` implements the pykeepalived extension keyword
`global_defs { lvs_dataplane auto|ipvs|nftables }` (default auto: IPVS when the kernel has it, which is
detected by /proc/net/ip_vs, else nftables).

Beyond the table (linux/ipvs_genl.py has the netlink messages pyroute2 lacks): `set_timeouts()`
(`lvs_timeouts`: the kernel's values are read once before the first change and restored when the
keyword goes away and at stop, as keepalived's ipvs_set_timeout does), `flush()` (`lvs_flush`,
`lvs_flush_on_stop`: IPVS_CMD_FLUSH), `stats()` (IPVS_SVC_ATTR_STATS64 / IPVS_DEST_ATTR_STATS64 of
the service and destination dumps, the counters of `ipvsadm -Ln --stats`) and `call()` (the sync
daemon, linux/ipvs_sync.py, shares the socket).

Tested in a VM with ip_vs (tests/check/test_ipvs_vm.py): this machine's kernel has none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from pykeepalived.linux.ipvs_genl import (
    IpvsSocket,
    flush,
    get_timeouts,
    ipvs_strerror,
    netlink_errno,
    set_timeouts,
)
from pykeepalived.lvs.globals import LvsTimeouts
from pykeepalived.lvs.model import (
    Dest,
    DestKey,
    Forwarding,
    LvsCounters,
    LvsStats,
    LvsTable,
    Protocol,
    Service,
    ServiceEntry,
    ServiceKey,
    ServiceStats,
)
from pykeepalived.lvs.plan import AddDest, AddService, DelDest, DelService, EditDest, EditService, LvsOp

T = TypeVar("T")
log = logging.getLogger("pykeepalived")
_PROTO = {Protocol.TCP: socket.IPPROTO_TCP, Protocol.UDP: socket.IPPROTO_UDP,
          Protocol.SCTP: getattr(socket, "IPPROTO_SCTP", 132)}
_PROTO_BACK = {v: k for k, v in _PROTO.items()}
IP_VS_SVC_F_PERSISTENT = 0x1
_FLAG_BITS = {"ops": 0x4, "flag-1": 0x8, "sh-fallback": 0x8, "mh-fallback": 0x8, "flag-2": 0x10,
              "sh-port": 0x10, "mh-port": 0x10, "flag-3": 0x20}


def ipvs_available() -> bool:
    return os.path.exists("/proc/net/ip_vs")


def choose_dataplane(mode: str = "auto") -> str:
    """`lvs_dataplane auto|ipvs|nftables` → "ipvs" or "nftables"."""
    if mode not in ("auto", "ipvs", "nftables"):
        raise ValueError(f"lvs_dataplane: unknown value {mode!r} (auto, ipvs or nftables)")
    if mode == "auto":
        return "ipvs" if ipvs_available() else "nftables"
    return mode


def _svc_attrs(s: Service) -> dict[str, Any]:
    k = s.key
    flags = 0
    for f in s.flags:
        flags |= _FLAG_BITS.get(f, 0)
    attrs: dict[str, Any] = {"af": socket.AF_INET6 if k.family == 6 else socket.AF_INET,
                             "sched_name": s.scheduler, "flags": {"flags": flags, "mask": 0xFFFFFFFF}}
    if k.fwmark:
        attrs["fwmark"] = k.fwmark
    else:
        attrs.update(protocol=_PROTO[k.protocol], addr=k.addr, port=k.port)
    # the kernel wants timeout and netmask with every full service entry (ip_vs_genl_parse_service)
    attrs["timeout"] = s.persistence_timeout
    attrs["netmask"] = _netmask(k.family, s.persistence_granularity if s.persistence_timeout else None)
    if s.persistence_timeout:
        attrs["flags"]["flags"] |= IP_VS_SVC_F_PERSISTENT
    if s.persistence_engine:
        attrs["pe_name"] = s.persistence_engine
    return attrs


def _netmask(family: int, granularity: str | None) -> str:
    """IPVS_SVC_ATTR_NETMASK as pyroute2's 4-byte `ip4addr`: an IPv4 netmask in network order, or for
    IPv6 the prefix length as a host-order u32 (what libipvs/ipvsadm send; the kernel checks 1..128)."""
    if family == 4:
        return granularity or "255.255.255.255"
    plen = int(granularity) if granularity else 128
    return socket.inet_ntoa(struct.pack("=I", plen))


def _granularity(family: int, netmask: str | None) -> str | None:
    if not netmask:
        return None
    if family == 4:
        return None if netmask == "255.255.255.255" else netmask
    plen = struct.unpack("=I", socket.inet_aton(netmask))[0]
    return None if plen == 128 else str(plen)


def _flag_names(bits: int, sched: str) -> frozenset[str]:
    """IPVS service flag bits back to keepalived's keywords (the scheduler decides sh-*/mh-*/flag-N)."""
    names = {0x4: "ops", 0x20: "flag-3"}
    if sched in ("sh", "mh"):
        names.update({0x8: f"{sched}-fallback", 0x10: f"{sched}-port"})
    else:
        names.update({0x8: "flag-1", 0x10: "flag-2"})
    return frozenset(n for b, n in names.items() if bits & b)


def _dest_attrs(d: Dest, family: int) -> dict[str, Any]:
    return {"addr": d.addr, "port": d.port, "fwd_method": d.forwarding.value, "weight": d.weight,
            "u_thresh": d.u_threshold, "l_thresh": d.l_threshold,
            "addr_family": socket.AF_INET6 if ":" in d.addr else socket.AF_INET}


class IpvsBackend:
    """`LvsBackend` on pyroute2's IPVS generic-netlink client.

    pyroute2's synchronous IPVS socket drives an event loop of its own, so it can neither be created
    nor used on the daemon's running loop: it lives in one dedicated worker thread, and every call is
    handed to that thread (which also keeps the kernel calls in order).
    """

    def __init__(self, netns: str | None = None) -> None:
        self._netns = netns  # `net_namespace_ipvs`: the worker thread's namespace ("" the initial one)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvs")
        self._ipvs: Any = self._pool.submit(self._open).result()
        self._orig_timeouts: tuple[int, int, int] | None = None  # the kernel's, before our first change

    def _open(self) -> Any:
        if self._netns is not None:
            from pykeepalived.linux.sched import join_thread_net_namespace

            join_thread_net_namespace(self._netns)
        return IpvsSocket()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn, *args))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(socket, *args)` in the IPVS thread (linux/ipvs_genl.py functions)."""
        return await self._call(fn, self._ipvs, *args)

    async def flush(self) -> None:
        """IPVS_CMD_FLUSH: every service, ours or not (keepalived ipvs_flush_cmd)."""
        try:
            await self.call(flush)
        except Exception as exc:
            err = netlink_errno(exc)
            log.info("IPVS cmd IP_VS_SO_SET_FLUSH(1157) error: %s(%d)", ipvs_strerror("flush", err), err)

    async def set_timeouts(self, t: LvsTimeouts | None) -> None:
        """`lvs_timeouts` (keepalived ipvs_set_timeouts): unset values keep the kernel's; None or all
        unset restores the values found before our first change (nothing if we never changed them)."""
        if self._orig_timeouts is None:
            if not t:
                return
            try:
                self._orig_timeouts = await self.call(get_timeouts)
            except Exception:
                log.info("Failed to get IPVS timeouts")
                return
        o = self._orig_timeouts
        want = (t.tcp or o[0], t.tcpfin or o[1], t.udp or o[2]) if t else o
        try:
            await self.call(set_timeouts, *want)
        except Exception:
            log.info("Failed to set ipvs timeouts")

    async def dump(self) -> LvsTable:
        return await self._call(self._dump)

    async def apply(self, ops: list[LvsOp]) -> None:
        await self._call(self._apply, ops)

    async def stats(self) -> LvsCounters:
        """Traffic counters of every service and destination (`ipvsadm -Ln --stats`). The kernel folds
        its per-cpu counters into these every 2 s (its rate estimator), so they lag by up to 2 s."""
        return await self._call(self._stats)

    def close(self) -> None:
        self._pool.submit(self._ipvs.close).result()
        self._pool.shutdown()

    def _svc(self, s: Service | ServiceKey) -> Any:
        from pyroute2 import IPVSService

        return IPVSService(**_svc_attrs(s if isinstance(s, Service) else Service(s)))

    def _apply(self, ops: list[LvsOp]) -> None:
        from pyroute2 import IPVSDest

        for op in ops:
            match op:
                case AddService(service=s):
                    self._ipvs.service("add", service=self._svc(s))
                case EditService(service=s):
                    self._ipvs.service("set", service=self._svc(s))
                case DelService(key=k):
                    self._ipvs.service("del", service=self._svc(k))
                case AddDest(service=k, dest=d):
                    self._ipvs.dest("add", service=self._svc(k), dest=IPVSDest(**_dest_attrs(d, k.family)))
                case EditDest(service=k, dest=d):
                    self._ipvs.dest("set", service=self._svc(k), dest=IPVSDest(**_dest_attrs(d, k.family)))
                case DelDest(service=k, dest=d):
                    self._ipvs.dest("del", service=self._svc(k), dest=IPVSDest(**_dest_attrs(d, k.family)))

    def _dump(self) -> dict[ServiceKey, ServiceEntry]:
        out: dict[ServiceKey, ServiceEntry] = {}
        for msg in self._ipvs.service("dump"):
            a = msg.get_nested("IPVS_CMD_ATTR_SERVICE") if hasattr(msg, "get_nested") else None
            if a is None:
                continue
            get = a.get_attr
            fam = 6 if get("IPVS_SVC_ATTR_AF") == socket.AF_INET6 else 4
            fwmark = get("IPVS_SVC_ATTR_FWMARK") or 0
            proto = _PROTO_BACK.get(get("IPVS_SVC_ATTR_PROTOCOL") or 0, Protocol.NONE)
            key = ServiceKey(fam, Protocol.NONE if fwmark else proto,
                             None if fwmark else get("IPVS_SVC_ATTR_ADDR"),
                             0 if fwmark else get("IPVS_SVC_ATTR_PORT") or 0, fwmark)
            sched = get("IPVS_SVC_ATTR_SCHED_NAME") or "wlc"
            fl = get("IPVS_SVC_ATTR_FLAGS")
            bits = int(fl["flags"]) if fl is not None else 0
            timeout = get("IPVS_SVC_ATTR_TIMEOUT") or 0 if bits & IP_VS_SVC_F_PERSISTENT else 0
            svc = Service(key, sched, timeout,
                          _granularity(fam, get("IPVS_SVC_ATTR_NETMASK")) if timeout else None,
                          get("IPVS_SVC_ATTR_PE_NAME") or None, _flag_names(bits, sched))
            dests: dict[DestKey, Dest] = {}
            for dm in self._ipvs.dest("dump", service=self._svc(svc)):
                da = dm.get_nested("IPVS_CMD_ATTR_DEST")
                if da is None:
                    continue
                dg = da.get_attr
                d = Dest(dg("IPVS_DEST_ATTR_ADDR"), dg("IPVS_DEST_ATTR_PORT") or 0,
                         dg("IPVS_DEST_ATTR_WEIGHT") or 0,
                         Forwarding(dg("IPVS_DEST_ATTR_FWD_METHOD") & 0x7),
                         dg("IPVS_DEST_ATTR_U_THRESH") or 0, dg("IPVS_DEST_ATTR_L_THRESH") or 0)
                dests[d.key] = d
            out[key] = ServiceEntry(svc, dests)
        return out

    def _stats(self) -> dict[ServiceKey, ServiceStats]:
        out: dict[ServiceKey, ServiceStats] = {}
        for msg in self._ipvs.service("dump"):
            a = msg.get_nested("IPVS_CMD_ATTR_SERVICE")
            if a is None:
                continue
            key = _service_key(a.get_attr)
            dests: dict[DestKey, LvsStats] = {}
            for dm in self._ipvs.dest("dump", service=self._svc(key)):
                da = dm.get_nested("IPVS_CMD_ATTR_DEST")
                if da is not None:
                    dg = da.get_attr
                    dests[DestKey(dg("IPVS_DEST_ATTR_ADDR"), dg("IPVS_DEST_ATTR_PORT") or 0)] = (
                        _counters(da, "IPVS_DEST_ATTR_"))
            out[key] = ServiceStats(_counters(a, "IPVS_SVC_ATTR_"), dests)
        return out


def _service_key(get: Callable[[str], Any]) -> ServiceKey:
    fam = 6 if get("IPVS_SVC_ATTR_AF") == socket.AF_INET6 else 4
    fwmark = get("IPVS_SVC_ATTR_FWMARK") or 0
    proto = _PROTO_BACK.get(get("IPVS_SVC_ATTR_PROTOCOL") or 0, Protocol.NONE)
    return ServiceKey(fam, Protocol.NONE if fwmark else proto, None if fwmark else get("IPVS_SVC_ATTR_ADDR"),
                      0 if fwmark else get("IPVS_SVC_ATTR_PORT") or 0, fwmark)


def _counters(attrs: Any, prefix: str) -> LvsStats:
    """STATS64 (kernel >= 4.1), else the 32-bit STATS nest."""
    st = attrs.get_attr(prefix + "STATS64") or attrs.get_attr(prefix + "STATS")
    if st is None:
        return LvsStats()
    get = st.get_attr
    return LvsStats(*(int(get("IPVS_STATS_ATTR_" + f) or 0)
                      for f in ("CONNS", "INPKTS", "OUTPKTS", "INBYTES", "OUTBYTES")))
