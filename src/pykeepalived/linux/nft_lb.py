"""nftables data plane for the virtual services (for kernels without IPVS, like this one).

# Theory of operation
The LVS table is rendered into one nftables table per address family (`ip pykeepalived_lb`,
`ip6 pykeepalived_lb6`), following nftlb's design. Base chains dispatch to per-service chains:

    chain prerouting { type nat hook prerouting priority dstnat; }      # NAT services (+ output)
        ip daddr 203.0.113.10 meta l4proto tcp th dport 80 jump svc_1
    chain raw { type filter hook prerouting priority raw; }             # DR / TUN services
        ip daddr 203.0.113.11 meta l4proto tcp th dport 80 notrack
    chain rawmark { type filter hook prerouting priority raw + 50; }    # DR / TUN fwmark services
        meta mark 7 notrack                   # the mark must be set at priority raw (-300) .. -251
    chain count { type filter hook prerouting priority dstnat + 10; }   # NAT counters, persistence
        ct original ip daddr 203.0.113.10 ct original protocol tcp ct original proto-dst 80 jump cnt_1

Every service of a virtual_server_group (one per address of a range, plus fwmark entries) is a service
of its own here, with its own chains and maps, exactly like IPVS. A port-0 service (persistent, all
ports) matches any destination port and translates the address only.

Each destination owns a run of slots in its service's slot map proportional to its weight (weight-0
destinations, i.e. inhibited ones, own none). The slot selector depends on lb_algo:

    rr                  numgen inc, one slot per destination (weights only switch a server on or off)
    wrr                 numgen inc, weighted slots, interleaved (smooth WRR order) up to 256 slots
    sh / mh             jhash of the source address (dh: of the destination address), weighted slots
    fo / ovf            all slots to the highest-weight destination (ovf approximated as fo)
    lc wlc sed nq lblc lblcr twos
                        APPROXIMATED: numgen random over weighted slots. nftables has no view of the
                        number of connections per destination, so least-connection families become
                        weighted random, which gives the same long-run spread for equal-cost
                        connections but does not react to long-lived connections piling up.

NAT: the nat chain DNATs a new connection to the slot's address (and port); conntrack keeps an
established connection on its real server whatever happens to the pool (IPVS without
expire_nodest_conn). As in IPVS, only a TCP SYN starts a connection: another TCP packet with no
connection (a stray ACK, a late FIN) returns unscheduled to the director's own stack (NAT, DR, TUN).

DR / TUN (the real server gets the packet with the VIP still as destination): conntrack cannot follow
these connections (the replies bypass the director, so conntrack would call the second packet of every
TCP connection INVALID), so the service's packets are `notrack`ed and the plane keeps IPVS's own
connection table in a dynamic map `svc_N_conns` (client address . port . VIP . port -> route mark,
idle timeout 900 s for TCP and 300 s for UDP like IPVS, 120 s once a FIN or RST was seen). A packet of
a known connection gets its route mark from there (an established connection keeps its real server
when the pool changes); a new one is scheduled through the slot map, which holds route marks, and is
entered into the table. The route mark steers the packet through a per-real-server routing table
(nft_lb_dr.py): `via RS` on the director's segment for DR, an ipip / ip6tnl device to RS for TUN.

Persistence (persistence_timeout, persistence_granularity): a dynamic map `svc_N_persist` keyed by the
client address masked by the granularity holds the real server chosen for it (its address for NAT, its
route mark for DR / TUN), with the persistence timeout; it is refreshed by every packet of the client
(IPVS keeps a template while connections use it, then for the timeout), consulted before the
scheduler, and its entries for a real server are deleted when the server is removed from the
service. A weight-0 (quiesced) server keeps its persistent clients, as with IPVS's default
expire_quiescent_template = 0. persistence_engine has no nftables equivalent (logged once).

Counters (stats()): per destination named counters `s<sid>_<dest>_{conn,in,out}` referenced from
counter maps keyed by the destination: `conn` counts new connections, `in` the client->server packets
and bytes, `out` the replies (NAT only: DR / TUN replies do not cross the director). They are read with
one `nft -j list counters` call.

A service with no usable destination rejects new connections (TCP reset / ICMP unreachable).
Every change is one `nft -f -` transaction (atomic in the kernel): the affected services' chains and
slot maps are flushed and refilled in the same batch, so a packet never sees a half-updated service;
the stateful maps (connections, persistence) survive the update. Not supported here (logged once):
thresholds (uthreshold/lthreshold), one-packet scheduling, persistence_engine, DR / TUN for clients
on the director itself (the output hook is NAT only: IPVS handles locally originated packets in its
LOCAL_OUT hook, here a local client's packet would need re-routing after the route mark is chosen,
which the output path does not do for the VIP the director itself holds).

The director must forward (net.ipv4.ip_forward=1, net.ipv6.conf.all.forwarding=1): every kind goes
through the kernel's forwarding path here (NAT after the dnat, DR / TUN by the route mark), where IPVS
sends DR / TUN packets itself from its LOCAL_IN hook and needs forwarding for NAT replies only. The
plane does not change these switches (that would make the host a router for all its traffic); when a
service of a family is programmed while its switch is off it logs once, naming the service and the
sysctl (`_check_forwarding`), and again after the switch was seen on and then off. For NAT the director
must also be the real servers' route back to clients, exactly as for IPVS NAT; for DR the real servers
are on one of its segments and hold the VIP on a non-ARPing interface (arp_ignore / arp_announce), for
TUN they decapsulate IP-in-IP.

`lvs_timeouts` (IPVS connection timeouts) become nftables `ct timeout` objects set on the first
packet of each virtual service's connections (in the service chain, before the dnat), so they apply
to the load-balanced connections only: `tcp` → conntrack's established timeout; `tcpfin` → fin_wait,
close_wait and last_ack, the half-closed states between the first FIN and the last ACK (IPVS's
tcpfin is its FIN_WAIT timeout: "TCP sessions after receiving a FIN"; time_wait keeps conntrack's
value, as IPVS's TIME_WAIT is not settable either); `udp` → unreplied and replied. The objects are
named after their values (`lvs_tcp_900_120`, `lvs_udp_300`), so a change is one transaction that
refills every service chain and deletes the old objects. Connections already tracked keep theirs.

"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.linux.iface import read_sysctl
from pykeepalived.linux.nft import NftError, run_nft
from pykeepalived.linux.nft_lb_dr import RouteKey, RoutePlumbing, gran_mask
from pykeepalived.lvs.globals import LvsTimeouts
from pykeepalived.lvs.model import (
    Dest,
    DestKey,
    Forwarding,
    LvsCounters,
    LvsStats,
    LvsTable,
    Protocol,
    ServiceEntry,
    ServiceKey,
    ServiceStats,
)
from pykeepalived.lvs.plan import AddService, DelService, EditService, LvsOp, apply_ops

log = logging.getLogger("pykeepalived")

# the switch each family's forwarding path needs (module docstring)
FORWARD_SYSCTL = {4: "net.ipv4.ip_forward", 6: "net.ipv6.conf.all.forwarding"}

HASH_SEED = 0x6B61  # fixed so that sh/dh keep mapping clients to the same server across updates
MAX_INTERLEAVED = 256
_RANDOM = {"lc", "wlc", "sed", "nq", "lblc", "lblcr", "twos"}


def op_service(op: LvsOp) -> ServiceKey:
    if isinstance(op, AddService | EditService):
        return op.service.key
    if isinstance(op, DelService):
        return op.key
    return op.service


def slots(sched: str, dests: list[Dest]) -> list[tuple[int, int, Dest]]:
    """Map slots as (first, last, dest) runs for the scheduler. Pure; unit-tested."""
    live = [d for d in dests if d.weight > 0]
    if not live:
        return []
    if sched in ("fo", "ovf"):
        best = max(live, key=lambda d: d.weight)
        return [(0, 0, best)]
    if sched == "rr":
        return [(i, i, d) for i, d in enumerate(live)]
    total = sum(d.weight for d in live)
    if sched == "wrr" and total <= MAX_INTERLEAVED:
        # smooth weighted round robin: each step the highest running credit wins and pays `total`
        credit = [0] * len(live)
        out: list[tuple[int, int, Dest]] = []
        for i in range(total):
            for j, d in enumerate(live):
                credit[j] += d.weight
            k = max(range(len(live)), key=lambda j: credit[j])
            credit[k] -= total
            out.append((i, i, live[k]))
        return out
    out = []
    start = 0
    for d in live:
        out.append((start, start + d.weight - 1, d))
        start += d.weight
    return out


def _l4(proto: Protocol) -> str:
    """The port expression of a service's destination map: nft refuses a `tcp dport` map in a rule
    that matched `meta l4proto udp` (conflicting protocols), so each map is typed by its protocol."""
    return proto.value if proto in (Protocol.UDP, Protocol.SCTP) else "tcp"


def _ct_timeouts(t: LvsTimeouts | None, fam: int) -> dict[str, str]:
    """ct timeout object name → declaration for lvs_timeouts (only the configured values)."""
    out: dict[str, str] = {}
    if not t:
        return out
    l3 = "ip" if fam == 4 else "ip6"
    tcp = [f"established: {t.tcp}"] if t.tcp else []
    tcp += [f"{st}: {t.tcpfin}" for st in ("fin_wait", "close_wait", "last_ack")] if t.tcpfin else []
    if tcp:
        policy = ", ".join(tcp)
        out[f"lvs_tcp_{t.tcp}_{t.tcpfin}"] = f"{{ protocol tcp; l3proto {l3}; policy = {{ {policy} }}; }}"
    if t.udp:
        out[f"lvs_udp_{t.udp}"] = (f"{{ protocol udp; l3proto {l3}; policy = {{ unreplied: {t.udp}, "
                                   f"replied: {t.udp} }}; }}")
    return out


@dataclass(slots=True)
class _Names:
    ids: dict[ServiceKey, int] = field(default_factory=dict)
    next_id: int = 1

    def of(self, key: ServiceKey) -> int:
        if key not in self.ids:
            self.ids[key] = self.next_id
            self.next_id += 1
        return self.ids[key]


class NftLoadBalancer:
    """`LvsBackend` rendering the LVS table into nftables (see the module docstring)."""

    # IPVS's default connection timeouts (ipvsadm --set): tcp, tcpfin, udp
    conn_timeouts: dict[str, int] = {"tcp": 900, "tcpfin": 120, "udp": 300}
    CONNS_SIZE = 262144

    def __init__(self, table: str = "pykeepalived_lb", nft: str = "nft", netns: str | None = None) -> None:
        self.table = table
        self.nft = nft
        self.netns = netns
        self.view: dict[ServiceKey, ServiceEntry] = {}
        self.names = _Names()
        self.routes = RoutePlumbing(netns)
        self._created: set[int] = set()  # families whose table exists
        self._warned: set[str] = set()
        self._sig: dict[ServiceKey, tuple[object, ...]] = {}  # shape of the service's stateful objects
        self._counters: dict[ServiceKey, set[DestKey]] = {}  # destinations owning counters
        self._ctr_index: dict[tuple[str, str], tuple[ServiceKey, DestKey | None, str]] = {}
        self._evict: dict[ServiceKey, list[str]] = {}  # persistence entries to delete, per service
        self.transactions = 0
        self.timeouts: LvsTimeouts | None = None  # lvs_timeouts
        self._forward_off: set[int] = set()  # families whose forwarding switch was logged as off

    def _tname(self, family: int) -> tuple[str, str]:
        return ("ip", self.table) if family == 4 else ("ip6", self.table + "6")

    async def dump(self) -> LvsTable:
        return dict(self.view)

    async def stats(self) -> LvsCounters:
        """Per-service and per-destination counters (one `nft -j list counters` call)."""
        if not self._ctr_index:
            return {}
        data = json.loads(await self._run_out(["-j", "list", "counters"]))
        per: dict[ServiceKey, dict[DestKey | None, dict[str, int]]] = {}
        for item in data.get("nftables", []):
            c = item.get("counter")
            if not c:
                continue
            hit = self._ctr_index.get((c.get("table", ""), c.get("name", "")))
            if hit is None:
                continue
            key, dkey, what = hit
            acc = per.setdefault(key, {}).setdefault(dkey, {})
            if what == "conn":
                acc["conns"] = int(c["packets"])
            else:
                acc[f"{what}pkts"] = int(c["packets"])
                acc[f"{what}bytes"] = int(c["bytes"])
        out: dict[ServiceKey, ServiceStats] = {}
        for key, dests in per.items():  # the service's own counters keep what removed servers did
            total = LvsStats(**dests.pop(None, {}))
            out[key] = ServiceStats(total, {dk: LvsStats(**v) for dk, v in dests.items() if dk is not None})
        return out

    async def flush(self) -> None:
        """Remove our tables, routes, rules and tunnels (start-up with lvs_flush, and stop)."""
        script = ""
        for fam in (4, 6):
            f, t = self._tname(fam)
            script += f"table {f} {t} {{}}\ndelete table {f} {t}\n"
        await self._run(script)
        await self.routes.flush_leftovers()
        await self.routes.prune(set())
        await self.routes.close()
        self._created.clear()
        self._sig.clear()
        self._counters.clear()
        self._ctr_index.clear()
        self.view = {}

    async def set_timeouts(self, t: LvsTimeouts | None) -> None:
        """`lvs_timeouts` as ct timeout objects (module docstring); None: conntrack's defaults."""
        t = t or None
        if t == self.timeouts:
            return
        old = self.timeouts
        self.timeouts = t
        script = self.render(self.view, set(self.view)) if self.view else ""
        for fam in sorted(self._created):
            f, tb = self._tname(fam)
            for name, decl in _ct_timeouts(old, fam).items():
                if name not in _ct_timeouts(t, fam):  # add first: deleting a missing object fails
                    script += f"add ct timeout {f} {tb} {name} {decl}\ndelete ct timeout {f} {tb} {name}\n"
        if script:
            await self._run(script)

    async def apply(self, ops: list[LvsOp]) -> None:
        if not ops:
            return
        new = apply_ops(self.view, ops)
        keys = {op_service(op) for op in ops}
        wanted = self._route_keys(new)
        await self.routes.sync(wanted)
        self._evict = await self._evictions(new, keys)
        script = self.render(new, keys)
        try:
            await self._run(script)
        except NftError:
            if not self._evict:
                raise
            # an entry to evict expired meanwhile: apply without, then evict one by one
            evict, self._evict = self._evict, {}
            await self._run(self.render(new, keys))
            for key, elems in evict.items():
                f, t = self._tname(key.family)
                for e in elems:
                    try:
                        await self._run(
                            f"delete element {f} {t} svc_{self.names.of(key)}_persist {{ {e} }}\n"
                        )
                    except NftError:
                        pass
        self._commit(new, keys)
        self.transactions += 1
        self.view = new
        await self.routes.prune(wanted)
        await self._check_forwarding(new, keys)

    async def close(self) -> None:
        await self.routes.close()

    # -- helpers ---------------------------------------------------------------------------------
    async def _check_forwarding(self, table: dict[ServiceKey, ServiceEntry], keys: set[ServiceKey]) -> None:
        """Log, once per episode and family, that a service just programmed cannot work because the
        kernel does not forward (module docstring); the switch is read in the plane's namespace."""
        for fam in (4, 6):
            touched = sorted((k for k in keys if k.family == fam and k in table), key=str)
            if not touched:
                continue
            name = FORWARD_SYSCTL[fam]
            value = await self._read_sysctl(name)
            if value != "0":
                self._forward_off.discard(fam)  # on (or unreadable: nothing to say)
                continue
            if fam in self._forward_off:
                continue
            self._forward_off.add(fam)
            key = touched[0]
            log.warning("nftables data plane: %s is 0, so the kernel does not forward the packets of "
                        "lb_kind %s service %s to its real servers; set %s=1 (sysctl -w %s=1)",
                        name, self._kind(table[key]).name, key, name, name)

    async def _read_sysctl(self, name: str) -> str | None:
        key = name.replace(".", "/")
        if self.netns is None:
            return read_sysctl(key)
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.netns, "cat", f"/proc/sys/{key}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        return out.decode().strip() if proc.returncode == 0 else None

    def _kind(self, entry: ServiceEntry) -> Forwarding:
        dests = sorted(entry.dests.values(), key=lambda d: (d.addr, d.port))
        kinds = {d.forwarding for d in dests}
        if not kinds:
            return Forwarding.NAT
        kind = dests[0].forwarding
        if len(kinds) > 1:
            self._warn(
                f"nftables data plane: mixed lb_kind in {entry.service.key}, using {kind.name} for all"
            )
        return kind

    def _route_keys(self, table: dict[ServiceKey, ServiceEntry]) -> set[RouteKey]:
        out = set()
        for key, entry in table.items():
            kind = self._kind(entry)
            if kind is not Forwarding.NAT:
                out |= {
                    RouteKey(key.family, kind, d.addr)
                    for d in entry.dests.values()
                    if (":" in d.addr) == (key.family == 6)
                }
        return out

    def _sig_of(self, entry: ServiceEntry) -> tuple[object, ...]:
        svc = entry.service
        key = svc.key
        kind = self._kind(entry)
        mask = self._mask(svc) if svc.persistence_timeout else None
        with_port = kind is Forwarding.NAT and self._with_port(entry)
        return (kind, with_port, bool(svc.persistence_timeout), svc.persistence_timeout, mask, key.protocol)

    def _with_port(self, entry: ServiceEntry) -> bool:
        key = entry.service.key
        return not key.fwmark and key.port != 0 and all(d.port for d in entry.dests.values())

    def _mask(self, svc: Any) -> str | None:
        try:
            return gran_mask(svc.key.family, svc.persistence_granularity)
        except ValueError:
            self._warn(
                f"nftables data plane: bad persistence_granularity {svc.persistence_granularity} for "
                f"{svc.key}, using the whole address"
            )
            return None

    def _counter_name(self, sid: int, d: DestKey, what: str) -> str:
        return f"s{sid}_{ipaddress.ip_address(d.addr).packed.hex()}_{d.port}_{what}"

    async def _evictions(
        self, new: dict[ServiceKey, ServiceEntry], keys: set[ServiceKey]
    ) -> dict[ServiceKey, list[str]]:
        """Persistence entries pointing at destinations removed from a persistent service."""
        out: dict[ServiceKey, list[str]] = {}
        for key in keys:
            old, cur = self.view.get(key), new.get(key)
            if old is None or cur is None or not old.service.persistence_timeout:
                continue
            if self._sig.get(key) != self._sig_of(cur):
                continue  # the map is re-created anyway
            gone = [old.dests[d] for d in old.dests if d not in cur.dests]
            if not gone:
                continue
            f, t = self._tname(key.family)
            try:
                data = json.loads(
                    await self._run_out(["-j", "list", "map", f, t, f"svc_{self.names.of(key)}_persist"])
                )
            except (NftError, ValueError):
                continue
            kind = self._kind(old)
            targets: set[object] = set()
            for d in gone:
                if kind is Forwarding.NAT:
                    targets.add((d.addr, d.port) if self._sig[key][1] else d.addr)
                else:
                    targets.add(self.routes.mark(RouteKey(key.family, kind, d.addr)))
            elems = []
            for item in data.get("nftables", []):
                for k, v in (item.get("map") or {}).get("elem", []):
                    kv = k["elem"]["val"] if isinstance(k, dict) and "elem" in k else k
                    vv = tuple(v["concat"]) if isinstance(v, dict) and "concat" in v else v
                    if vv in targets:
                        elems.append(str(kv))
            if elems:
                out[key] = elems
        return out

    def _commit(self, new: dict[ServiceKey, ServiceEntry], keys: set[ServiceKey]) -> None:
        for key in keys:
            _f, t = self._tname(key.family)
            sid = self.names.of(key)
            for name in [n for n, v in self._ctr_index.items() if v[0] == key]:
                del self._ctr_index[name]
            if key in new:
                self._sig[key] = self._sig_of(new[key])
                dkeys = set(new[key].dests)
                self._counters[key] = dkeys
                for what in ("conn", "in", "out"):
                    self._ctr_index[(t, f"s{sid}_{what}")] = (key, None, what)
                    for dk in dkeys:
                        self._ctr_index[(t, self._counter_name(sid, dk, what))] = (key, dk, what)
            else:
                self._sig.pop(key, None)
                self._counters.pop(key, None)

    # -- rendering -------------------------------------------------------------------------------
    _BASE = (
        ("prerouting", "nat hook prerouting priority dstnat"),
        ("output", "nat hook output priority -100"),
        ("raw", "filter hook prerouting priority raw"),
        ("rawmark", "filter hook prerouting priority raw + 50"),  # DR / TUN fwmark services
        ("route", "filter hook prerouting priority mangle + 10"),
        ("count", "filter hook prerouting priority dstnat + 10"),
    )

    def _base(self, family: int) -> str:
        f, t = self._tname(family)
        chains = "".join(f"  chain {c} {{ type {h}; policy accept; }}\n" for c, h in self._BASE)
        return f"table {f} {t} {{\n{chains}}}\n" + "".join(
            f"flush chain {f} {t} {c}\n" for c, _ in self._BASE
        )

    def _maps(self, fam: int, sid: int, sig: tuple[object, ...]) -> list[str]:
        """Declarations of the service's chains and maps for its shape `sig`."""
        f, t = self._tname(fam)
        a = "ip" if fam == 4 else "ip6"
        at = "ipv4_addr" if fam == 4 else "ipv6_addr"
        kind, with_port, _, timeout, _, proto = sig
        assert isinstance(proto, Protocol)
        if kind is not Forwarding.NAT:
            pdata, ctype = "meta mark", "mark"
        elif with_port:
            pdata, ctype = f"{a} daddr . {_l4(proto)} dport", f"{at} . inet_service"
        else:
            pdata, ctype = f"{a} daddr", at
        ct = self.conn_timeouts["udp" if proto is Protocol.UDP else "tcp"]
        out = [
            f"add chain {f} {t} {c}" for c in (f"svc_{sid}", f"svc_{sid}_new", f"svc_{sid}_est", f"cnt_{sid}")
        ]
        out += [
            f"add map {f} {t} svc_{sid}_dests {{ typeof numgen inc mod 2 : {a} daddr . {_l4(proto)} dport; "
            "flags interval; }",
            f"add map {f} {t} svc_{sid}_addrs {{ typeof numgen inc mod 2 : {a} daddr; flags interval; }}",
            f"add map {f} {t} svc_{sid}_slots {{ typeof numgen inc mod 2 : meta mark; flags interval; }}",
            f"add map {f} {t} svc_{sid}_conns {{ typeof {a} saddr . th sport . {a} daddr . th dport : "
            f"meta mark; flags dynamic,timeout; timeout {ct}s; size {self.CONNS_SIZE}; }}",
            f"add map {f} {t} svc_{sid}_persist {{ typeof {a} saddr : {pdata}; flags dynamic,timeout; "
            f"timeout {max(1, int(str(timeout)))}s; size {self.CONNS_SIZE}; }}",
        ]
        out += [
            f"add map {f} {t} svc_{sid}_c{w} {{ type {ctype} : counter; }}" for w in ("conn", "in", "out")
        ]
        return out

    def _drop(self, fam: int, sid: int) -> list[str]:
        """Delete the service's chains and maps (the dispatch chains no longer refer to them)."""
        f, t = self._tname(fam)
        chains = (f"svc_{sid}", f"svc_{sid}_new", f"svc_{sid}_est", f"cnt_{sid}")
        maps = ("dests", "addrs", "slots", "conns", "persist", "cconn", "cin", "cout")
        return (
            [f"flush chain {f} {t} {c}" for c in chains]
            + [f"delete chain {f} {t} {c}" for c in chains]
            + [f"delete map {f} {t} svc_{sid}_{m}" for m in maps]
        )

    def render(self, new: dict[ServiceKey, ServiceEntry], changed: set[ServiceKey]) -> str:
        """The nft script for one transaction: dispatch rules + the changed services."""
        lines: list[str] = []
        for fam in (4, 6):
            mine = {k: v for k, v in new.items() if k.family == fam}
            gone = {k for k in changed if k.family == fam and k not in new}
            if not mine and fam not in self._created and not gone:
                continue
            lines.append(self._base(fam))
            f, t = self._tname(fam)
            addr_kw = "ip" if fam == 4 else "ip6"
            dispatch: list[str] = []
            for key in sorted(mine, key=lambda k: self.names.of(k)):
                sid = self.names.of(key)
                if key.fwmark:
                    match = f"meta mark {key.fwmark}"
                    ctmatch = f"meta mark {key.fwmark}"
                else:
                    proto = key.protocol.value
                    match = f"{addr_kw} daddr {key.addr} meta l4proto {proto}"
                    ctmatch = f"ct original {addr_kw} daddr {key.addr} ct original protocol {proto}"
                    if key.port:  # port 0: a persistent all-ports service
                        match += f" th dport {key.port}"
                        ctmatch += f" ct original proto-dst {key.port}"
                if self._kind(mine[key]) is Forwarding.NAT:
                    for hook in ("prerouting", "output"):
                        dispatch.append(f"add rule {f} {t} {hook} {match} jump svc_{sid}")
                    dispatch.append(f"add rule {f} {t} count {ctmatch} jump cnt_{sid}")
                else:
                    # DR / TUN: conntrack cannot follow (see the module docstring); a fwmark is
                    # matched at raw + 50, after marks set at priority raw, before conntrack (-200)
                    chain = "rawmark" if key.fwmark else "raw"
                    dispatch.append(f"add rule {f} {t} {chain} {match} notrack")
                    dispatch.append(f"add rule {f} {t} route {match} goto svc_{sid}")
            for key in sorted(changed, key=lambda k: self.names.of(k)):
                if key.family != fam:
                    continue
                sid = self.names.of(key)
                if key in new:
                    lines += self._service(fam, sid, new[key])
                elif key in self._sig:  # the dispatch chains were flushed above: nothing refers to it
                    lines += self._drop(fam, sid)
                    lines += [
                        f"delete counter {f} {t} {self._counter_name(sid, d, w)}"
                        for d in sorted(self._counters.get(key, ()))
                        for w in ("conn", "in", "out")
                    ]
                    lines += [f"delete counter {f} {t} s{sid}_{w}" for w in ("conn", "in", "out")]
            lines += dispatch
            if mine:
                self._created.add(fam)
        return "\n".join(lines) + "\n"

    def _service(self, fam: int, sid: int, entry: ServiceEntry) -> list[str]:
        f, t = self._tname(fam)
        svc = entry.service
        key = svc.key
        dests = sorted(entry.dests.values(), key=lambda d: (d.addr, d.port))
        if any((":" in d.addr) != (fam == 6) for d in dests):
            self._warn(f"nftables data plane: real servers of another address family than {key} ignored")
            dests = [d for d in dests if (":" in d.addr) == (fam == 6)]
        if svc.persistence_engine:
            self._warn(
                f"nftables data plane: persistence_engine {svc.persistence_engine} not supported "
                f"for {key}, ignored"
            )
        if svc.scheduler in _RANDOM:
            self._warn(
                f"nftables data plane: lb_algo {svc.scheduler} approximated by weighted random for {key}"
            )
        if key.fwmark and self._kind(entry) is not Forwarding.NAT:
            self._warn(
                f"nftables data plane: {key} with lb_kind {self._kind(entry).name} is notracked only if "
                "its mark is set before priority -250 (nftables `priority raw`, iptables -t raw)"
            )
        sig = self._sig_of(entry)
        old = self._sig.get(key)
        out: list[str] = []
        if old != sig:
            if old is not None:
                out += self._drop(fam, sid)
            out += self._maps(fam, sid, sig)
        else:
            out += [
                f"flush chain {f} {t} {c}"
                for c in (f"svc_{sid}", f"svc_{sid}_new", f"svc_{sid}_est", f"cnt_{sid}")
            ]
            out += [
                f"flush map {f} {t} svc_{sid}_{m}"
                for m in ("dests", "addrs", "slots", "cconn", "cin", "cout")
            ]
        if self._evict.get(key):
            out.append(f"delete element {f} {t} svc_{sid}_persist {{ {', '.join(self._evict[key])} }}")
        dkeys = {d.key for d in dests}
        out += [f"add counter {f} {t} s{sid}_{w}" for w in ("conn", "in", "out")]
        out += [
            f"add counter {f} {t} {self._counter_name(sid, dk, w)}"
            for dk in sorted(dkeys)
            for w in ("conn", "in", "out")
        ]
        out += [
            f"delete counter {f} {t} {self._counter_name(sid, dk, w)}"
            for dk in sorted(self._counters.get(key, set()) - set(entry.dests))
            for w in ("conn", "in", "out")
        ]
        if sig[0] is Forwarding.NAT:
            out += self._timeout_rules(fam, sid, key)  # lvs_timeouts: conntrack's, NAT only
            out += self._nat(fam, sid, entry, dests, sig)
        else:
            out += self._routed(fam, sid, entry, dests, sig)
        return out

    def _selector(self, fam: int, sched: str, total: int) -> str:
        a = "ip" if fam == 4 else "ip6"
        if sched in ("sh", "mh"):
            return f"jhash {a} saddr mod {total} seed {HASH_SEED:#x}"
        if sched == "dh":
            return f"jhash {a} daddr mod {total} seed {HASH_SEED:#x}"
        if sched in _RANDOM:
            return f"numgen random mod {total}"
        return f"numgen inc mod {total}"

    def _reject(self, f: str, t: str, chain: str, key: ServiceKey) -> list[str]:
        out = []
        if key.protocol is Protocol.TCP and not key.fwmark:
            out.append(f"add rule {f} {t} {chain} meta l4proto tcp reject with tcp reset")
        out.append(f"add rule {f} {t} {chain} reject")
        return out

    @staticmethod
    def _syn_gate(f: str, t: str, chain: str, key: ServiceKey) -> list[str]:
        """IPVS schedules a TCP connection only on its SYN (tcp_conn_schedule, sloppy_tcp off): any
        other TCP packet without a connection (a late FIN, a stray ACK) passes unscheduled to the
        director's own stack instead of taking a scheduler slot and a real server."""
        if key.protocol is Protocol.TCP or key.fwmark:
            return [f"add rule {f} {t} {chain} meta l4proto tcp tcp flags & (fin|syn|rst|ack) != syn return"]
        return []

    def _nat(
        self, fam: int, sid: int, entry: ServiceEntry, dests: list[Dest], sig: tuple[object, ...]
    ) -> list[str]:
        f, t = self._tname(fam)
        a = "ip" if fam == 4 else "ip6"
        svc = entry.service
        key = svc.key
        with_port, persistent, mask = bool(sig[1]), bool(sig[2]), sig[4]
        mapname = f"svc_{sid}_dests" if with_port else f"svc_{sid}_addrs"
        pkey = f"{a} saddr & {mask}" if mask else f"{a} saddr"
        out: list[str] = []
        celems: dict[str, list[str]] = {"conn": [], "in": [], "out": []}
        seen: set[str] = set()
        for d in dests:
            k = f"{d.addr} . {d.port}" if with_port else d.addr
            if k in seen:
                continue
            seen.add(k)
            for w in celems:
                celems[w].append(f'{k} : "{self._counter_name(sid, d.key, w)}"')
        for w, el in celems.items():
            if el:
                out.append(f"add element {f} {t} svc_{sid}_c{w} {{ {', '.join(el)} }}")
        l4 = "" if key.fwmark else f"meta l4proto {key.protocol.value} "
        out += self._syn_gate(f, t, f"svc_{sid}", key)
        if persistent:
            out.append(f"add rule {f} {t} svc_{sid} {l4}dnat {a} to {pkey} map @svc_{sid}_persist")
        runs = slots(svc.scheduler, dests)
        if runs:
            total = runs[-1][1] + 1
            elems = []
            for lo, hi, d in runs:
                rng = str(lo) if lo == hi else f"{lo}-{hi}"
                elems.append(f"{rng} : {d.addr} . {d.port}" if with_port else f"{rng} : {d.addr}")
            out.append(f"add element {f} {t} {mapname} {{ {', '.join(elems)} }}")
            out.append(
                f"add rule {f} {t} svc_{sid} {l4}dnat {a} to {self._selector(fam, svc.scheduler, total)} "
                f"map @{mapname}"
            )
        else:
            out += self._reject(f, t, f"svc_{sid}", key)
        dk = f"{a} daddr . th dport" if with_port else f"{a} daddr"
        sk = f"{a} saddr . th sport" if with_port else f"{a} saddr"
        c = f"cnt_{sid}"
        out.append(
            f"add rule {f} {t} {c} ct direction original ct state new counter name s{sid}_conn "
            f"counter name {dk} map @svc_{sid}_cconn"
        )
        out.append(
            f"add rule {f} {t} {c} ct direction original counter name s{sid}_in "
            f"counter name {dk} map @svc_{sid}_cin"
        )
        if persistent:
            out.append(
                f"add rule {f} {t} {c} ct direction original update @svc_{sid}_persist {{ {pkey} : {dk} }}"
            )
        out.append(
            f"add rule {f} {t} {c} ct direction reply counter name s{sid}_out "
            f"counter name {sk} map @svc_{sid}_cout"
        )
        return out

    def _routed(
        self, fam: int, sid: int, entry: ServiceEntry, dests: list[Dest], sig: tuple[object, ...]
    ) -> list[str]:
        """DR / TUN: pick a route mark (connection table, persistence, scheduler); see the docstring."""
        f, t = self._tname(fam)
        a = "ip" if fam == 4 else "ip6"
        svc = entry.service
        key = svc.key
        kind = sig[0]
        assert isinstance(kind, Forwarding)
        persistent, mask = bool(sig[2]), sig[4]
        pkey = f"{a} saddr & {mask}" if mask else f"{a} saddr"
        ckey = f"{a} saddr . th sport . {a} daddr . th dport"
        marks = {d.key: self.routes.mark(RouteKey(fam, kind, d.addr)) for d in dests}
        out: list[str] = []
        for w in ("conn", "in", "out"):
            el = [f'{marks[d.key]:#x} : "{self._counter_name(sid, d.key, w)}"' for d in dests]
            if el:
                out.append(f"add element {f} {t} svc_{sid}_c{w} {{ {', '.join(el)} }}")
        s, new, est = f"svc_{sid}", f"svc_{sid}_new", f"svc_{sid}_est"
        pu = f" update @svc_{sid}_persist {{ {pkey} : meta mark }}" if persistent else ""
        look = f"meta mark set {ckey} map @svc_{sid}_conns"
        if key.protocol is Protocol.TCP or key.fwmark:
            fin = self.conn_timeouts["tcpfin"]
            out.append(
                f"add rule {f} {t} {s} meta l4proto tcp tcp flags fin,rst {look} "
                f"update @svc_{sid}_conns {{ {ckey} timeout {fin}s : meta mark }}{pu} goto {est}"
            )
        out.append(
            f"add rule {f} {t} {s} {look} update @svc_{sid}_conns {{ {ckey} : meta mark }}{pu} goto {est}"
        )
        out += self._syn_gate(f, t, s, key)
        if persistent:
            out.append(f"add rule {f} {t} {s} meta mark set {pkey} map @svc_{sid}_persist goto {new}")
        runs = slots(svc.scheduler, dests)
        if runs:
            total = runs[-1][1] + 1
            elems = [f"{lo if lo == hi else f'{lo}-{hi}'} : {marks[d.key]:#x}" for lo, hi, d in runs]
            out.append(f"add element {f} {t} svc_{sid}_slots {{ {', '.join(elems)} }}")
            out.append(
                f"add rule {f} {t} {s} meta mark set {self._selector(fam, svc.scheduler, total)} "
                f"map @svc_{sid}_slots goto {new}"
            )
        else:
            out += self._reject(f, t, s, key)
        if persistent:
            out.append(f"add rule {f} {t} {new}{pu}")
        out.append(f"add rule {f} {t} {new} update @svc_{sid}_conns {{ {ckey} : meta mark }}")
        out.append(
            f"add rule {f} {t} {new} counter name s{sid}_conn counter name meta mark map @svc_{sid}_cconn"
        )
        out.append(f"add rule {f} {t} {new} counter name s{sid}_in counter name meta mark map @svc_{sid}_cin")
        out.append(f"add rule {f} {t} {new} accept")
        out.append(f"add rule {f} {t} {est} counter name s{sid}_in counter name meta mark map @svc_{sid}_cin")
        out.append(f"add rule {f} {t} {est} accept")
        return out

    def _timeout_rules(self, fam: int, sid: int, key: ServiceKey) -> list[str]:
        f, t = self._tname(fam)
        out = []
        for name, decl in _ct_timeouts(self.timeouts, fam).items():
            proto = "tcp" if name.startswith("lvs_tcp") else "udp"
            if key.fwmark or key.protocol.value == proto:
                out.append(f"add ct timeout {f} {t} {name} {decl}")
                out.append(f'add rule {f} {t} svc_{sid} meta l4proto {proto} ct timeout set "{name}"')
        return out

    def _warn(self, msg: str) -> None:
        if msg not in self._warned:
            self._warned.add(msg)
            log.warning("%s", msg)

    def _cmd(self, args: list[str]) -> list[str]:
        cmd = [self.nft, *args]
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    async def _run(self, script: str) -> None:
        await run_nft(script, nft=self.nft, netns=self.netns)

    async def _run_out(self, args: list[str]) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self._cmd(args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode:
            raise NftError(f"nft failed: {err.decode(errors='replace').strip()}")
        return out.decode()
