"""IPVS data plane over generic netlink (pyroute2's IPVS support), and data-plane selection.

# Theory of operation
`IpvsBackend` implements the checker's `LvsBackend`: `dump()` reads the kernel's services and
destinations into an `LvsTable`, `apply()` sends one IPVS command per planned operation (IPVS has no
transactions). Forwarding codes and scheduler names are IPVS's own, so `ipvsadm -Ln` shows what
keepalived would show for the same configuration.

`choose_dataplane(mode)` implements the pykeepalived extension keyword
`global_defs { lvs_dataplane auto|ipvs|nftables }` (default auto: IPVS when the kernel has it, which is
detected by /proc/net/ip_vs, else nftables).

NOT YET TESTED against a kernel: this machine has no ip_vs (see the report of issue 7).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from pykeepalived.lvs.model import (
    Dest,
    DestKey,
    Forwarding,
    LvsTable,
    Protocol,
    Service,
    ServiceEntry,
    ServiceKey,
)
from pykeepalived.lvs.plan import AddDest, AddService, DelDest, DelService, EditDest, EditService, LvsOp

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
    if s.persistence_timeout:
        attrs["timeout"] = s.persistence_timeout
        attrs["flags"]["flags"] |= IP_VS_SVC_F_PERSISTENT
        if s.persistence_granularity:
            attrs["netmask"] = s.persistence_granularity
    if s.persistence_engine:
        attrs["pe_name"] = s.persistence_engine
    return attrs


def _dest_attrs(d: Dest, family: int) -> dict[str, Any]:
    return {"addr": d.addr, "port": d.port, "fwd_method": d.forwarding.value, "weight": d.weight,
            "u_thresh": d.u_threshold, "l_thresh": d.l_threshold,
            "addr_family": socket.AF_INET6 if ":" in d.addr else socket.AF_INET}


class IpvsBackend:
    """`LvsBackend` on pyroute2's IPVS generic-netlink client (blocking calls run in a thread)."""

    def __init__(self) -> None:
        from pyroute2 import IPVS

        self._ipvs = IPVS()

    async def dump(self) -> LvsTable:
        return await asyncio.to_thread(self._dump)

    async def apply(self, ops: list[LvsOp]) -> None:
        await asyncio.to_thread(self._apply, ops)

    def close(self) -> None:
        self._ipvs.close()

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
            svc = Service(key, get("IPVS_SVC_ATTR_SCHED_NAME") or "wlc", get("IPVS_SVC_ATTR_TIMEOUT") or 0)
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
