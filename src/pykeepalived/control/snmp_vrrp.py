# Theory of operation
# -------------------
# The VRRP child's SNMP subtrees, as keepalived 2.2.7's vrrp_snmp.c and core/snmp.c serve them:
# KEEPALIVED-MIB global (…9586.100.5.1) and vrrp (…5.2), VRRP-MIB (mib-2 68, RFC 2787) and
# VRRPV3-MIB (mib-2 207, RFC 6527), and the traps. Every cell is read from the live engine when a
# request arrives, through the `VrrpView` every service beside VRRP reads (control/view.py: the
# instances in configuration order, the sync groups, each instance's configuration, interface and
# which of its addresses are set) and `SnmpExtras`, what only the MIBs read (the notify scripts, the
# trackers, an interface's index) and their one write, `snmp_set`, which hands a committed set of
# vrrpInstanceTable to the VRRP core (VrrpWriter). Nothing here does I/O; control/snmp_subagent.py
# carries the PDUs.
#
# keepalived's quirks are kept where a monitoring tool would see them (tests/snmp/ compares walks
# with keepalived's): the traps name vrrpInstanceName etc. without an instance index; VRRP-MIB
# serves only VRRPv2 IPv4 instances with VIPs and VRRPV3-MIB every instance with VIPs (Debian's
# build answers v3 tables for v2 instances); the operational MAC is the interface's own MAC;
# vrrpAddressIsAdvertised is true only for the first instance's VIPs (the iteration state is not
# reset in vrrp_header_ar_table). What is not served is listed in docs/snmp.md.
"""KEEPALIVED-MIB global/vrrp, VRRP-MIB and VRRPV3-MIB views of the VRRP child, and their traps."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from pykeepalived.config.command_words import cmd_str
from pykeepalived.config.lvs_globals import lvs_globals
from pykeepalived.control.snmp_settings import SnmpSettings as SnmpSettings
from pykeepalived.control.snmp_settings import settings as settings
from pykeepalived.control.snmp_subagent import AgentXClient
from pykeepalived.logs import DETAIL, log
from pykeepalived.snmp.agentx import (
    OID,
    Error,
    Value,
    VarBind,
    VType,
    counter,
    counter64,
    gauge,
    integer,
    ipaddress,
    octets,
    timeticks,
)
from pykeepalived.snmp.mib import MibView, Scalar, Table
from pykeepalived.snmp.session import Registration
from pykeepalived.vrrp.effects import AUTH_ERRORS, PROTO_ERR_REASONS, Notify, RxRejected, State

if TYPE_CHECKING:
    from pykeepalived.config.instance_setup import InstanceSetup
    from pykeepalived.config.model import Model, TrackFile, VipSpec, VrrpScript
    from pykeepalived.control.view import VrrpView
    from pykeepalived.notify.scripts import NotifyScripts
    from pykeepalived.track.command import ScriptCommand
    from pykeepalived.track.process import TrackedProcess
    from pykeepalived.track.script import ScriptTracker
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.params import InstanceParams
    from pykeepalived.vrrp.sync_group import SyncGroup

KEEPALIVED = (1, 3, 6, 1, 4, 1, 9586, 100, 5)
GLOBAL = (*KEEPALIVED, 1)
VRRP = (*KEEPALIVED, 2)
RFC2 = (1, 3, 6, 1, 2, 1, 68)
RFC3 = (1, 3, 6, 1, 2, 1, 207)
ROUTER_ID_0 = (*GLOBAL, 2, 0)
CONNECT_WAIT_S = 1.0  # how long the VRRP child waits for snmpd at start before going on without it
VERSION_STRING = "Keepalived v2.2.7 (01/16,2022)"  # keepalived's version_string, as -v prints it


class SnmpExtras(Protocol):
    """What the VRRP MIBs read from the VRRP child beside its VrrpView (read-only, on the child's
    loop), and their one write."""

    def notify_scripts(self, target: str, name: str) -> NotifyScripts | None: ...

    def script_trackers(self) -> Mapping[str, ScriptTracker]: ...

    def file_values(self) -> Mapping[str, int]: ...

    def processes(self) -> Sequence[TrackedProcess]: ...

    def bfd_up(self) -> Mapping[str, bool]: ...

    def ifindex(self, ifname: str) -> int | None: ...

    def snmp_set(self, instance: str, column: int, value: int) -> None:
        """Apply a committed set of vrrpInstanceTable `column` through the VRRP core."""


class VrrpWriter:
    """keepalived 2.2.7's writable vrrpInstanceTable columns (vrrp_snmp.c write handlers):
    BasePriority (7) and Preempt (13); Accept (27) of a VRRPv3 instance answers noAccess (Debian's
    build has no ALLOW_SNMP_SET_ACCEPT); everything else is notWritable. As keepalived's handlers
    read the value's first byte (*var_val), only its low byte counts: a priority of 0 (or 256) is
    wrongValue, 300 sets 44; preempt accepts 1 (true) and 2 (false)."""

    def __init__(self, mibs: VrrpMibs) -> None:
        self.mibs = mibs

    def _target(self, name: OID) -> tuple[int, VrrpInstance] | None:
        rest = name[len(VRRP):]
        if len(rest) != 4 or rest[:2] != (3, 1):
            return None
        inst = dict(self.mibs._indexed()).get(rest[3:])
        return (rest[2], inst) if inst is not None else None

    def test(self, name: OID, value: Value) -> Error:
        t = self._target(name)
        if t is None:
            return Error.NOT_WRITABLE
        column, inst = t
        if column == 27 and inst.params.version == 3:
            return Error.NO_ACCESS
        if column not in (7, 13):
            return Error.NOT_WRITABLE
        if value.type != VType.INTEGER or not isinstance(value.data, int):
            return Error.WRONG_TYPE
        low = value.data & 0xFF
        if (column == 7 and low == 0) or (column == 13 and low not in (1, 2)):
            return Error.WRONG_VALUE
        return Error.NO_ERROR

    def commit(self, name: OID, value: Value) -> None:
        t = self._target(name)
        if t is not None and isinstance(value.data, int):
            self.mibs.extras.snmp_set(t[1].name, t[0], value.data & 0xFF)


def truth(b: object) -> Value:
    return integer(1 if b else 2)


def _state(s: State) -> int:  # vrrp_snmp_state
    return int(s) if s <= State.FAULT else 4


def _rfc_state(s: State) -> int:  # vrrp_snmp_rfc_state
    return int(s) + 1 if s <= State.MASTER else 1


def _cmd(sc: NotifyScripts | None, field: str) -> Value | None:
    """cmd_str of a resolved notify command (keepalived shows the path after realpath)."""
    c: ScriptCommand | None = getattr(sc, field, None) if sc is not None else None
    return octets(cmd_str(c.argv)) if c is not None else None


def _scope(scope: int) -> int:  # snmp_scope(): InetScopeType of RT_SCOPE_*
    return {0: 14, 254: 1, 253: 2, 200: 5, 255: 0}.get(scope, 0)


class VrrpMibs:
    """Builds the MIB views over the VrrpView and the SnmpExtras, and the traps' varbinds."""

    def __init__(self, view: VrrpView, extras: SnmpExtras, model: Model, cfg: SnmpSettings,
                 serve_global: bool) -> None:
        self.vrrp = view
        self.extras = extras
        self.model = model
        self.cfg = cfg
        self.serve_global = serve_global
        self.start = time.monotonic()

    # ------------------------------------------------------------------ helpers
    @property
    def router_id(self) -> str:
        return self.model.global_defs.router_id or socket.gethostname()

    def _ifindex(self, inst: VrrpInstance) -> int:  # IF_BASE_INDEX
        i = self.vrrp.interface_info(inst.name)
        if i is None:
            return 0
        if i.kind == "macvlan" and i.link:
            return i.link
        return i.ifindex

    def _indexed(self) -> list[tuple[OID, VrrpInstance]]:
        return [((i,), inst) for i, inst in enumerate(self.vrrp.instances().values(), 1)]

    # ------------------------------------------------------------------ global
    def global_view(self) -> MibView:
        return global_view(self.model, self.cfg, lambda: self.router_id)

    # ------------------------------------------------------------------ KEEPALIVED-MIB vrrp
    def vrrp_view(self) -> MibView:
        v = VRRP
        g = self.model.global_defs
        mcast4 = g.vrrp_mcast_group4 or IPv4Address("224.0.0.18")
        mcast6 = g.vrrp_mcast_group6 or ip_address("ff02::12")

        def groups() -> list[tuple[OID, SyncGroup]]:
            return [((i,), grp) for i, grp in enumerate(self.vrrp.groups().values(), 1)]

        def gsc(grp: SyncGroup) -> NotifyScripts | None:
            return self.extras.notify_scripts("GROUP", grp.name)

        def has_notify(sc: NotifyScripts | None) -> bool:
            return sc is not None and any((sc.master, sc.backup, sc.fault, sc.stop, sc.notify, sc.deleted,
                                           sc.master_rx_lower_pri))

        def members() -> list[tuple[OID, VrrpInstance]]:
            return [((i, j), m) for i, grp in enumerate(self.vrrp.groups().values(), 1)
                    for j, m in enumerate(grp.members, 1)]

        def conf(inst: VrrpInstance) -> InstanceSetup | None:
            return self.vrrp.setup(inst.name)

        def isc(inst: VrrpInstance) -> NotifyScripts | None:
            return self.extras.notify_scripts("INSTANCE", inst.name)

        def notify(inst: VrrpInstance, field: str) -> Value | None:
            return _cmd(isc(inst), field)

        def ifname(inst: VrrpInstance) -> Value | None:
            i = self.vrrp.interface_info(inst.name)
            return octets(i.ifname) if i is not None else None

        def adver(inst: VrrpInstance) -> int:
            us = inst.params.adver_int_us
            return us // 1_000_000 if inst.params.version == 2 else us // 10_000

        def mcast(inst: VrrpInstance) -> bytes | None:
            p = inst.params
            if p.is_unicast:
                return None
            grp = p.mcast_group or (mcast4 if p.family == 4 else mcast6)
            return grp.packed

        def accept(inst: VrrpInstance) -> Value:
            if inst.params.version != 3:
                return integer(0)
            c = conf(inst)
            return truth(inst.base_priority == 255 or c is None or c.accept is not False)

        rows_inst = self._indexed
        inst_cols = {
            2: lambda i: octets(i.name),
            3: lambda i: gauge(i.params.vrid),
            4: lambda i: integer(_state(i.state)),
            5: lambda i: integer(2 if i.params.wants_master else 1),
            6: lambda i: integer(_state(i.wantstate)),
            7: lambda i: integer(i.base_priority),
            8: lambda i: integer(i.effective_priority),
            9: lambda i: truth(i.vipset),
            10: ifname,
            11: lambda i: truth(any(t.kind == "interface" for t in i.params.tracks)),
            12: lambda i: gauge(adver(i)),
            13: lambda i: truth(not i.params.nopreempt),
            14: lambda i: gauge(i.params.preempt_delay_us // 1_000_000),
            15: lambda i: integer(int(i.params.auth_type) if i.params.version == 2 else 0),
            16: lambda i: truth(False),
            18: lambda i: octets(i.sync.name) if i.sync is not None else None,
            19: lambda i: gauge(i.params.garp_master_delay_us // 1_000_000),
            20: lambda i: truth(getattr(isc(i), "smtp_alert", False)),
            21: lambda i: truth(has_notify(isc(i))),
            22: lambda i: notify(i, "master"),
            23: lambda i: notify(i, "backup"),
            24: lambda i: notify(i, "fault"),
            25: lambda i: notify(i, "stop"),
            26: lambda i: notify(i, "notify"),
            27: accept,
            28: lambda i: truth((c := conf(i)) is not None and c.promote_secondaries),
            29: lambda i: truth(((c := conf(i)) is not None and c.linkbeat_use_polling)
                                or self.model.root.linkbeat_use_polling),
            30: lambda i: integer(i.params.version),
            31: lambda i: notify(i, "master_rx_lower_pri"),
            32: lambda i: notify(i, "deleted"),
            33: lambda i: truth(getattr(isc(i), "notify_deleted", False)),
            34: lambda i: integer(1 if i.params.family == 4 else 2) if mcast(i) is not None else None,
            35: lambda i: octets(mcast(i)) if mcast(i) is not None else None,  # type: ignore[arg-type]
        }

        group_cols = {
            2: lambda grp: octets(grp.name),
            3: lambda grp: integer(_state(grp.state)),
            4: lambda grp: truth(getattr(gsc(grp), "smtp_alert", False)),
            5: lambda grp: truth(has_notify(gsc(grp))),
            6: lambda grp: _cmd(gsc(grp), "master"),
            7: lambda grp: _cmd(gsc(grp), "backup"),
            8: lambda grp: _cmd(gsc(grp), "fault"),
            9: lambda grp: _cmd(gsc(grp), "notify"),
            10: lambda grp: truth(_group_tracking_weight(self.model, grp.name)),
            11: lambda grp: _cmd(gsc(grp), "stop"),
        }

        view = MibView()
        view.add(
            Table((*v, 1, 1), group_cols, groups),
            Table((*v, 2, 1), {2: lambda m: octets(m.name)}, members),
            Table((*v, 3, 1), inst_cols, rows_inst),
            *self._tracked_tables(),
            Table((*v, 6, 1), self._address_cols(), self._address_rows),
            *self._tracker_tables(),
            *self._route_tables(),
        )
        return view

    # ------------------------------------------------------------------ routes and rules
    def _owned_rows(self, static: Sequence[Any], virtual: Callable[[InstanceSetup], Sequence[Any]]
                    ) -> list[tuple[OID, tuple[Any, bool]]]:
        """Static entries as instance 0, then each instance's (vrrp_header_ar_table): (entry, set)."""
        out: list[tuple[OID, tuple[Any, bool]]] = [((0, n), (r, True)) for n, r in enumerate(static, 1)]
        for i, inst in enumerate(self.vrrp.instances().values(), 1):
            c = self.vrrp.setup(inst.name)
            for n, r in enumerate(virtual(c) if c is not None else (), 1):
                out.append(((i, n), (r, inst.vipset)))
        return out

    def _route_tables(self) -> list[Table]:
        v = VRRP
        model = self.model
        extras = self.extras

        def routes() -> list[tuple[OID, tuple[Any, bool]]]:
            return self._owned_rows(model.static_routes, lambda c: c.virtual_routes)

        def rules() -> list[tuple[OID, tuple[Any, bool]]]:
            return self._owned_rows(model.static_rules, lambda c: c.virtual_rules)

        def hops() -> list[tuple[OID, Any]]:
            return [((*idx, n), h) for idx, (r, _) in routes() if len(r.nexthops) > 0
                    for n, h in enumerate(r.nexthops, 1)]

        def addr(a: object) -> Value | None:
            return octets(a.packed) if a is not None else None  # type: ignore[attr-defined]

        def ifidx(dev: str | None) -> Value | None:
            idx = extras.ifindex(dev) if dev else None
            return integer(idx) if idx is not None else None

        def metric(name: str, div: int = 1) -> Callable[[Any], Value | None]:
            def get(row: tuple[Any, bool]) -> Value | None:
                m = dict(row[0].metrics)
                return gauge(m[name] // div) if name in m else None
            return get

        def lock(name: str) -> Callable[[Any], Value | None]:
            return lambda row: (truth(name in row[0].locked) if name in dict(row[0].metrics) else None)

        def rtype(r: Any) -> int:
            if r.nexthops:
                return 2
            return _RTN_SNMP.get(r.type, 1)

        def route_family(r: Any) -> int:
            return 2 if r.family == 6 else 1

        def second_gw(r: Any) -> Value | None:
            return addr(r.nexthops[0].via) if len(r.nexthops) == 1 else None

        def prefix_addr(p: Any) -> Value | None:
            return addr(p.address) if p is not None and p.address is not None else None

        route_cols: dict[int, Callable[[Any], Value | None]] = {
            2: lambda row: integer(route_family(row[0])),
            3: lambda row: prefix_addr(row[0].dst) or octets(bytes(16 if row[0].family == 6 else 4)),
            4: lambda row: gauge(row[0].dst.prefix),
            5: lambda row: addr(row[0].via),
            6: lambda row: second_gw(row[0]),
            7: lambda row: addr(row[0].src),
            8: lambda row: gauge(row[0].metric or 0),
            9: lambda row: integer(_scope(row[0].scope or 0)),
            10: lambda row: integer(rtype(row[0])),
            11: lambda row: ifidx(row[0].dev),
            12: lambda row: octets(row[0].dev) if row[0].dev else None,
            13: lambda row: gauge(row[0].table),
            14: lambda row: truth(row[1]),
            15: lambda row: prefix_addr(row[0].from_),
            16: lambda row: gauge(row[0].from_.prefix) if row[0].from_ is not None else None,
            17: lambda row: gauge(row[0].tos) if row[0].tos is not None else None,
            18: lambda row: integer(row[0].protocol + 1),
            19: lambda row: truth(False),
            20: lambda row: truth(False),
            21: metric("expires"),
            22: metric("mtu"), 23: lock("mtu"),
            24: metric("hoplimit"),
            # keepalived 2.2.7 serves vrrpRouteAdvmss when hoplimit is set (it tests the wrong bit)
            25: lambda row: (gauge(dict(row[0].metrics).get("advmss", 0))
                             if "hoplimit" in dict(row[0].metrics) else None),
            26: lock("advmss"),
            27: metric("rtt", 8), 28: lock("rtt"),
            29: metric("rttvar", 4), 30: lock("rttvar"),
            31: metric("reordering"), 32: lock("reordering"),
            33: metric("window"),
            34: metric("cwnd"), 35: lock("cwnd"),
            36: metric("ssthresh"), 37: lock("ssthresh"),
            38: metric("rto_min"), 39: lock("rto_min"),
            40: metric("initcwnd"),
            41: metric("initrwnd"),
        }
        hop_cols: dict[int, Callable[[Any], Value | None]] = {
            2: lambda h: integer(1 if h.via.version == 4 else 2) if h.via is not None else None,
            3: lambda h: addr(h.via),
            4: lambda h: ifidx(h.dev),
            5: lambda h: octets(h.dev) if h.dev else None,
            6: lambda h: gauge(h.weight) if h.weight is not None else None,
            7: lambda h: truth(h.onlink),
            8: lambda h: gauge(h.realms & 0xFFFF) if h.realms else None,
            9: lambda h: gauge(h.realms >> 16) if h.realms and h.realms >> 16 else None,
        }

        def rule_addr(row: tuple[Any, bool]) -> Any:
            return row[0].to if row[0].to is not None else row[0].from_

        def direction(r: Any) -> str:
            return ("both" if r.from_ is not None else "to") if r.to is not None else \
                ("from" if r.from_ is not None else "")

        def fam(p: Any) -> Value | None:
            return integer(2 if p.family == 6 else 1) if p is not None else None

        rule_cols: dict[int, Callable[[Any], Value | None]] = {
            2: lambda row: octets(direction(row[0])),
            3: lambda row: fam(rule_addr(row)),
            4: lambda row: prefix_addr(rule_addr(row)),
            5: lambda row: gauge(rule_addr(row).prefix) if rule_addr(row) is not None else None,
            6: lambda row: gauge(row[0].table) if row[0].action == "table" else None,
            7: lambda row: truth(row[1]),
            8: lambda row: truth(row[0].invert),
            9: lambda row: fam(row[0].to),
            10: lambda row: prefix_addr(row[0].to),
            11: lambda row: gauge(row[0].to.prefix) if row[0].to is not None else None,
            12: lambda row: fam(row[0].from_),
            13: lambda row: prefix_addr(row[0].from_),
            14: lambda row: gauge(row[0].from_.prefix) if row[0].from_ is not None else None,
            15: lambda row: gauge(row[0].tos or 0),
            16: lambda row: gauge(row[0].fwmark) if row[0].fwmark is not None else None,
            17: lambda row: gauge(row[0].fwmask) if row[0].fwmask is not None else None,
            18: lambda row: gauge(row[0].realms & 0xFFFF) if row[0].realms else None,
            19: lambda row: gauge(row[0].realms >> 16) if row[0].realms and row[0].realms >> 16 else None,
            20: lambda row: octets(row[0].iif) if row[0].iif else None,
            21: lambda row: octets(row[0].oif) if row[0].oif else None,
            22: lambda row: (gauge(row[0].goto) if row[0].action == "goto" and row[0].goto is not None
                             else None),
            23: lambda row: integer(_FR_ACTIONS.get(row[0].action, 0)),
            24: lambda row: gauge(row[0].table) if row[0].action == "table" else None,
            25: lambda row: gauge(row[0].priority) if row[0].priority else None,
            26: lambda row: (gauge(row[0].suppress_prefixlength) if row[0].suppress_prefixlength is not None
                             else None),
        }
        return [Table((*v, 7, 1), route_cols, routes), Table((*v, 8, 1), rule_cols, rules),
                Table((*v, 11, 1), hop_cols, hops)]

    # ------------------------------------------------------------------ trackers (vrrp_snmp.c)
    def _tracked_rows(self, kind: str) -> Callable[[], list[tuple[OID, tuple[str, int, bool]]]]:
        """An instance's tracked objects of one kind, indexed (instance, n) (snmp_find_element):
        (name, weight, reverse). Interfaces and scripts show the instance's tracking weight; files,
        BFDs and processes the tracked object's own weight (as keepalived 2.2.7 does)."""
        model = self.model
        own = {"file": {f.name: (f.weight, f.reverse) for f in model.track_files},
               "process": {t.name: (t.weight, t.reverse) for t in model.track_processes},
               "bfd": _bfd_weights(model)}.get(kind)

        def rows() -> list[tuple[OID, tuple[str, int, bool]]]:
            out: list[tuple[OID, tuple[str, int, bool]]] = []
            for i, inst in enumerate(self.vrrp.instances().values(), 1):
                n = 0
                for t in inst.params.tracks:
                    if t.kind != kind:
                        continue
                    n += 1
                    w, r = own.get(t.name, (0, False)) if own is not None else (t.weight, t.reverse)
                    out.append(((i, n), (t.name, w, r)))
            return out
        return rows

    def _tracked_tables(self) -> list[Table]:
        v = VRRP
        cols: dict[int, Callable[[Any], Value | None]] = {
            1: lambda r: octets(r[0]), 2: lambda r: integer(r[1]), 3: lambda r: truth(r[2])}
        shifted = {k + 1: f for k, f in cols.items()}  # the later tables start at column 2
        return [Table((*v, 4, 1), cols, self._tracked_rows("interface")),
                Table((*v, 5, 1), shifted, self._tracked_rows("script")),
                Table((*v, 12, 1), shifted, self._tracked_rows("file")),
                Table((*v, 17, 1), shifted, self._tracked_rows("bfd")),
                Table((*v, 20, 1), shifted, self._tracked_rows("process"))]

    def _tracker_tables(self) -> list[Table]:
        v = VRRP
        model = self.model
        extras = self.extras

        def scripts() -> list[tuple[OID, tuple[VrrpScript, ScriptTracker]]]:
            trs = extras.script_trackers()
            live = [(s, trs[s.name]) for s in model.vrrp_scripts if s.name in trs]
            return [((n,), row) for n, row in enumerate(live, 1)]

        def script_result(row: tuple[VrrpScript, ScriptTracker]) -> int:
            tr = row[1]
            if not tr.runs and tr.last_outcome is None:  # SCRIPT_INIT_STATE_INIT / _FAILED
                return 5 if tr.spec.init_fail and not tr.init_reload else 1
            return 3 if tr.counter.result >= tr.counter.rise else 2

        def files() -> list[tuple[OID, TrackFile]]:
            return [((n,), f) for n, f in enumerate(model.track_files, 1)]

        def bfds() -> list[tuple[OID, tuple[str, int, bool]]]:
            w = _bfd_weights(model)
            return [((n,), (name, *w[name])) for n, name in enumerate(w, 1)]

        def procs() -> list[tuple[OID, TrackedProcess]]:
            return [((n,), tp) for n, tp in enumerate(extras.processes(), 1)]

        conf_procs = {t.name: t for t in model.track_processes}

        def pw(tp: TrackedProcess) -> tuple[int, bool]:
            c = conf_procs.get(tp.name)
            return (c.weight, c.reverse) if c is not None else (0, False)

        return [
            Table((*v, 9, 1), {
                2: lambda r: octets(r[0].name),
                3: lambda r: octets(cmd_str(r[1].spec.command.argv)),
                4: lambda r: integer(r[1].spec.interval_us // 1_000_000),
                5: lambda r: integer(r[0].weight),
                6: lambda r: integer(script_result(r)),
                7: lambda r: gauge(r[1].spec.rise),
                8: lambda r: gauge(r[1].spec.fall),
                9: lambda r: truth(r[0].reverse),
            }, scripts),
            Table((*v, 13, 1), {
                2: lambda f: octets(f.name),
                3: lambda f: octets(f.file),
                4: lambda f: integer(extras.file_values().get(f.name, 0)),
                5: lambda f: integer(f.weight),
                6: lambda f: truth(f.reverse),
            }, files),
            Table((*v, 18, 1), {
                2: lambda b: octets(b[0]),
                3: lambda b: integer(1 if extras.bfd_up().get(b[0], False) else 0),
                4: lambda b: integer(b[1]),
                5: lambda b: truth(b[2]),
            }, bfds),
            Table((*v, 21, 1), {
                2: lambda tp: octets(tp.spec.name),
                3: lambda tp: octets(tp.spec.process),
                4: lambda tp: octets(" ".join(tp.spec.params)),
                5: lambda tp: integer(_PARAM_MATCH[tp.spec.param_match.value]),
                6: lambda tp: integer(pw(tp)[0]),
                7: lambda tp: truth(pw(tp)[1]),
                8: lambda tp: gauge(tp.spec.quorum),
                9: lambda tp: integer(tp.spec.quorum_max),
                10: lambda tp: gauge(tp.spec.fork_delay_us),
                11: lambda tp: gauge(tp.spec.terminate_delay_us),
                12: lambda tp: truth(tp.spec.uses_cmdline),
                13: lambda tp: integer(tp.count),
                14: lambda tp: truth(tp.have_quorum),
            }, procs),
        ]

    def _address_rows(self) -> list[tuple[OID, tuple[VrrpInstance | None, VipSpec, bool]]]:
        # static addresses first, index (0, n) (vrrp_header_ar_table), never advertised
        out: list[tuple[OID, tuple[VrrpInstance | None, VipSpec, bool]]] = [
            ((0, n), (None, spec, False)) for n, spec in enumerate(self.model.static_ipaddress, 1)]
        adv = False
        for i, inst in enumerate(self.vrrp.instances().values(), 1):
            c = self.vrrp.setup(inst.name)
            if c is None:
                continue
            if i == 1:
                adv = True
            n = 0
            for spec in c.vips:
                n += 1
                out.append(((i, n), (inst, spec, adv)))
            adv = False
            for spec in c.evips:
                n += 1
                out.append(((i, n), (inst, spec, adv)))
        return out

    def _address_cols(self) -> dict[int, Callable[[Any], Value | None]]:
        Row = tuple["VrrpInstance | None", "VipSpec", bool]

        def dev(row: Row) -> str | None:
            if row[1].dev:
                return row[1].dev
            if row[0] is None:  # a static address without dev: default_interface
                return self.model.global_defs.default_interface
            i = self.vrrp.interface_info(row[0].name)
            return i.ifname if i is not None else None

        def ifidx(row: Row) -> Value | None:
            if row[0] is not None and not row[1].dev:
                i = self.vrrp.interface_info(row[0].name)
                return integer(i.ifindex) if i is not None else None
            d = dev(row)
            idx = self.extras.ifindex(d) if d else None
            return integer(idx) if idx is not None else None

        def ifn(row: Row) -> Value | None:
            d = dev(row)
            return octets(d) if d else None

        def is_set(row: Row) -> Value:
            if row[0] is None:
                return truth(True)  # static addresses are set at start (a failure is logged)
            return truth(self.vrrp.address_set(row[0].name, ip_address(row[1].address)))

        def brd(row: Row) -> Value | None:
            a = ip_address(row[1].address)
            if a.version == 6:
                return None
            b = row[1].broadcast
            return octets(b.packed if b is not None else bytes(4))

        def peer(row: Row) -> Value | None:
            p = row[1].peer
            return None if p is None else octets(p.packed)

        return {
            2: lambda r: integer((ip_address(r[1].address).version == 4 and 1) or 2),
            3: lambda r: octets(ip_address(r[1].address).packed),
            4: brd,
            5: lambda r: gauge(r[1].prefix),
            6: lambda r: integer(_scope(r[1].scope)),
            7: ifidx,
            8: ifn,
            9: lambda r: octets(r[1].label) if r[1].label else None,
            10: is_set,
            11: lambda r: truth(r[2]),
            12: peer,
        }

    # ------------------------------------------------------------------ VRRP-MIB (RFC 2787)
    def _rfc2_rows(self) -> list[tuple[OID, VrrpInstance]]:
        rows = [((self._ifindex(i), i.params.vrid), i) for i in self.vrrp.instances().values()
                if i.params.version == 2 and i.params.family == 4 and i.params.vips]
        return sorted(rows, key=lambda r: r[0])

    def _mac(self, inst: VrrpInstance) -> Value | None:
        i = self.vrrp.interface_info(inst.name)
        return octets(i.mac) if i is not None else None

    def _primary(self, inst: VrrpInstance, family: int) -> bytes | None:
        i = self.vrrp.interface_info(inst.name)
        if i is None:
            return None
        if family == 4:
            a = i.primary_ipv4()
            return a.packed if a is not None else bytes(4)
        ll = [x.address for x in i.ipv6_addresses() if x.address.is_link_local]
        return ll[0].packed if ll else bytes(16)

    def _uptime_cs(self, inst: VrrpInstance) -> int:
        if inst.state not in (State.BACKUP, State.MASTER):
            return 0
        return int((time.monotonic() - self.start) * 100)

    def rfc2_view(self) -> MibView:
        b = RFC2
        rows = self._rfc2_rows

        def first_row() -> list[tuple[OID, VrrpInstance]]:
            # keepalived 2.2.7's snmp_rfcv2_header_list_table skips every instance for a request
            # that carries an index (`ifp ? IF_BASE_INDEX(ifp) : 0 < target[0]` lacks parentheses):
            # vrrpOperTable and vrrpRouterStatsTable show their lowest-indexed row only
            return rows()[:1]

        def master_ip(i: VrrpInstance) -> Value:
            m = i.master_saddr
            return ipaddress(m.packed if m is not None and m.version == 4 and i.state != State.MASTER
                             else bytes(4))

        def assoc() -> list[tuple[OID, VrrpInstance]]:
            out = []
            for idx, inst in rows():
                for a in sorted(inst.params.vips, key=int):
                    out.append(((*idx, *a.packed), inst))
            return out

        oper = {
            2: self._mac,
            3: lambda i: integer(_rfc_state(i.state)),
            4: lambda i: integer(1),
            5: lambda i: integer(i.base_priority),
            6: lambda i: integer(len(i.params.vips)),
            7: master_ip,
            8: lambda i: ipaddress(self._primary(i, 4)) if self._primary(i, 4) is not None else None,  # type: ignore[arg-type]
            9: lambda i: integer(int(i.params.auth_type) + 1),
            11: lambda i: integer(i.params.adver_int_us // 1_000_000),
            12: lambda i: truth(not i.params.nopreempt),
            13: lambda i: timeticks(self._uptime_cs(i)),
            14: lambda i: integer(1),
            15: lambda i: integer(1),
        }
        st = {
            1: lambda i: counter(i.stats.get("become_master", 0)),
            2: lambda i: counter(i.stats.get("advert_rcvd", 0)),
            3: lambda i: counter(i.stats.get("advert_interval_err", 0)),
            4: lambda i: counter(i.stats.get("auth_failure", 0)),
            5: lambda i: counter(i.stats.get("ip_ttl_err", 0)),
            6: lambda i: counter(i.stats.get("pri_zero_rcvd", 0)),
            7: lambda i: counter(i.stats.get("pri_zero_sent", 0)),
            8: lambda i: counter(i.stats.get("invalid_type_rcvd", 0)),
            9: lambda i: counter(i.stats.get("addr_list_err", 0)),
            10: lambda i: counter(i.stats.get("invalid_authtype", 0)),
            11: lambda i: counter(i.stats.get("authtype_mismatch", 0)),
            12: lambda i: counter(i.stats.get("packet_len_err", 0)),
        }
        view = MibView()
        view.add(
            Scalar((*b, 1, 1), lambda: integer(2)),
            Scalar((*b, 1, 2), lambda: integer(1 if self.cfg.traps else 2)),
            Table((*b, 1, 3, 1), oper, first_row),
            Table((*b, 1, 4, 1), {2: lambda i: integer(1)}, assoc),
            # checksum, version and VRID errors: the sums over the table's instances (vrid_err is
            # declared in keepalived 2.2.7 but never counted: always 0 there too)
            Scalar((*b, 2, 1), lambda: counter(_rx_sum(rows(), "chk_err"))),
            Scalar((*b, 2, 2), lambda: counter(_rx_sum(rows(), "vers_err"))),
            Scalar((*b, 2, 3), lambda: counter(_rx_sum(rows(), "vrid_err"))),
            Table((*b, 2, 4, 1), st, first_row),
        )
        return view

    # ------------------------------------------------------------------ VRRPV3-MIB (RFC 6527)
    def _rfc3_rows(self) -> list[tuple[OID, VrrpInstance]]:
        rows = [((self._ifindex(i), i.params.vrid, 1 if i.params.family == 4 else 2), i)
                for i in self.vrrp.instances().values() if i.params.vips]
        return sorted(rows, key=lambda r: r[0])

    def rfc3_view(self) -> MibView:
        b = RFC3
        rows = self._rfc3_rows

        def master_ip(i: VrrpInstance) -> Value | None:
            if i.state != State.MASTER:
                m = i.master_saddr
                size = 4 if i.params.family == 4 else 16
                return octets(m.packed if m is not None and len(m.packed) == size else bytes(size))
            p = self._primary(i, i.params.family)
            return octets(p) if p is not None else None

        def primary(i: VrrpInstance) -> Value | None:
            p = self._primary(i, i.params.family)
            return octets(p) if p is not None else None

        def accept(i: VrrpInstance) -> Value:
            c = self.vrrp.setup(i.name)
            return truth(c is None or c.accept is not False)

        def assoc() -> list[tuple[OID, VrrpInstance]]:
            out = []
            for idx, inst in rows():
                for a in sorted(inst.params.vips, key=int):
                    out.append(((*idx, *a.packed), inst))
            return out

        def c64(key: str) -> object:
            return lambda i: counter64(i.stats.get(key, 0))

        oper = {
            3: master_ip,
            4: primary,
            5: self._mac,
            6: lambda i: integer(_rfc_state(i.state)),
            7: lambda i: gauge(i.base_priority),
            8: lambda i: integer(len(i.params.vips)),
            9: lambda i: integer(i.params.adver_int_us // 10_000),
            10: lambda i: truth(not i.params.nopreempt),
            11: accept,
            12: lambda i: timeticks(self._uptime_cs(i)),
            13: lambda i: integer(1),
        }
        st = {
            1: lambda i: counter(i.stats.get("become_master", 0)),
            2: lambda i: integer(int(i.master_reason)),
            3: c64("advert_rcvd"),
            4: c64("advert_interval_err"),
            5: c64("ip_ttl_err"),
            6: lambda i: integer(i.proto_err_reason),
            7: c64("pri_zero_rcvd"),
            8: c64("pri_zero_sent"),
            9: c64("invalid_type_rcvd"),
            10: c64("addr_list_err"),
            11: c64("packet_len_err"),
            12: lambda i: timeticks(0),
            13: lambda i: gauge(i.params.adver_int_us // 10_000 * 10),
        }
        view = MibView()
        view.add(
            Table((*b, 1, 1, 1, 1), oper, rows),
            Table((*b, 1, 1, 2, 1), {2: lambda i: integer(1)}, assoc),
            Scalar((*b, 1, 2, 1), lambda: counter64(_rx_sum(rows(), "chk_err"))),
            Scalar((*b, 1, 2, 2), lambda: counter64(_rx_sum(rows(), "vers_err"))),
            Scalar((*b, 1, 2, 3), lambda: counter64(_rx_sum(rows(), "vrid_err"))),
            Scalar((*b, 1, 2, 4), lambda: timeticks(0)),
            Table((*b, 1, 2, 5, 1), st, rows),  # type: ignore[arg-type]
        )
        return view

    # ------------------------------------------------------------------ registrations
    def registrations(self) -> list[Registration]:
        regs = []
        if self.serve_global:
            regs.append(Registration(GLOBAL, self.global_view(), "The MIB module for Keepalived"))
        if self.cfg.vrrp:
            regs.append(Registration(VRRP, self.vrrp_view(), "The MIB module for KEEPALIVED-VRRP",
                                     VrrpWriter(self)))
        if self.cfg.rfcv2:
            regs.append(Registration(RFC2, self.rfc2_view(), "The MIB module for VRRP"))
        if self.cfg.rfcv3:
            regs.append(Registration(RFC3, self.rfc3_view(), "The MIB module for VRRPV3"))
        return regs

    def view(self, subtree: OID) -> MibView:
        """The view of one registered subtree, built over the current model."""
        return {GLOBAL: self.global_view, VRRP: self.vrrp_view, RFC2: self.rfc2_view,
                RFC3: self.rfc3_view}[subtree]()

    # ------------------------------------------------------------------ traps
    def own_saddr(self, inst: VrrpInstance) -> bytes:
        """The instance's own source address (vrrp->saddr), as its new-master traps carry it."""
        a = inst.own_src
        if a is not None:
            return a.packed
        p = self._primary(inst, inst.params.family)
        return p if p is not None else bytes(4 if inst.params.family == 4 else 16)

    def traps(self, table: Sequence[TrapDef[S, E]], subject: S, event: E) -> list[Trap]:
        """The traps of `table` that enable_traps and their MIB's enable_snmp_* turn on and that
        apply to `subject` and `event`, in the table's order."""
        cfg = self.cfg
        return [Trap(t.oid, t.varbinds(self, subject, event), t.line(subject, event)) for t in table
                if cfg.traps and t.mib(cfg) and t.applies(subject, event)]


S = TypeVar("S")
E = TypeVar("E")


class Trap(NamedTuple):
    """A trap to send: its OID, its varbinds and the line keepalived logs with -D as it sends it."""

    oid: OID
    varbinds: list[VarBind]
    line: str


@dataclass(frozen=True)
class TrapDef(Generic[S, E]):
    """One of keepalived 2.2.7's VRRP traps, raised about a subject (an instance or a sync group)
    by an event (its new state, or an advert it rejected): sent when enable_traps and its MIB's
    enable_snmp_* are on and it applies (the state; the rejection; suitable_for_rfc2787/6527), with
    its varbinds, after the line keepalived logs with -D."""

    oid: OID
    mib: Callable[[SnmpSettings], bool]
    applies: Callable[[S, E], bool]
    varbinds: Callable[[VrrpMibs, S, E], list[VarBind]]
    line: Callable[[S, E], str]


def _rfc2787(p: InstanceParams) -> bool:  # suitable_for_rfc2787
    return p.version == 2 and p.family == 4 and bool(p.vips)


def _rfc6527(p: InstanceParams) -> bool:  # suitable_for_rfc6527
    return bool(p.vips)


def _inet(p: InstanceParams) -> int:  # InetAddressType of the RFC 6527 index
    return 1 if p.family == 4 else 2


def _sent(name: str, what: str = "") -> str:
    return f"({name}) Sending SNMP notification{what}"


def _rx_ifindex(m: VrrpMibs, inst: VrrpInstance) -> int:  # IF_INDEX, not the base interface's
    i = m.vrrp.interface_info(inst.name)
    return i.ifindex if i is not None else 0


# the traps' state of a notify (vrrp_snmp_instance_trap, vrrp_snmp_group_trap): STOP is 5, DELETED 6
_TRAP_STATE = {"BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 5, "DELETED": 6}


def _group_state(m: VrrpMibs, grp: SyncGroup, event: str) -> list[VarBind]:
    return [VarBind((*VRRP, 1, 1, 2), octets(grp.name)),
            VarBind((*VRRP, 1, 1, 3), integer(_TRAP_STATE[event])),
            VarBind(ROUTER_ID_0, octets(m.router_id))]


def _instance_state(m: VrrpMibs, inst: VrrpInstance, event: str) -> list[VarBind]:
    return [VarBind((*VRRP, 3, 1, 2), octets(inst.name)),
            VarBind((*VRRP, 3, 1, 4), integer(_TRAP_STATE[event])),
            VarBind((*VRRP, 3, 1, 5), integer(2 if inst.params.wants_master else 1)),
            VarBind(ROUTER_ID_0, octets(m.router_id))]


def _new_master2(m: VrrpMibs, inst: VrrpInstance, event: str) -> list[VarBind]:
    return [VarBind((*RFC2, 1, 3, 1, 7, m._ifindex(inst), inst.params.vrid), ipaddress(m.own_saddr(inst)))]


def _new_master3(m: VrrpMibs, inst: VrrpInstance, event: str) -> list[VarBind]:
    idx = (m._ifindex(inst), inst.params.vrid, _inet(inst.params))
    return [VarBind((*RFC3, 1, 1, 1, 1, 3, *idx), octets(m.own_saddr(inst))),
            VarBind((*RFC3, 1, 2, 5, 1, 2, *idx), integer(int(inst.master_reason)))]


def _auth_failure(m: VrrpMibs, inst: VrrpInstance, e: RxRejected) -> list[VarBind]:
    idx = (_rx_ifindex(m, inst), inst.params.vrid)
    src = e.src.packed if e.src.version == 4 else bytes(4)
    return [VarBind((*RFC2, 1, 5, *idx), ipaddress(src)),
            VarBind((*RFC2, 1, 6, *idx), integer(AUTH_ERRORS[e.counter]))]


def _proto_error(m: VrrpMibs, inst: VrrpInstance, e: RxRejected) -> list[VarBind]:
    idx = (_rx_ifindex(m, inst), inst.params.vrid, _inet(inst.params))
    return [VarBind((*RFC3, 1, 2, 5, 1, 6, *idx), integer(inst.proto_err_reason))]


# vrrp_notify.c send_group_notifies: vrrpSyncGroupStateChange
GROUP_TRAPS: tuple[TrapDef[SyncGroup, str], ...] = (
    TrapDef((*VRRP, 10, 0, 1), lambda c: c.vrrp, lambda g, s: True, _group_state,
            lambda g, s: f"VRRP_Group({g.name}): Sending SNMP notification"),
)
# send_instance_notifies: vrrpInstanceStateChange, then as MASTER vrrpTrapNewMaster and vrrpv3NewMaster
STATE_TRAPS: tuple[TrapDef[VrrpInstance, str], ...] = (
    TrapDef((*VRRP, 10, 0, 2), lambda c: c.vrrp, lambda i, s: True, _instance_state,
            lambda i, s: _sent(i.name)),
    TrapDef((*RFC2, 0, 1), lambda c: c.rfcv2, lambda i, s: s == "MASTER" and _rfc2787(i.params),
            _new_master2, lambda i, s: _sent(i.name, " vrrpTrapNewMaster")),
    TrapDef((*RFC3, 0, 1), lambda c: c.rfcv3, lambda i, s: s == "MASTER" and _rfc6527(i.params),
            _new_master3,
            lambda i, s: _sent(i.name, f" vrrpv3NotifyNewMaster, reason {int(i.master_reason)}")),
)
# vrrp.c vrrp_check_packet: vrrpTrapAuthFailure for an authentication error, vrrpv3ProtoError for a
# TTL, version or checksum error
RX_TRAPS: tuple[TrapDef[VrrpInstance, RxRejected], ...] = (
    TrapDef((*RFC2, 0, 2), lambda c: c.rfcv2, lambda i, e: e.counter in AUTH_ERRORS and _rfc2787(i.params),
            _auth_failure, lambda i, e: _sent(i.name, " vrrpTrapAuthFailure")),
    TrapDef((*RFC3, 0, 2), lambda c: c.rfcv3,
            lambda i, e: e.counter in PROTO_ERR_REASONS and _rfc6527(i.params),
            _proto_error, lambda i, e: _sent(i.name, " vrrpTrapProtoError")),
)


def global_view(model: Model, cfg: SnmpSettings, router_id: Callable[[], str]) -> MibView:
    """KEEPALIVED-MIB global (core/snmp.c global_vars): served by the VRRP child, or by the checker
    child when that runs SNMP (vrrp_handles_global_oid)."""
    g = model.global_defs

    def smtp_family() -> int:
        if not g.smtp_server:
            return 2  # SNMP_InetAddressType(AF_UNSPEC)
        try:
            return 1 if ip_address(g.smtp_server[0]).version == 4 else 2
        except ValueError:
            return 2

    def smtp_addr() -> bytes:
        if g.smtp_server:
            try:
                return ip_address(g.smtp_server[0]).packed
            except ValueError:
                pass
        return bytes(4)

    def smtp_port() -> int:
        if not g.smtp_server:
            return 0
        return int(g.smtp_server[1]) if len(g.smtp_server) > 1 else 25

    def tri(v: bool | None) -> int:
        return 3 if v is None else 1 if v else 2

    emails = [((i,), e) for i, e in enumerate(g.notification_email, 1)]
    view = MibView()
    s = GLOBAL
    lvs = lvs_globals(model)
    view.add(
        Scalar((*s, 1), lambda: octets(VERSION_STRING)),
        Scalar((*s, 2), lambda: octets(router_id())),
        Scalar((*s, 3, 1), lambda: integer(smtp_family())),
        Scalar((*s, 3, 2), lambda: octets(smtp_addr())),
        Scalar((*s, 3, 3), lambda: gauge(g.smtp_connect_timeout if g.smtp_server else 0)),
        Scalar((*s, 3, 4),
               lambda: octets(g.notification_email_from) if g.notification_email_from else None),
        Table((*s, 3, 5, 1), {2: lambda e: octets(e)}, lambda: emails),
        Scalar((*s, 3, 6), lambda: gauge(smtp_port())),
        Scalar((*s, 3, 7), lambda: truth(not g.no_email_faults)),
        Scalar((*s, 3, 8), lambda: integer(tri(g.smtp_alert))),
        Scalar((*s, 3, 9), lambda: integer(tri(g.smtp_alert_vrrp))),
        Scalar((*s, 3, 10), lambda: integer(tri(g.smtp_alert_checker))),
        Scalar((*s, 4), lambda: truth(cfg.traps)),
        Scalar((*s, 5), lambda: integer(2 if model.root.linkbeat_use_polling else 1)),
        Scalar((*s, 6), lambda: truth(lvs.flush)),
        Scalar((*s, 7), lambda: integer(1)),  # IPVS 64-bit stats (Debian's build)
        Scalar((*s, 8), lambda: octets(model.root.net_namespace or "")),
        Scalar((*s, 9), lambda: truth(g.dbus.enabled)),
        Scalar((*s, 10), lambda: truth(g.dynamic_interfaces)),
        Scalar((*s, 11), lambda: integer(_FLUSH_ON_STOP[lvs.flush_on_stop])),
    )
    return view


_FLUSH_ON_STOP = {"full": 1, None: 2, "VS": 3}  # keepalived core/snmp.c lvsFlushOnStop
_RTN_SNMP = {6: 3, 4: 4, 5: 5, 3: 6, 7: 7, 8: 8, 9: 9, 10: 10, 11: 11}  # RTN_* -> vrrpRouteType
_FR_ACTIONS = {"table": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
_PARAM_MATCH = {"none": 0, "exact": 1, "initial": 2, "partial": 3}  # keepalived enum param_match


def _bfd_weights(model: Model) -> dict[str, tuple[int, bool]]:
    """Each bfd_instance's own `weight N [reverse]` (vrrp_tracked_bfd_t), in configuration order."""
    return {nb.name: (nb.bfd.weight, nb.bfd.weight_reverse) for nb in model.named_blocks
            if nb.kind == "bfd_instance" and nb.bfd is not None}


def _rx_sum(rows: list[tuple[OID, VrrpInstance]], counter: str) -> int:
    return sum(i.stats.get(counter, 0) for _, i in rows)


def _group_tracking_weight(model: Model, name: str) -> bool:
    for sg in model.sync_groups:
        if sg.name == name:
            return sg.track_weight
    return False


class VrrpSnmpAgent:
    """The VRRP child's subagent: the MIB views over `view` and `extras`, the AgentX client, the traps."""

    def __init__(self, view: VrrpView, extras: SnmpExtras, model: Model, cfg: SnmpSettings,
                 serve_global: bool) -> None:
        self.vrrp = view
        self.mibs = VrrpMibs(view, extras, model, cfg, serve_global)
        self.client = AgentXClient(cfg.socket, "Keepalived", self.mibs.registrations())

    def start(self) -> None:
        self.client.start()

    def reload(self, model: Model, cfg: SnmpSettings) -> None:
        """A reload, as keepalived 2.2.7's: the subagent and its registrations stay as at start; the
        objects are read from the new configuration, the traps follow its enable_* keywords, and the
        RFC MIBs' uptime base restarts (snmp_vrrp_start_time)."""
        m = self.mibs
        m.model, m.start = model, time.monotonic()
        m.cfg = SnmpSettings(vrrp=m.cfg.vrrp and cfg.vrrp, checker=cfg.checker,
                             rfcv2=m.cfg.rfcv2 and cfg.rfcv2, rfcv3=m.cfg.rfcv3 and cfg.rfcv3,
                             traps=cfg.traps, socket=m.cfg.socket)
        for reg in self.client.session.registrations:
            reg.view = m.view(reg.subtree)

    def rx_rejected(self, e: RxRejected) -> None:
        """keepalived sends these traps as it rejects the advert (vrrp.c vrrp_check_packet)."""
        inst = self.vrrp.instances().get(e.instance)
        if inst is not None:
            self._send(self.mibs.traps(RX_TRAPS, inst, e))

    def notified(self, n: Notify) -> None:
        """keepalived sends its traps with the notifies (vrrp_notify.c send_instance_notifies), also
        those of an instance a reload drops (clear_diff_vrrp: FAULT, or DELETED with notify_deleted)."""
        if n.event not in _TRAP_STATE:
            return
        if n.target == "GROUP":
            grp = self.vrrp.groups().get(n.name)
            if grp is not None:
                self._send(self.mibs.traps(GROUP_TRAPS, grp, n.event))
            return
        inst = self.vrrp.instance(n.name)
        if inst is not None:
            self._send(self.mibs.traps(STATE_TRAPS, inst, n.event))

    def _send(self, traps: list[Trap]) -> None:
        for t in traps:
            log.log(DETAIL, "%s", t.line)
            self.client.notify(t.oid, t.varbinds)

    async def close(self) -> None:
        await self.client.close()


def reload_snmp(agent: VrrpSnmpAgent | None, opts: SnmpOptions, model: Model) -> None:
    """The new configuration's values for a running subagent (none is started at a reload, as in
    keepalived 2.2.7, which only re-polls the agent it has)."""
    if agent is not None:
        agent.reload(model, settings(model, opts.snmp, opts.snmp_socket))


async def start_snmp(opts: SnmpOptions, model: Model, view: VrrpView, extras: SnmpExtras,
                     checker_runs: bool = False) -> VrrpSnmpAgent | None:
    """The VRRP child's subagent when an SNMP MIB of the VRRP process is enabled (-x or global_defs),
    started; None otherwise. keepalived's VRRP process serves the global subtree unless the checker
    process runs (`checker_runs`) with SNMP and serves it (vrrp_handles_global_oid)."""
    cfg = settings(model, opts.snmp, opts.snmp_socket)
    if not cfg.any_vrrp:
        return None
    serve_global = cfg.vrrp and not (checker_runs and cfg.checker)
    agent = VrrpSnmpAgent(view, extras, model, cfg, serve_global)
    agent.start()
    # keepalived's net-snmp connects synchronously at start: wait (briefly) for the registration
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(agent.client.connected.wait(), CONNECT_WAIT_S)
    return agent


class SnmpOptions(Protocol):
    snmp: bool
    snmp_socket: str | None
