# Theory of operation
# -------------------
# The checker child's SNMP subtree, as keepalived 2.2.7's check/check_snmp.c serves it: KEEPALIVED-MIB
# check (…9586.100.5.3) and, as keepalived's checker registers the base MIB too, the global subtree
# (…5.1, the same objects the VRRP child serves: control/snmp_vrrp.global_view; the VRRP child then
# leaves it to us, vrrp_handles_global_oid). Every cell is read when a request arrives through
# `CheckSource`, a narrow read-only view of the checker's typed state (daemon/checker/check_snmp_view.py): the
# virtual servers' states in configuration order, the resolved notify commands and the data plane's
# counters. Nothing here does I/O; control/snmp_subagent.py carries the PDUs.
#
# Tables (index: virtual server position from 1; real servers: (vs, n) with the sorry server first
# when there is one, as check_snmp_realserver walks them):
# - virtualServerTable: the configuration, the quorum state, the real server counts, the data plane's
#   counters (IPVS: the kernel's; nftables: its counters, conns = new connections; out* stay 0 where
#   nftables counts one direction only). The rate columns are 0: pykeepalived keeps no rate estimator
#   (IPVS computes them in the kernel); documented in docs/snmp.md.
# - realServerTable: the same for each destination; active/inactive/persistent connection counts are
#   0 on the nftables plane (no per-destination connection table).
# - virtualServerGroupTable/MemberTable, lvsSyncDaemon scalars and lvsTimeouts from the configuration.
# keepalived's quirks kept: the traps name their objects without an index, and virtualServerProtocol
# in a trap is a TruthValue of "is TCP" (1 TCP, 2 anything else); the persistence granularity columns
# show keepalived's raw uint32 (0xffffffff unset; the IPv4 one as its bytes in memory); a sorry server
# row shows its own unset timers (retry/delay 0, connection timeout 4294967295, alpha true) as keepalived
# never copies the virtual server's defaults to it. Compared beside keepalived 2.2.7 in the IPVS VM tier
# (tests/check/test_ipvs_vm.py): the same walk.
"""KEEPALIVED-MIB check subtree of the checker child, and its traps."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress as ipa
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from pykeepalived.check.from_config import range_bounds
from pykeepalived.config.command_words import cmd_str
from pykeepalived.config.lvs_globals import LvsGlobals, lvs_globals
from pykeepalived.control.snmp_subagent import AgentXClient
from pykeepalived.control.snmp_vrrp import (
    CONNECT_WAIT_S,
    GLOBAL,
    KEEPALIVED,
    SnmpOptions,
    SnmpSettings,
    global_view,
    settings,
    truth,
)
from pykeepalived.lvs.model import DestKey, Forwarding, LvsCounters, LvsStats
from pykeepalived.lvs.model import Protocol as LvsProto
from pykeepalived.snmp.agentx import OID, Value, VarBind, counter, counter64, gauge, integer, octets
from pykeepalived.snmp.mib import Cell, MibView, Scalar, Table
from pykeepalived.snmp.session import Registration

if TYPE_CHECKING:
    from pykeepalived.check.model import RealServerSpec, VirtualServerSpec
    from pykeepalived.check.state import RealServerState, StateTrap, VirtualServerState
    from pykeepalived.config.model import Model
    from pykeepalived.track.command import ScriptCommand

CHECK = (*KEEPALIVED, 3)
ROUTER_ID_0 = (*GLOBAL, 2, 0)
STATS_REFRESH_S = 5.0  # keepalived's STATS_REFRESH: counters at most this old
UINT_MAX = 4294967295
SEC = 1_000_000

_ALGOS = {"rr": 1, "wrr": 2, "lc": 3, "wlc": 4, "lblc": 5, "lblcr": 6, "dh": 7, "sh": 8, "sed": 9,
          "nq": 10, "fo": 11, "ovf": 12, "mh": 13, "twos": 14}
_KIND = {Forwarding.NAT: 1, Forwarding.DR: 2, Forwarding.TUN: 3}
_PROTO = {LvsProto.TCP: 1, LvsProto.UDP: 2, LvsProto.SCTP: 3}
# IP_VS_SVC_F_SCHED1..3: the sh-/mh- flags are the same bits as flag-1..3
_SCHED_BITS = ({"flag-1", "sh-fallback", "mh-fallback"}, {"flag-2", "sh-port", "mh-port"}, {"flag-3"})


class CheckSource(Protocol):
    """What the check subtree reads from the checker child (read-only, on the child's loop)."""

    def virtual_servers(self) -> Sequence[VirtualServerState]: ...

    def in_data_plane(self, index: int) -> bool: ...

    def command(self, text: str) -> ScriptCommand | None: ...

    def counters(self) -> LvsCounters: ...


def _addrtype(family: int) -> int:  # SNMP_InetAddressType
    return 1 if family == 4 else 2


def _packed(addr: str) -> bytes:
    return ipa.ip_address(addr).packed


def _secs(v: float | None) -> int:
    return 0 if v is None else round(v * SEC)


class CheckMibs:
    """Builds the check view over a CheckSource and the traps' varbinds."""

    def __init__(self, src: CheckSource, model: Model, cfg: SnmpSettings) -> None:
        self.src = src
        self.model = model
        self.cfg = cfg
        self.lvs: LvsGlobals = lvs_globals(model)

    @property
    def router_id(self) -> str:
        return self.model.global_defs.router_id or socket.gethostname()

    def _cmd(self, text: str | None) -> Value | None:
        if not text:
            return None
        c = self.src.command(text)
        return octets(cmd_str(c.argv) if c is not None else text)

    # ------------------------------------------------------------------ rows
    def _vs_rows(self) -> list[tuple[OID, tuple[int, VirtualServerState]]]:
        return [((i,), (i, st)) for i, st in enumerate(self.src.virtual_servers(), 1)]

    def _rs_rows(self) -> list[tuple[OID, _RsRow]]:
        out: list[tuple[OID, _RsRow]] = []
        for i, st in enumerate(self.src.virtual_servers(), 1):
            n = 0
            ss = st.spec.sorry_server
            if ss is not None:
                n += 1
                out.append(((i, n), _RsRow(st, ss, None)))
            for r in st.rs:
                n += 1
                out.append(((i, n), _RsRow(st, r.spec, r)))
        return out

    def _vs_stats(self, st: VirtualServerState) -> LvsStats:
        s = self.src.counters().get(st.spec.key)
        return s.total if s is not None else LvsStats()

    def _rs_stats(self, row: _RsRow) -> LvsStats:
        s = self.src.counters().get(row.vs.spec.key)
        if s is None:
            return LvsStats()
        return s.dests.get(DestKey(row.spec.addr, row.spec.port), LvsStats())

    # ------------------------------------------------------------------ view
    def check_view(self) -> MibView:
        view = MibView()
        view.add(*self._group_tables(), self._vs_table(), self._rs_table(), *self._lvs_scalars())
        return view

    def _group_tables(self) -> list[Table]:
        groups = list(self.model.virtual_server_groups)
        members: list[tuple[OID, _Member]] = []
        for gi, (_name, entries) in enumerate(groups, 1):
            ms = [m for e in entries if (m := _Member.parse(e)) is not None]
            # keepalived lists a group's fwmark entries first, then its address ranges
            for n, m in enumerate([m for m in ms if m.fwmark] + [m for m in ms if not m.fwmark], 1):
                members.append(((gi, n), m))
        group_rows = [((i,), name) for i, (name, _e) in enumerate(groups, 1)]

        def addr(m: _Member, which: str) -> Value | None:
            if m.fwmark:
                return None
            ranged = m.last != m.first
            if which == "single":
                return None if ranged else octets(m.first.packed)
            if not ranged:
                return None
            return octets((m.first if which == "first" else m.last).packed)

        member_cols: dict[int, Cell] = {
            2: lambda m: integer(1 if m.fwmark else 3 if m.last != m.first else 2),
            3: lambda m: gauge(m.fwmark) if m.fwmark else None,
            4: lambda m: None if m.fwmark else integer(_addrtype(m.first.version)),
            5: lambda m: addr(m, "single"),
            6: lambda m: addr(m, "first"),
            7: lambda m: addr(m, "last"),
            8: lambda m: None if m.fwmark else gauge(m.port),
        }
        return [Table((*CHECK, 1, 1), {2: lambda n: octets(n)}, lambda: group_rows),
                Table((*CHECK, 2, 1), member_cols, lambda: members)]

    def _vs_table(self) -> Table:
        def spec(f: Callable[[VirtualServerSpec], Value | None]) -> Cell:
            return lambda row: f(row[1].spec)

        def st(f: Callable[[VirtualServerState], Value | None]) -> Cell:
            return lambda row: f(row[1])

        def stat(f: Callable[[LvsStats], Value]) -> Cell:
            return lambda row: f(self._vs_stats(row[1]))

        def flag(bits: set[str]) -> Cell:
            return spec(lambda s: truth(bits & s.flags))

        def plain(s: VirtualServerSpec) -> bool:
            return not s.group and not s.key.fwmark

        def granularity(s: VirtualServerSpec) -> int:
            """keepalived's persistence_granularity, a uint32: an IPv4 netmask as stored (network
            order read on a little-endian host), an IPv6 prefix length, or 0xffffffff when unset."""
            g = s.persistence_granularity
            try:
                if g and "." in g:
                    return int.from_bytes(ipa.IPv4Address(g).packed, "little")
                return int(g) if g else UINT_MAX
            except ValueError:
                return UINT_MAX

        def gran4(s: VirtualServerSpec) -> Value | None:  # the uint32's bytes, as memory holds them
            return None if plain(s) and s.key.family == 6 else octets(granularity(s).to_bytes(4, "little"))

        def gran6(s: VirtualServerSpec) -> Value | None:
            return None if plain(s) and s.key.family == 4 else gauge(granularity(s))

        def delay_loop(s: VirtualServerSpec) -> int:
            return _secs(s.timing.delay_loop if s.timing.delay_loop is not None else 60.0)

        def conn_to(s: VirtualServerSpec) -> int:
            return _secs(s.timing.connect_timeout if s.timing.connect_timeout is not None else 5.0)

        cols: dict[int, Cell] = {
            2: spec(lambda s: integer(3 if s.group else 1 if s.key.fwmark else 2)),
            3: spec(lambda s: octets(s.group) if s.group else None),
            4: spec(lambda s: gauge(s.key.fwmark) if s.key.fwmark and not s.group else None),
            5: spec(lambda s: integer(_addrtype(s.key.family))),
            6: spec(lambda s: octets(_packed(s.key.addr)) if plain(s) and s.key.addr else None),
            7: spec(lambda s: gauge(s.key.port) if plain(s) else None),
            8: spec(lambda s: None if s.key.fwmark and not s.group
                    else integer(_PROTO.get(s.key.protocol, 4))),
            9: spec(lambda s: integer(_ALGOS.get(s.scheduler, 99))),
            10: spec(lambda s: integer(_KIND[s.forwarding])),
            11: lambda row: truth(self.src.in_data_plane(row[0] - 1)),
            12: spec(lambda s: octets(s.virtualhost) if s.virtualhost else None),
            13: spec(lambda s: truth(s.persistence_timeout)),
            14: spec(lambda s: gauge(s.persistence_timeout) if s.persistence_timeout else None),
            15: spec(gran4),
            16: spec(lambda s: gauge(delay_loop(s) // SEC)),
            17: spec(lambda s: truth(s.ha_suspend)),
            18: spec(lambda s: truth(s.alpha)),
            19: spec(lambda s: truth(s.omega)),
            20: st(lambda v: gauge(len(v.rs))),
            21: st(lambda v: gauge(sum(1 for r in v.rs if r.alive))),
            22: spec(lambda s: gauge(s.quorum)),
            23: st(lambda v: truth(v.quorum_up)),
            24: spec(lambda s: self._cmd(s.quorum_up)),
            25: spec(lambda s: self._cmd(s.quorum_down)),
            26: spec(lambda s: gauge(s.hysteresis)),
            **_stat_columns(stat, conns=27, pkts=28, rates=32, wide=38, wide_rates=41),
            37: flag({"ops"}),
            51: spec(gran6),
            52: lambda row: truth(False),  # IP_VS_SVC_F_HASHED: the kernel's, never in keepalived's flags
            53: flag(_SCHED_BITS[0]),
            54: flag(_SCHED_BITS[1]),
            55: flag(_SCHED_BITS[2]),
            56: spec(lambda s: truth(not s.inhibit_on_failure)),
            57: spec(lambda s: gauge(s.timing.retry or 0)),
            58: spec(lambda s: gauge(_secs(s.timing.delay_before_retry) // SEC)),
            59: spec(lambda s: gauge(_secs(s.timing.warmup) // SEC)),
            60: spec(lambda s: integer(s.default_weight)),
            61: spec(lambda s: truth(s.smtp_alert)),
            62: flag(_SCHED_BITS[0]),
            63: flag(_SCHED_BITS[1]),
            64: spec(lambda s: gauge(delay_loop(s))),
            65: spec(lambda s: gauge(_secs(s.timing.delay_before_retry))),
            66: spec(lambda s: gauge(_secs(s.timing.warmup))),
            67: spec(lambda s: gauge(conn_to(s))),
            68: spec(lambda s: integer(1) if s.forwarding is Forwarding.TUN else None),  # IPIP
            71: spec(lambda s: octets(s.snmp_name) if s.snmp_name else None),
        }
        return Table((*CHECK, 3, 1), cols, self._vs_rows)

    def _rs_table(self) -> Table:
        def real(f: Callable[[_RsRow, RealServerState], Value | None]) -> Cell:
            return lambda row: None if row.state is None else f(row, row.state)

        def stat(f: Callable[[LvsStats], Value]) -> Cell:
            return lambda row: f(self._rs_stats(row))

        def timing(name: str, row: _RsRow) -> float | None:
            v: float | None = getattr(row.spec.timing, name)
            if v is None and row.state is not None:  # real servers take the VS's (check_data.c)
                v = getattr(row.vs.spec.timing, name)
            return v

        def conn_to(row: _RsRow) -> int:
            v = timing("connect_timeout", row)
            if row.state is None and v is None:
                return UINT_MAX  # the sorry server's is never set
            return _secs(v if v is not None else 5.0)

        def alpha(row: _RsRow) -> bool:
            a = row.spec.timing.alpha
            if a is None:
                return row.vs.spec.alpha if row.state is not None else True  # -1 for the sorry server
            return a

        def kind(row: _RsRow) -> int:
            return _KIND[row.spec.forwarding or row.vs.spec.forwarding]

        zero = gauge(0)
        cols: dict[int, Cell] = {
            2: lambda row: truth(row.state is not None),
            3: lambda row: integer(_addrtype(ipa.ip_address(row.spec.addr).version)),
            4: lambda row: octets(_packed(row.spec.addr)),
            5: lambda row: gauge(row.spec.port),
            6: real(lambda row, r: truth(r.alive)),
            7: real(lambda row, r: integer(r.weight)),
            8: real(lambda row, r: gauge(row.spec.u_threshold) if row.spec.u_threshold else None),
            9: real(lambda row, r: gauge(row.spec.l_threshold) if row.spec.l_threshold else None),
            10: real(lambda row, r: truth(not r.inhibit)),
            11: real(lambda row, r: self._cmd(row.spec.notify_up)),
            12: real(lambda row, r: self._cmd(row.spec.notify_down)),
            13: real(lambda row, r: gauge(len(r.failed))),
            **_stat_columns(stat, conns=14, pkts=18, rates=22, wide=27, wide_rates=30),
            15: lambda row: zero,  # active / inactive / persistent connections: IPVS only
            16: lambda row: zero,
            17: lambda row: zero,
            40: lambda row: integer(kind(row)),
            41: lambda row: octets(row.spec.virtualhost) if row.spec.virtualhost else None,
            42: lambda row: truth(alpha(row)),
            43: lambda row: gauge(int(timing("retry", row) or 0)),
            44: lambda row: gauge(_secs(timing("delay_before_retry", row)) // SEC),
            45: lambda row: gauge(_secs(timing("warmup", row)) // SEC),
            46: lambda row: gauge(_secs(timing("delay_loop", row) if row.state is None
                                        else timing("delay_loop", row) or 60.0) // SEC),
            47: lambda row: truth(row.spec.smtp_alert),
            48: lambda row: gauge(_secs(timing("delay_before_retry", row))),
            49: lambda row: gauge(_secs(timing("warmup", row))),
            50: lambda row: gauge(_secs(timing("delay_loop", row) if row.state is None
                                        else timing("delay_loop", row) or 60.0)),
            51: lambda row: gauge(conn_to(row)),
            52: lambda row: integer(1) if kind(row) == 3 else None,  # IPIP
            55: lambda row: octets(row.spec.snmp_name) if row.spec.snmp_name else None,
        }
        return Table((*CHECK, 4, 1), cols, self._rs_rows)

    def _lvs_scalars(self) -> list[Scalar]:
        s = (*CHECK, 6)

        def syncd() -> object:
            return self.lvs.syncd

        def on(f: Callable[[], Value | None]) -> Callable[[], Value | None]:
            return lambda: f() if self.lvs.syncd is not None else None

        def group() -> ipa.IPv4Address | ipa.IPv6Address | None:
            g = self.lvs.syncd.group if self.lvs.syncd is not None else None
            return ipa.ip_address(g) if g else None

        t = (*CHECK, 7)
        to = self.lvs.timeouts
        return [
            Scalar((*s, 1), lambda: truth(syncd() is not None)),
            Scalar((*s, 2), on(lambda: octets(self.lvs.syncd.ifname))),  # type: ignore[union-attr]
            Scalar((*s, 3), on(lambda: octets(self.lvs.syncd.instance)  # type: ignore[union-attr]
                               if self.lvs.syncd.instance else None)),  # type: ignore[union-attr]
            Scalar((*s, 4), on(lambda: integer(self.lvs.syncd.syncid or 0))),  # type: ignore[union-attr]
            Scalar((*s, 5), on(lambda: integer(self.lvs.syncd.maxlen))),  # type: ignore[union-attr]
            Scalar((*s, 6), on(lambda: integer(self.lvs.syncd.port))),  # type: ignore[union-attr]
            Scalar((*s, 7), on(lambda: integer(self.lvs.syncd.ttl))),  # type: ignore[union-attr]
            Scalar((*s, 8), on(lambda: integer(_addrtype(g.version)) if (g := group()) else None)),
            Scalar((*s, 9), on(lambda: octets(g.packed) if (g := group()) else None)),
            Scalar((*t, 1), lambda: integer(to.tcp) if to.tcp else None),
            Scalar((*t, 2), lambda: integer(to.tcpfin) if to.tcpfin else None),
            Scalar((*t, 3), lambda: integer(to.udp) if to.udp else None),
        ]

    def registrations(self) -> list[Registration]:
        return [Registration(GLOBAL, self.view(GLOBAL), "The MIB module for Keepalived"),
                Registration(CHECK, self.view(CHECK), "The MIB module for Healthchecker")]

    def view(self, subtree: OID) -> MibView:
        if subtree == GLOBAL:
            return global_view(self.model, self.cfg, lambda: self.router_id)
        return self.check_view()

    # ------------------------------------------------------------------ traps
    def trap(self, e: StateTrap) -> tuple[OID, list[VarBind]] | None:
        """realServerStateChange / virtualServerQuorumStateChange (check_snmp_rs_trap)."""
        if not self.cfg.traps:
            return None
        vs, rs = e.vs, e.rs
        vbs: list[VarBind] = []
        if rs is not None:
            fam = ipa.ip_address(rs.addr).version
            vbs += [VarBind((*CHECK, 4, 1, 3), integer(_addrtype(fam))),
                    VarBind((*CHECK, 4, 1, 4), octets(_packed(rs.addr))),
                    VarBind((*CHECK, 4, 1, 5), gauge(rs.port)),
                    VarBind((*CHECK, 4, 1, 6), truth(e.alive))]
        vbs.append(VarBind((*CHECK, 3, 1, 2), integer(3 if vs.group else 1 if vs.key.fwmark else 2)))
        if vs.group:
            vbs.append(VarBind((*CHECK, 3, 1, 3), octets(vs.group)))
        elif vs.key.fwmark:
            vbs.append(VarBind((*CHECK, 3, 1, 4), gauge(vs.key.fwmark)))
        else:
            vbs += [VarBind((*CHECK, 3, 1, 5), integer(_addrtype(vs.key.family))),
                    VarBind((*CHECK, 3, 1, 6), octets(_packed(vs.key.addr or "0.0.0.0"))),
                    VarBind((*CHECK, 3, 1, 7), gauge(vs.key.port))]
        vbs.append(VarBind((*CHECK, 3, 1, 8), truth(vs.key.protocol is LvsProto.TCP)))
        if rs is None:
            vbs += [VarBind((*CHECK, 3, 1, 23), integer(e.quorum)),
                    VarBind((*CHECK, 3, 1, 22), gauge(vs.quorum))]
        vbs += [VarBind((*CHECK, 3, 1, 21), gauge(e.realup)),
                VarBind((*CHECK, 3, 1, 20), gauge(e.realtotal)),
                VarBind(ROUTER_ID_0, octets(self.router_id))]
        return (*CHECK, 5, 0, 1 if rs is not None else 2), vbs


def _stat_columns(stat: Callable[[Callable[[LvsStats], Value]], Cell], *, conns: int, pkts: int,
                  rates: int, wide: int, wide_rates: int) -> dict[int, Cell]:
    """The statistics columns of a table row (keepalived's ipvs_update_stats values): connections,
    packets and bytes, their 64-bit forms, and the rates, 0 as pykeepalived estimates none."""
    zero = gauge(0)
    cols: dict[int, Cell] = {
        conns: stat(lambda x: gauge(x.conns)),
        pkts: stat(lambda x: counter(x.inpkts)),
        pkts + 1: stat(lambda x: counter(x.outpkts)),
        pkts + 2: stat(lambda x: counter64(x.inbytes)),
        pkts + 3: stat(lambda x: counter64(x.outbytes)),
        wide: stat(lambda x: counter64(x.conns)),
        wide + 1: stat(lambda x: counter64(x.inpkts)),
        wide + 2: stat(lambda x: counter64(x.outpkts)),
    }
    for n in (*range(rates, rates + 5), *range(wide_rates, wide_rates + 10)):
        cols[n] = lambda row: zero
    return cols


class _RsRow:
    __slots__ = ("spec", "state", "vs")

    def __init__(self, vs: VirtualServerState, spec: RealServerSpec, state: RealServerState | None) -> None:
        self.vs = vs
        self.spec = spec
        self.state = state  # None: the sorry server


class _Member:
    """One virtual_server_group entry: `IP[-LAST] PORT` or `fwmark N`."""

    __slots__ = ("first", "fwmark", "last", "port")

    def __init__(self, fwmark: int, first: ipa.IPv4Address | ipa.IPv6Address, last: ipa.IPv4Address
                 | ipa.IPv6Address, port: int) -> None:
        self.fwmark, self.first, self.last, self.port = fwmark, first, last, port

    @classmethod
    def parse(cls, words: tuple[str, ...]) -> _Member | None:
        try:
            if words[0] == "fwmark":
                return cls(int(words[1]), ipa.IPv4Address(0), ipa.IPv4Address(0), 0)
            first, last = range_bounds(words[0])
            port = int(words[1]) if len(words) > 1 else 0
            return cls(0, first, last, port)
        except (ValueError, IndexError):
            return None


class CheckSnmpAgent:
    """The checker child's subagent: the views over `src`, the AgentX client, the traps, and the data
    plane's counters refreshed every STATS_REFRESH_S while connected."""

    def __init__(self, src: CheckSource, model: Model, cfg: SnmpSettings,
                 refresh: Callable[[], object] | None = None) -> None:
        self.mibs = CheckMibs(src, model, cfg)
        self.client = AgentXClient(cfg.socket, "Keepalived", self.mibs.registrations())
        self._refresh = refresh
        self._stats: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.client.start()
        if self._refresh is not None:
            self._stats = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        assert self._refresh is not None
        while True:
            await self.client.connected.wait()
            with contextlib.suppress(Exception):  # LvsStatsCache logs the data plane's failures
                r = self._refresh()
                if asyncio.iscoroutine(r):
                    await r
            await asyncio.sleep(STATS_REFRESH_S)

    def reload(self, model: Model, cfg: SnmpSettings) -> None:
        """As the VRRP child's: the registrations stay, the objects and traps follow the new file."""
        m = self.mibs
        m.model, m.lvs = model, lvs_globals(model)
        m.cfg = SnmpSettings(checker=m.cfg.checker, traps=cfg.traps, socket=m.cfg.socket)
        for reg in self.client.session.registrations:
            reg.view = m.view(reg.subtree)

    def trap(self, e: StateTrap) -> None:
        t = self.mibs.trap(e)
        if t is not None:  # keepalived logs nothing for these
            self.client.notify(*t)

    async def close(self) -> None:
        if self._stats is not None:
            self._stats.cancel()
            with contextlib.suppress(BaseException):
                await self._stats
        await self.client.close()


async def start_check_snmp(opts: SnmpOptions, model: Model, src: CheckSource,
                           refresh: Callable[[], object] | None = None) -> CheckSnmpAgent | None:
    """The checker child's subagent with enable_snmp_checker (or -x), started; None otherwise."""
    cfg = settings(model, opts.snmp, opts.snmp_socket)
    if not cfg.checker:
        return None
    agent = CheckSnmpAgent(src, model, cfg, refresh)
    agent.start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(agent.client.connected.wait(), CONNECT_WAIT_S)
    return agent

