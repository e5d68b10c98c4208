# Theory of operation
# -------------------
# Prints a Model back in keepalived syntax, every resolved value explicit (defaults applied), so that
# parsing the dump gives an equal Model (property-tested). Generic `options` are formatted with their
# grammar value type (`VType.fmt`), so timers come back in seconds, booleans as true/false, etc.
"""Model -> keepalived.conf text."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pykeepalived.config import grammar as G
from pykeepalived.config.grammar import Kw
from pykeepalived.config.model import Model, NotifyScript, Options, Track, VipSpec, VrrpInstance
from pykeepalived.config.model_lvs import Checker, FileCheck, HttpCheck, SmtpCheck, UdpCheck, VirtualServer
from pykeepalived.config.routes import Route
from pykeepalived.config.rules import format_rule
from pykeepalived.config.types import Flag, Script, Timer, _q

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_T6 = Timer()
_T3 = Timer(digits=3)


def _fmt_opt(table: dict[str, Kw], kw: str, value: object, ind: str) -> list[str]:
    spec = table.get(kw)
    if spec is None:
        return []
    if spec.items is not None:
        assert isinstance(value, tuple)
        return [f"{ind}{kw} {{"] + [f"{ind}    {' '.join(_q(w) for w in it)}" for it in value] + [f"{ind}}}"]
    if spec.block is not None:
        assert isinstance(value, tuple)
        args, sub = value
        head = f"{ind}{kw}" + (
            f" {spec.args.fmt(args)}" if spec.args is not None and args is not None else ""
        )
        return [head + " {", *_fmt_opts(spec.block, sub, ind + "    "), f"{ind}}}"]
    assert spec.vtype is not None
    text = spec.vtype.fmt(value)
    return [f"{ind}{kw} {text}".rstrip()]


def _fmt_opts(table: dict[str, Kw], opts: Options, ind: str) -> list[str]:
    out: list[str] = []
    for k, v in opts:
        out += _fmt_opt(table, k, v, ind)
    return out


def _route(r: Route) -> str:
    return " ".join(_q(w) for w in r.words)


def _script(s: NotifyScript) -> str:
    return Script().fmt(s)


def _vip(v: VipSpec) -> str:
    return " ".join([f"{v.address}/{v.prefix}", *(_q(o) for o in v.words)])


def _tracks(tracks: tuple[Track, ...], ind: str) -> list[str]:
    out: list[str] = []
    for kind in ("interface", "script", "file", "process", "bfd"):
        ts = [t for t in tracks if t.kind == kind]
        if not ts:
            continue
        out.append(f"{ind}track_{kind} {{")
        for t in ts:
            line = t.name
            if t.weight is not None:
                line += f" weight {t.weight}"
                if t.reverse is not None:
                    line += " reverse" if t.reverse else " noreverse"
            out.append(f"{ind}    {line}")
        out.append(f"{ind}}}")
    return out


def _instance(i: VrrpInstance) -> list[str]:
    o = ["vrrp_instance " + i.name + " {"]
    a = o.append
    if i.state:
        a(f"    state {i.state}")
    if i.interface:
        a(f"    interface {i.interface}")
    a(f"    virtual_router_id {i.vrid}")
    a(f"    priority {i.priority}")
    a(f"    advert_int {_T6.fmt(i.advert_int_us)}")
    a(f"    version {i.version}")
    if i.family == 6 and not i.vips:
        a("    native_ipv6")
    a("    nopreempt" if i.nopreempt else "    preempt")
    a(f"    preempt_delay {_T6.fmt(i.preempt_delay_us)}")
    a(f"    strict_mode {'true' if i.strict_mode else 'false'}")
    for k in ("garp_master_delay", "garp_master_refresh", "garp_lower_prio_delay"):
        v = getattr(i, k + "_s")
        if v is not None:
            a(f"    {k} {v}")
    for k in ("garp_master_repeat", "garp_master_refresh_repeat", "garp_lower_prio_repeat"):
        v = getattr(i, k)
        if v is not None:
            a(f"    {k} {v}")
    a(f"    down_timer_adverts {i.down_timer_adverts}")
    for k in ("lower_prio_no_advert", "higher_prio_send_advert", "owner_ignore_adverts", "v3_checksum_as_v2"):
        a(f"    {k} {'true' if getattr(i, k) else 'false'}")
    for k in ("dont_track_primary", "skip_check_adv_addr", "check_unicast_src"):
        if getattr(i, k):
            a(f"    {k}")
    if i.old_unicast_checksum:
        a("    old_unicast_checksum")
    if i.accept is not None:
        a("    accept" if i.accept else "    no_accept")
    if i.smtp_alert is not None:
        a(f"    smtp_alert {'true' if i.smtp_alert else 'false'}")
    if i.use_vmac is not None:
        a("    use_vmac " + " ".join(_q(w) for w in i.use_vmac.words))
    for k in ("unicast_src_ip", "mcast_src_ip", "mcast_dst_ip"):
        if getattr(i, k) is not None:
            a(f"    {k} {getattr(i, k)}")
    if i.unicast_ttl is not None:
        a(f"    unicast_ttl {i.unicast_ttl}")
    if i.unicast_peers:
        a("    unicast_peer {")
        for addr, lo, hi in i.unicast_peers:
            a(
                f"        {addr}"
                + (f" min_ttl {lo}" if lo is not None else "")
                + (f" max_ttl {hi}" if hi is not None else "")
            )
        a("    }")
    if i.auth_type is not None or i.auth_pass:
        a("    authentication {")
        if i.auth_type:
            a(f"        auth_type {i.auth_type}")
        if i.auth_pass:
            a(f"        auth_pass {_q(i.auth_pass)}")
        a("    }")
    for k, vips in (("virtual_ipaddress", i.vips), ("virtual_ipaddress_excluded", i.evips)):
        if vips:
            a(f"    {k} {{")
            o.extend(f"        {_vip(v)}" for v in vips)
            a("    }")
    if i.virtual_routes:
        o += ["    virtual_routes {", *(f"        {_route(r)}" for r in i.virtual_routes), "    }"]
    if i.virtual_rules:
        o += ["    virtual_rules {", *(f"        {format_rule(r)}" for r in i.virtual_rules), "    }"]
    o += _tracks(i.tracks, "    ")
    for k, sc in i.notify:
        a(f"    {k} {_script(sc)}".rstrip())
    if i.bgp is not None:  # pykeepalived extension (docs/bgp.md)
        b = i.bgp
        o += ["    bgp_announce {", f"        mode {b.mode}", f"        anchor {b.anchor}"]
        if b.backup_anchor is not None:
            a(f"        backup_anchor {b.backup_anchor}")
        o += ["        addresses {", *(f"            {x}" for x in b.addresses), "        }", "    }"]
    o += _fmt_fields(i, {k: G.VRRP_INSTANCE[k] for k in _INSTANCE_TYPED}, "    ")
    o += _fmt_opts(G.VRRP_INSTANCE, i.options, "    ")
    o.append("}")
    return o


def dump_model(m: Model) -> str:
    o: list[str] = []
    for k, v in m.root_options:
        o += _fmt_opt(G.ROOT, k, v, "")
    g = m.global_defs
    o.append("global_defs {")
    if g.router_id is not None:
        o.append(f"    router_id {_q(g.router_id)}")
    o.append(f"    vrrp_version {g.vrrp_version}")
    for k in ("vrrp_mcast_group4", "vrrp_mcast_group6"):
        if getattr(g, k) is not None:
            o.append(f"    {k} {getattr(g, k)}")
    for k in (
        "vrrp_strict",
        "vrrp_skip_check_adv_addr",
        "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert",
        "vrrp_owner_ignore_adverts",
    ):
        o.append(f"    {k} {'true' if getattr(g, k) else 'false'}")
    if g.vrrp_startup_delay_us:
        o.append(f"    vrrp_startup_delay {_T6.fmt(g.vrrp_startup_delay_us)}")
    o.append(f"    vrrp_down_timer_adverts {g.vrrp_down_timer_adverts}")
    for k in ("vrrp_check_unicast_src", "log_unknown_vrids", "enable_script_security"):
        if getattr(g, k):
            o.append(f"    {k}")
    if g.dynamic_interfaces:
        o.append("    dynamic_interfaces")
    o.append(f"    default_interface {g.default_interface}")
    if g.script_user:
        o.append("    script_user " + " ".join(_q(w) for w in g.script_user))
    if g.notification_email:
        o += ["    notification_email {", *(f"        {_q(e)}" for e in g.notification_email), "    }"]
    o += _fmt_fields(g, G.GLOBAL_DEFS, "    ", _GLOBAL_EXPLICIT)
    if g.max_auto_priority is not None:
        o.append(f"    max_auto_priority {g.max_auto_priority}")
    o += _fmt_opts(G.GLOBAL_DEFS, g.options, "    ")
    o.append("}")
    for sv in m.vrrp_scripts:
        o.append(f"vrrp_script {sv.name} {{")
        if sv.script:
            o.append(f"    script {_script(sv.script)}")
        o.append(f"    interval {_T3.fmt(sv.interval_us // 1000)}")
        if sv.timeout_us is not None:
            o.append(f"    timeout {_T3.fmt(sv.timeout_us // 1000)}")
        o.append(f"    weight {sv.weight}" + (" reverse" if sv.reverse else ""))
        o.append(f"    rise {sv.rise}")
        o.append(f"    fall {sv.fall}")
        if sv.user:
            o.append("    user " + " ".join(_q(w) for w in sv.user))
        if sv.init_fail:
            o.append("    init_fail")
        o.append("}")
    for tf in m.track_files:
        o += [f"track_file {tf.name} {{", *_fmt_fields(tf, G.TRACK_FILE, "    ", frozenset({"weight"}))]
        o += [f"    weight {tf.weight}" + (" reverse" if tf.reverse else ""), "}"]
    for tp in m.track_processes:
        o += [f"vrrp_track_process {tp.name} {{"]
        o += _fmt_fields(tp, G.TRACK_PROCESS, "    ", frozenset({"weight", "param_match"}))
        if tp.param_match is not None:
            o.append("    param_match" + ("" if tp.param_match == "exact" else f" {tp.param_match}"))
        o += [f"    weight {tp.weight}" + (" reverse" if tp.reverse else ""), "}"]
    for nb in m.named_blocks:
        table = {
            "track_file": G.TRACK_FILE,
            "vrrp_track_process": G.TRACK_PROCESS,
            "bfd_instance": G.BFD_INSTANCE,
            "track_group": {"group": G.L()},
        }[nb.kind]
        if nb.kind == "track_group":
            members = nb.options[0][1]
            assert isinstance(members, tuple)
            o += [
                f"track_group {nb.name} {{",
                "    group {",
                *(f"        {x}" for x in members),
                "    }",
                "}",
            ]
            continue
        o += [f"{nb.kind} {nb.name} {{", *_fmt_opts(table, nb.options, "    "), "}"]
    for title, vips in (("static_ipaddress", m.static_ipaddress),):
        if vips:
            o += [f"{title} {{", *(f"    {_vip(v)}" for v in vips), "}"]
    if m.static_routes:
        o += ["static_routes {", *(f"    {_route(r)}" for r in m.static_routes), "}"]
    if m.static_rules:
        o += ["static_rules {", *(f"    {format_rule(r)}" for r in m.static_rules), "}"]
    for kind in ("linkbeat_interfaces", "interface_up_down_delays"):
        rows2 = [r[1:] for r in m.linkbeat_interfaces if r[0] == kind]
        if rows2:
            o += [f"{kind} {{", *("    " + " ".join(r) for r in rows2), "}"]
    for gg in m.garp_groups:
        o += ["garp_group {", *_fmt_opts(G.GARP_GROUP, gg, "    "), "}"]
    for inst in m.vrrp_instances:
        o += _instance(inst)
    for sg in m.sync_groups:
        o += [f"vrrp_sync_group {sg.name} {{", "    group {", *(f"        {x}" for x in sg.members), "    }"]
        o += _tracks(sg.tracks, "    ")
        o += [f"    {k} {_script(sc)}" for k, sc in sg.notify]
        o += _fmt_opts(G.SYNC_GROUP, sg.options, "    ")
        o.append("}")
    if m.ssl is not None:
        o += ["SSL {", *_fmt_opts(G.ROOT["SSL"].block or {}, m.ssl, "    "), "}"]
    for name, entries in m.virtual_server_groups:
        o += [f"virtual_server_group {name} {{", *("    " + " ".join(e) for e in entries), "}"]
    for vs in m.virtual_servers:
        o += _vs(vs)
    return "\n".join(o) + "\n"


_INSTANCE_TYPED = ("vmac_xmit_base", "use_vmac_addr", "promote_secondaries", "linkbeat_use_polling",
                   "kernel_rx_buf_size", "unicast_fault_no_peer", "track_src_ip")
_GLOBAL_EXPLICIT = frozenset(
    {
        "router_id",
        "vrrp_version",
        "vrrp_mcast_group4",
        "vrrp_mcast_group6",
        "vrrp_strict",
        "vrrp_skip_check_adv_addr",
        "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert",
        "vrrp_owner_ignore_adverts",
        "vrrp_startup_delay_us",
        "vrrp_down_timer_adverts",
        "vrrp_check_unicast_src",
        "log_unknown_vrids",
        "enable_script_security",
        "dynamic_interfaces",
        "default_interface",
        "script_user",
        "notification_email",
        "max_auto_priority",
    }
)


def _fmt_fields(obj: DataclassInstance, table: dict[str, Kw], ind: str,
                skip: frozenset[str] = frozenset()) -> list[str]:
    """Typed fields whose name is a keyword of `table` (timers: `_us`), in keyword syntax."""
    out: list[str] = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None or f.name in skip or v == "":
            continue
        kw = f.name.removesuffix("_us")
        spec = table.get(kw)
        if spec is None or spec.vtype is None:
            continue
        if isinstance(spec.vtype, Flag):
            if v:
                out.append(f"{ind}{kw}")
            continue
        out.append(f"{ind}{kw} {spec.vtype.fmt(v)}".rstrip())
    return out


def _checker(c: Checker, ind: str) -> list[str]:
    table = G.CHECKERS[c.kind].block or {}
    o = [f"{ind}{c.kind} {{", *_fmt_fields(c, table, ind + "    ", frozenset({"weight"}))]
    if isinstance(c, FileCheck) and c.weight is not None:
        o.append(f"{ind}    weight {c.weight}" + (" reverse" if c.reverse else ""))
    if isinstance(c, UdpCheck) and c.require_reply == "":
        o.append(f"{ind}    require_reply")
    if isinstance(c, SmtpCheck):
        for h in c.hosts:
            o += [f"{ind}    host {{", *_fmt_opts(G.CONN_OPTS, h, ind + "        "), f"{ind}    }}"]
    if isinstance(c, HttpCheck):
        for u in c.urls:
            o += [
                f"{ind}    url {{",
                *_fmt_fields(u, G.URL, ind + "        ", frozenset({"regex", "status_code"})),
            ]
            codes = " ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in u.status_code)
            o.append(f"{ind}        status_code {codes}")
            if u.regex is not None:
                o.append(f"{ind}        regex {_script((u.regex, '', ''))}")
            o.append(f"{ind}    }}")
    return [*o, f"{ind}}}"]


def _vs(vs: VirtualServer) -> list[str]:
    head = {"ip": f"{vs.address} {vs.port}", "fwmark": f"fwmark {vs.fwmark}", "group": f"group {vs.group}"}
    skip = frozenset({"protocol"} if vs.kind == "fwmark" else ())
    o = [f"virtual_server {head[vs.kind]} {{", *_fmt_fields(vs, G.VIRTUAL_SERVER, "    ", skip)]
    o += _fmt_opts(G.VIRTUAL_SERVER, vs.options, "    ")
    for rs in vs.real_servers:
        o.append(f"    real_server {rs.address}" + (f" {rs.port}" if rs.port is not None else "") + " {")
        o += _fmt_fields(rs, G.REAL_SERVER, "        ")
        o += _fmt_opts(G.REAL_SERVER, rs.options, "        ")
        for c in rs.checkers:
            o += _checker(c, "        ")
        o.append("    }")
    return [*o, "}"]
