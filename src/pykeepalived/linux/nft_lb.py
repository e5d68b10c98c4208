"""nftables data plane for the virtual services (for kernels without IPVS, like this one).

# Theory of operation
The LVS table is rendered into one nftables table per address family (`ip pykeepalived_lb`,
`ip6 pykeepalived_lb6`), following nftlb's design:

    chain prerouting { type nat hook prerouting priority dstnat; }   # + output, for local clients
        ip daddr 203.0.113.10 tcp dport 80 jump svc_1                # address services
        meta mark 7 jump svc_2                                       # fwmark services
    map svc_1_dests { typeof numgen inc mod 2 : ip daddr . tcp dport; flags interval; }
    chain svc_1 { meta l4proto tcp dnat ip to numgen inc mod 5 map @svc_1_dests }

Every service of a virtual_server_group (one per address of a range, plus fwmark entries) is a service
of its own here, with its own chain and maps, exactly like IPVS. A port-0 service (persistent, all
ports) matches any destination port and translates the address only.

Each destination owns a run of slots in its service's map proportional to its weight (weight-0
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

A service with no usable destination rejects new connections (TCP reset / ICMP unreachable).
Every change is one `nft -f -` transaction (atomic in the kernel): the affected services' chains and
maps are flushed and refilled in the same batch, so a packet never sees a half-updated service.
Existing connections keep their destination through conntrack, like IPVS without expire_nodest_conn.
Not supported here (logged once): lb_kind DR and TUN (only NAT), persistence_timeout (no affinity),
thresholds (uthreshold/lthreshold), one-packet scheduling.

`lvs_timeouts` (IPVS connection timeouts) become nftables `ct timeout` objects set on the first
packet of each virtual service's connections (in the service chain, before the dnat), so they apply
to the load-balanced connections only: `tcp` → conntrack's established timeout; `tcpfin` → fin_wait,
close_wait and last_ack, the half-closed states between the first FIN and the last ACK (IPVS's
tcpfin is its FIN_WAIT timeout: "TCP sessions after receiving a FIN"; time_wait keeps conntrack's
value, as IPVS's TIME_WAIT is not settable either); `udp` → unreplied and replied. The objects are
named after their values (`lvs_tcp_900_120`, `lvs_udp_300`), so a change is one transaction that
refills every service chain and deletes the old objects. Connections already tracked keep theirs.

The director must forward (net.ipv4.ip_forward=1) and be the real servers' route back to clients,
exactly as for IPVS NAT.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pykeepalived.config.lvs_globals import LvsTimeouts
from pykeepalived.lvs.model import Dest, Forwarding, LvsCounters, LvsTable, Protocol, ServiceEntry, ServiceKey
from pykeepalived.lvs.plan import AddService, DelService, EditService, LvsOp, apply_ops

log = logging.getLogger("pykeepalived")

HASH_SEED = 0x6B61  # fixed so that sh/dh keep mapping clients to the same server across updates
MAX_INTERLEAVED = 256
_RANDOM = {"lc", "wlc", "sed", "nq", "lblc", "lblcr", "twos"}


class NftError(RuntimeError):
    pass


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


def _l4(key: ServiceKey) -> str:
    """The port expression of a service's destination map: nft refuses a `tcp dport` map in a rule
    that matched `meta l4proto udp` (conflicting protocols), so each map is typed by its protocol."""
    return key.protocol.value if key.protocol in (Protocol.UDP, Protocol.SCTP) else "tcp"


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

    def __init__(self, table: str = "pykeepalived_lb", nft: str = "nft", netns: str | None = None) -> None:
        self.table = table
        self.nft = nft
        self.netns = netns
        self.view: dict[ServiceKey, ServiceEntry] = {}
        self.names = _Names()
        self._created: set[int] = set()  # families whose table exists
        self._warned: set[str] = set()
        self.transactions = 0
        self.timeouts: LvsTimeouts | None = None  # lvs_timeouts

    def _tname(self, family: int) -> tuple[str, str]:
        return ("ip", self.table) if family == 4 else ("ip6", self.table + "6")

    async def dump(self) -> LvsTable:
        return dict(self.view)

    async def stats(self) -> LvsCounters:
        return {}  # contract placeholder: the nftdr branch reads the per-destination counters here

    async def flush(self) -> None:
        """Remove our tables (start-up with lvs_flush, and stop)."""
        script = ""
        for fam in (4, 6):
            f, t = self._tname(fam)
            script += f"table {f} {t} {{}}\ndelete table {f} {t}\n"
        await self._run(script)
        self._created.clear()
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
        script = self.render(new, keys)
        await self._run(script)
        self.transactions += 1
        self.view = new

    # -- rendering -------------------------------------------------------------------------------
    def _base(self, family: int) -> str:
        f, t = self._tname(family)
        return (f"table {f} {t} {{\n"
                f"  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n"
                f"  chain output {{ type nat hook output priority -100; policy accept; }}\n}}\n"
                f"flush chain {f} {t} prerouting\nflush chain {f} {t} output\n")

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
                else:
                    proto = key.protocol.value
                    match = f"{addr_kw} daddr {key.addr} meta l4proto {proto}"
                    if key.port:  # port 0: a persistent all-ports service
                        match += f" th dport {key.port}"
                for hook in ("prerouting", "output"):
                    dispatch.append(f"add rule {f} {t} {hook} {match} jump svc_{sid}")
            for key in sorted(changed, key=lambda k: self.names.of(k)):
                if key.family != fam:
                    continue
                sid = self.names.of(key)
                if key in new:
                    lines += self._service(fam, sid, new[key])
                else:  # the dispatch chains were flushed above, so nothing refers to it any more
                    lines.append(f"add chain {f} {t} svc_{sid}")
                    lines.append(f"delete chain {f} {t} svc_{sid}")
                    lines.append(f"add map {f} {t} svc_{sid}_dests {{ typeof numgen inc mod 2 : {addr_kw} "
                                 f"daddr . {_l4(key)} dport; flags interval; }}")
                    lines.append(f"add map {f} {t} svc_{sid}_addrs {{ typeof numgen inc mod 2 : {addr_kw} "
                                 f"daddr; flags interval; }}")
                    lines.append(f"delete map {f} {t} svc_{sid}_dests")
                    lines.append(f"delete map {f} {t} svc_{sid}_addrs")
            lines += dispatch
            if mine:
                self._created.add(fam)
        return "\n".join(lines) + "\n"

    def _service(self, fam: int, sid: int, entry: ServiceEntry) -> list[str]:
        f, t = self._tname(fam)
        a = "ip" if fam == 4 else "ip6"
        svc = entry.service
        key = svc.key
        dests = sorted(entry.dests.values(), key=lambda d: (d.addr, d.port))
        if any((":" in d.addr) != (fam == 6) for d in dests):
            self._warn(f"nftables data plane: real servers of another address family than {key} ignored")
            dests = [d for d in dests if (":" in d.addr) == (fam == 6)]
        for d in dests:
            if d.forwarding is not Forwarding.NAT:
                self._warn(f"nftables data plane: lb_kind {d.forwarding.name} not supported for {key}, "
                           "using NAT")
        if svc.persistence_timeout:
            self._warn(f"nftables data plane: persistence_timeout ignored for {key}")
        if svc.scheduler in _RANDOM:
            self._warn(f"nftables data plane: lb_algo {svc.scheduler} approximated by weighted random "
                       f"for {key}")
        with_port = not key.fwmark and key.port != 0 and all(d.port for d in dests)
        mapname = f"svc_{sid}_dests" if with_port else f"svc_{sid}_addrs"
        out = [
            f"add chain {f} {t} svc_{sid}",
            f"add map {f} {t} svc_{sid}_dests {{ typeof numgen inc mod 2 : {a} daddr . {_l4(key)} dport; "
            f"flags interval; }}",
            f"add map {f} {t} svc_{sid}_addrs {{ typeof numgen inc mod 2 : {a} daddr; flags interval; }}",
            f"flush chain {f} {t} svc_{sid}",
            f"flush map {f} {t} svc_{sid}_dests",
            f"flush map {f} {t} svc_{sid}_addrs",
        ]
        out += self._timeout_rules(fam, sid, key)
        runs = slots(svc.scheduler, dests)
        l4 = "" if key.fwmark else f"meta l4proto {key.protocol.value} "
        if not runs:
            if key.protocol is Protocol.TCP and not key.fwmark:
                out.append(f"add rule {f} {t} svc_{sid} meta l4proto tcp reject with tcp reset")
            out.append(f"add rule {f} {t} svc_{sid} reject")
            return out
        total = runs[-1][1] + 1
        elems = []
        for lo, hi, d in runs:
            rng = str(lo) if lo == hi else f"{lo}-{hi}"
            elems.append(f"{rng} : {d.addr} . {d.port}" if with_port else f"{rng} : {d.addr}")
        out.append(f"add element {f} {t} {mapname} {{ {', '.join(elems)} }}")
        if svc.scheduler in ("sh", "mh"):
            sel = f"jhash {a} saddr mod {total} seed {HASH_SEED:#x}"
        elif svc.scheduler == "dh":
            sel = f"jhash {a} daddr mod {total} seed {HASH_SEED:#x}"
        elif svc.scheduler in _RANDOM:
            sel = f"numgen random mod {total}"
        else:
            sel = f"numgen inc mod {total}"
        out.append(f"add rule {f} {t} svc_{sid} {l4}dnat {a} to {sel} map @{mapname}")
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

    async def _run(self, script: str) -> None:
        cmd = [self.nft, "-f", "-"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(script.encode())
        if proc.returncode:
            raise NftError(f"nft failed: {err.decode(errors='replace').strip()}")
