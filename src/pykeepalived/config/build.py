# Theory of operation
# -------------------
# Turns the validated keyword tree (parser.py) into the immutable Model, applying keepalived's
# defaults and the end-of-block checks of vrrp_parser.c / check_parser.c with their messages:
#   * per-instance GARP/down-timer/skip-check defaults are copied from global_defs *as parsed so far*
#     (keepalived alloc_vrrp), so a global_defs after an instance does not affect it;
#   * `state MASTER` without `priority` means priority 255; priority 255 means MASTER;
#   * strict mode rewrites (keepalived.md §1.11.9); VRID required (fatal);
#   * track_* references resolved against the vrrp_script/track_file/... definitions.
# Checks against the running system (interfaces, script files) are in check.py.
# The LVS part (build_lvs.py, model_lvs.py: ~20 ms of import) is imported where a virtual_server is
# read, lvs_globals.py's checks where an LVS global keyword is: a VRRP-only file loads neither here.
"""Keyword tree -> Model, with keepalived's defaults and semantic checks."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from pykeepalived.config.bag_fields import (
    bfd_defs,
    dbus_defs,
    dump_file_defs,
    garp_extra_if_defs,
    process_defs,
    rcv_buf_defs,
    reload_defs,
    root_defs,
    snmp_defs,
    sync_group_fields,
)
from pykeepalived.config.changes import bool_of, changes, int_of, ip_of, options, script_of, str_of, words_of
from pykeepalived.config.command_words import cmd_str, resolve_user_group
from pykeepalived.config.diag import BLOCK_PROCESSES, NOWHERE, ConfigErr, Loc, Reporter, skip_block
from pykeepalived.config.model import (
    BgpAnnounce,
    GlobalDefs,
    Model,
    Named,
    NotifyScript,
    Options,
    Script,
    SyncGroup,
    Track,
    TrackFile,
    TrackProcess,
    VipSpec,
    VrrpInstance,
    VrrpScript,
)
from pykeepalived.config.parser import Item, Node
from pykeepalived.config.proc_types import check_root_duplicates, check_script_duplicate, max_auto_priority
from pykeepalived.config.routes import Route, parse_route, set_iproute_dirs
from pykeepalived.config.rules import Rule, RulePriorities, parse_rule
from pykeepalived.config.types import (
    BOOL_WORDS,
    IPAddr,
    is_digits,
    parse_int,
    parse_ip,
    script_argv,
    sockaddr_ip,
)
from pykeepalived.config.vips import parse_vip
from pykeepalived.config.vrrp_extra import garp_extra_words, instance_checks, unicast_vmac, vmac_spec

if TYPE_CHECKING:  # the LVS modules are imported only for a file that has LVS keywords
    from pykeepalived.config.model_lvs import Checker, VirtualServer

_GLOBAL_GROUPS = ("options", "snmp", "dbus", "dump_files")  # not keywords: filled in build()
_GLOBAL_TYPED = {f for f in GlobalDefs.__dataclass_fields__ if f not in _GLOBAL_GROUPS}
_GARP = (
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
)


class _Family:
    """An instance's address family: the first VIP, unicast_src_ip, mcast_src_ip, mcast_dst_ip,
    unicast_peer or native_ipv6 sets it; a later one of the other family is skipped with
    keepalived's parser message (vrrp_parser.c / vrrp_data.c)."""

    __slots__ = ("family",)

    def __init__(self) -> None:
        self.family: int | None = None

    def get(self, version: int) -> int | None:
        """None if `version` fits (and sets the family if unset), else the instance's family."""
        if self.family is None:
            self.family = version
        return None if self.family == version else self.family

    @staticmethod
    def mismatch(name: str, kw: str, word: str) -> str:
        if kw == "mcast_dst_ip":
            return f"({name}) mcast dest address {word} MUST match VRRP instance family. Skipping..."
        what = "unicast peer address" if kw == "unicast_peer" else "src address"
        return (f"Configuration error: VRRP instance[{name}] and {what}[{word}] MUST be of the same family"
                " !!! Skipping...")


def _track(kind: str, item: Item, lo: int, hi: int, rep: Reporter, owner: str) -> Track | None:
    w = item.words
    weight: int | None = None
    reverse: bool | None = None
    if kind == "script" and len(w) >= 2 and (w[1] != "weight" or len(w) == 2):  # vrrp_track.c
        rep.error(item.loc, f"({owner}) unknown track script option {w[1]} - ignoring" if w[1] != "weight"
                  else f"({owner}) weight without value specified for track script {w[0]} - ignoring")
        return None
    if len(w) >= 3 and w[1] == "weight":
        weight = parse_int(w[2], lo, hi, item.loc, rep)
        if weight is None:
            rep.error(item.loc, f"Weight for {w[0]} must be between [{lo}:{hi}] inclusive. Ignoring...")
            return None
        if len(w) >= 4:
            if w[3] in ("reverse", "noreverse"):
                reverse = w[3] == "reverse"
            else:
                rep.error(item.loc, f"Unknown track {kind} {w[0]} weight option {w[3]} - ignoring")
    elif len(w) >= 2 and kind == "interface":  # vrrp_track.c alloc_track_if
        what = "weight without value specified for" if w[1] == "weight" else "unknown"
        rep.error(item.loc, f"({owner}) {what} track_interface {w[0]}"
                  f"{'' if w[1] == 'weight' else f' option {w[1]}'} - ignoring")
    elif len(w) >= 2:
        rep.error(item.loc, f"Unknown track {kind} {w[0]} option {w[1]} - ignoring")
    return Track(kind, w[0], weight, reverse, item.loc)


def _weight(node: Node | None, lo: int, hi: int, what: str, rep: Reporter) -> tuple[int, bool] | None:
    if node is None:
        return None
    assert isinstance(node.value, tuple)
    w = node.value
    v = parse_int(str(w[0]), lo, hi, node.loc, rep)
    if v is None:
        rep.error(node.loc, f"{what} weight {w[0]} must be in [{lo}, {hi}]")
        return None
    return v, len(w) > 1 and w[1] == "reverse"


class Builder:
    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self.g = GlobalDefs()
        self.gopts: list[tuple[str, object]] = []
        self.global_locs: list[tuple[str, Loc]] = []
        self.garp: dict[str, int] = {}
        self.root_opts: list[tuple[str, object]] = []
        self.instances: list[VrrpInstance] = []
        self.scripts: list[VrrpScript] = []
        self.groups: list[SyncGroup] = []
        self.named: list[Named] = []
        self.track_files: list[TrackFile] = []
        self.track_processes: list[TrackProcess] = []
        self.static_ip: list[VipSpec] = []
        self.static_routes: list[Route] = []
        self.static_rules: list[Rule] = []
        self.rule_prios = RulePriorities()
        self.linkbeat: list[tuple[str, ...]] = []
        self.linkbeat_locs: list[Loc] = []
        self.garp_groups: list[Options] = []
        self.vsgs: list[tuple[str, tuple[tuple[str, ...], ...]]] = []
        self.vss: list[VirtualServer] = []
        self.ssl: Options | None = None
        self._inst_nodes: list[Node] = []
        self.default_user_fail = False  # script_user names no user: no script gets a default user

    def build(self, root: Node) -> Model:
        for n in root.children:
            self.rep.procs = BLOCK_PROCESSES.get(n.kw)  # who reports its line-less messages
            match n.kw:
                case "global_defs":
                    self._global(n)
                case "vrrp_instance":
                    self._instance(n)
                case "vrrp_script":
                    self._script(n)
                case "vrrp_sync_group":
                    self._sync_group_node(n)
                case "track_file" | "vrrp_track_process" | "bfd_instance" | "track_group":
                    self._named(n)
                case "static_ipaddress":
                    self.static_ip += [v for i in n.items
                                       if (v := parse_vip(i.words, i.loc, self.rep)) is not None]
                case "static_routes":
                    self.static_routes += self._routes(n, True)
                case "static_rules":
                    self.static_rules += self._rules(n, True)
                case "linkbeat_interfaces" | "interface_up_down_delays":
                    self._linkbeat_rows(n)
                case "garp_group":
                    self.garp_groups.append(options(n, set()))
                case "virtual_server_group":
                    self.vsgs.append((str(n.value), tuple(i.words for i in n.items)))
                case "virtual_server":
                    from pykeepalived.config.build_lvs import build_vs  # LVS only: see the header

                    vs = build_vs(n, self.rep)
                    if vs is not None:
                        self.vss.append(vs)
                case "SSL":
                    if self.ssl is not None:
                        self.rep.error(n.loc, "SSL context already specified - replacing")
                    self.ssl = options(n, set())
                case _:
                    if check_root_duplicates(self.root_opts, n.kw, n.value, n.loc, self.rep):
                        self.root_opts.append((n.kw, n.value))
        self.rep.procs = frozenset({"vrrp"})
        self._resolve()
        self.rep.procs = None
        return Model(
            global_defs=replace(self.g, options=tuple(self.gopts), keyword_locs=tuple(self.global_locs),
                                snmp=snmp_defs(self.gopts), dbus=dbus_defs(self.gopts),
                                dump_files=dump_file_defs(self.gopts), rcv_bufs=rcv_buf_defs(self.gopts),
                                reload=reload_defs(self.gopts), process=process_defs(self.gopts),
                                garp_extra_if=garp_extra_if_defs(self.gopts)),
            root_options=tuple(self.root_opts),
            root=root_defs(self.root_opts),
            vrrp_instances=tuple(self.instances),
            vrrp_scripts=tuple(self.scripts),
            sync_groups=tuple(self.groups),
            track_files=tuple(self.track_files),
            track_processes=tuple(self.track_processes),
            named_blocks=tuple(self.named),
            static_ipaddress=tuple(self.static_ip),
            static_routes=tuple(self.static_routes),
            static_rules=tuple(self.static_rules),
            linkbeat_interfaces=tuple(self.linkbeat),
            linkbeat_locs=tuple(self.linkbeat_locs),
            garp_groups=tuple(self.garp_groups),
            virtual_server_groups=tuple(self.vsgs),
            virtual_servers=tuple(self.vss),
            ssl=self.ssl,
        )

    # -- routes and rules -----------------------------------------------------------------------
    def _track_groups(self, static: bool) -> set[str] | None:
        return {x.name for x in self.named if x.kind == "track_group"} if static else None

    def _routes(self, n: Node, static: bool) -> list[Route]:
        tg = self._track_groups(static)
        return [r for i in n.items if (r := parse_route(i.words, i.loc, self.rep, tg)) is not None]

    def _rules(self, n: Node, static: bool) -> list[Rule]:
        tg = self._track_groups(static)
        return [
            r for i in n.items if (r := parse_rule(i.words, i.loc, self.rep, self.rule_prios, tg)) is not None
        ]

    # -- global_defs ----------------------------------------------------------------------------
    def _global(self, n: Node) -> None:
        g = self.g
        upd: dict[str, Any] = {}  # the changes, applied once at the end (a ~SEQ may repeat a keyword
        # a million times: one dataclasses.replace() of GlobalDefs per line cost 20 µs each)

        def cur(name: str) -> Any:
            return upd[name] if name in upd else getattr(g, name)

        self.global_locs += keyword_locs(n)
        for c in n.children:
            kw, v = c.kw, c.value
            if kw == "notification_email":
                emails = tuple(w for i in c.items for w in i.words)
                upd["notification_email"] = cur("notification_email") + emails
                if not c.items:  # keepalived finds it empty on its closing line
                    self.rep.error(c.end if c.end.line else c.loc, "Warning - empty notification_email block")
            elif kw == "vrrp_startup_delay":
                upd["vrrp_startup_delay_us"] = _as_int(v)
            elif kw in ("dynamic_interfaces", "vrrp_check_unicast_src", "log_unknown_vrids",
                        "enable_script_security"):
                upd[kw] = True
                if kw == "dynamic_interfaces" and v == ("allow_if_changes",):
                    upd["allow_if_changes"] = True
            elif kw.startswith("vrrp_garp_") and kw[5:] in _GARP:
                self.garp[kw[5:]] = _as_int(v)
                upd[kw] = v
            elif kw == "vrrp_min_garp":
                if v:
                    for k, d in (
                        ("garp_master_repeat", 1),
                        ("garp_master_delay", 0),
                        ("garp_master_refresh", 0),
                    ):
                        self.garp.setdefault(k, d)
                        upd["vrrp_" + k] = self.garp[k]
                upd["vrrp_min_garp"] = bool(v)
            elif kw == "smtp_connect_timeout" and v == 0:
                self.rep.error(c.loc, "smtp_conect_timeout must be greater than 0, setting to 1")
                upd["smtp_connect_timeout"] = 1
            elif kw == "max_auto_priority":
                assert isinstance(v, tuple)
                upd["max_auto_priority"] = max_auto_priority(c.loc, v, self.rep, cur("max_auto_priority"))
            elif kw in ("nftables", "vrrp_iptables", "vrrp_ipsets"):
                upd.update(self._firewall(c.loc, kw, v, cur("nftables")))
            elif kw == "smtp_server":
                upd[kw] = v
                assert isinstance(v, tuple)
                if not _smtp_server_ok(*v):
                    self.rep.error(c.loc, f"Invalid smtp server {v[0]} {v[1] if len(v) > 1 else 25}")
            elif kw == "script_user":
                upd[kw] = v
                user = _words(c)
                if not _user_exists(user[0], user[1] if len(user) > 1 else None):
                    self.rep.error(c.loc, "Error setting global script uid/gid")
                    self.default_user_fail = True  # for good (keepalived: default_user_fail)
            elif kw in _GLOBAL_TYPED or kw + "_us" in _GLOBAL_TYPED:
                upd[kw if kw in _GLOBAL_TYPED else kw + "_us"] = v
            elif kw == "v3_checksum_as_v2":
                self.gopts.append((kw, True))
            elif kw == "vrrp_garp_extra_if":
                self.gopts.append((kw, garp_extra_words(_words(c), c.spelt or kw, c.loc, self.rep, None)))
            elif check_script_duplicate(self.gopts, kw, c.loc, self.rep):
                self._check_lvs_global(kw, v, c.loc)
                self.gopts.append((kw, v if not c.items else tuple(i.words for i in c.items)))
        self.g = replace(g, **upd) if upd else g

    def _linkbeat_rows(self, n: Node) -> None:
        """linkbeat_interfaces / interface_up_down_delays rows (vrrp_parser.c alloc_linkbeat_interface)."""
        for i in n.items:
            if n.kw == "linkbeat_interfaces" and len(i.words) > 1 and (
                    i.words[1] not in ("MII", "ETHTOOL", "IOCTL") or len(i.words) > 2):
                self.rep.error(i.loc, f"extra characters {i.words[1]} in linkbeat interface")
            self.linkbeat.append((n.kw, *i.words))
            self.linkbeat_locs.append(i.loc)

    def _firewall(self, loc: Loc, kw: str, v: object, nftables: str | None) -> dict[str, Any]:
        """`nftables [TABLE]`, and the iptables keywords of a keepalived built without iptables/ipset
        support (keepalived 2.2.7 as packaged: iptables requests become nftables): the GlobalDefs
        changes, given the table set so far."""
        if kw == "vrrp_ipsets":
            self.rep.error(loc, "Unknown keyword 'vrrp_ipsets'", ConfigErr.UNKNOWN_KEYWORD)
            return {}
        if kw == "vrrp_iptables":
            self.rep.error(loc, "iptables not supported, using nftables instead. Please replace "
                           "'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option")
            return {"nftables": "keepalived", "nftables_priority": -1}
        if nftables is not None:
            self.rep.error(loc, "nftables already specified - ignoring")
            return {}
        words = v if isinstance(v, tuple) else ()
        if words and len(words[0]) >= 256:  # NFT_TABLE_MAXNAMELEN
            self.rep.error(loc, "nftables table name too long - ignoring")
            return {}
        return {"nftables": str(words[0]) if words else "keepalived", "nftables_priority": -1}

    def _check_lvs_global(self, kw: str, v: object, loc: Loc) -> None:
        """keepalived's diagnostics for lvs_timeouts / lvs_flush_on_stop / lvs_sync_daemon."""
        from pykeepalived.config.lvs_globals import (  # LVS only: see the header
            parse_flush_on_stop,
            parse_lvs_sync_daemon,
            parse_lvs_timeouts,
        )

        words = v if isinstance(v, tuple) else ()
        report = functools.partial(self.rep.error, loc)
        if kw == "lvs_timeouts":
            parse_lvs_timeouts(words, report)
        elif kw in ("lvs_flush_on_stop", "lvs_flush_onstop"):
            parse_flush_on_stop(words, report)
        elif kw == "lvs_sync_daemon":
            first = next((w for k, w in self.gopts if k == kw), None)
            if isinstance(first, tuple) and first:
                inst = parse_lvs_sync_daemon(first)
                self.rep.error(loc, f"lvs_sync_daemon has already been specified as {first[0]} "
                               f"{(inst.instance or '') if inst else ''} - ignoring")
            else:
                parse_lvs_sync_daemon(words, report)

    def _syncd_interface(self) -> str | None:
        """The IPVS sync daemon's interface set so far (lvs_sync_daemon, or an instance's
        lvs_sync_daemon_interface): keepalived's global_data->lvs_syncd.ifname."""
        first = next((w for k, w in self.gopts if k == "lvs_sync_daemon"), None)
        if isinstance(first, tuple) and first:
            return str(first[0])
        return next((str(v) for i in self.instances for k, v in i.options
                     if k == "lvs_sync_daemon_interface"), None)

    # -- vrrp_instance --------------------------------------------------------------------------
    def _instance(self, n: Node) -> None:
        name = str(n.value)
        if any(i.name == name for i in self.instances):
            skip_block(self.rep, n)
            self.rep.error(n.loc, f"vrrp instance {name} already defined")
            return
        d = _InstanceDraft(self, name)
        self._instance_defaults(d, n)
        for c in n.children:
            _INSTANCE_KW.get(c.kw, _i_option)(d, c)
        end = self._instance_end(d.close(n), n)
        if end is not None:
            self.instances.append(end)
            self._inst_nodes.append(n)

    def _instance_defaults(self, d: _InstanceDraft, n: Node) -> None:
        """A new instance: the global settings as parsed so far (keepalived alloc_vrrp)."""
        g = self.g
        gd = self.garp
        d.ch.set(
            loc=n.loc,
            keyword_locs=tuple(keyword_locs(n)),
            version=g.vrrp_version,
            strict_mode=g.vrrp_strict,
            skip_check_adv_addr=g.vrrp_skip_check_adv_addr,
            check_unicast_src=g.vrrp_check_unicast_src,
            lower_prio_no_advert=g.vrrp_lower_prio_no_advert,
            higher_prio_send_advert=g.vrrp_higher_prio_send_advert,
            owner_ignore_adverts=g.vrrp_owner_ignore_adverts,
            down_timer_adverts=g.vrrp_down_timer_adverts,
            v3_checksum_as_v2=any(k == "v3_checksum_as_v2" for k, _ in self.gopts),
            garp_master_delay_s=gd.get("garp_master_delay", 5),
            garp_master_repeat=gd.get("garp_master_repeat", 5),
            garp_master_refresh_s=gd.get("garp_master_refresh", 0),
            garp_master_refresh_repeat=gd.get("garp_master_refresh_repeat", 1),
            garp_lower_prio_delay_s=gd.get("garp_lower_prio_delay"),
            garp_lower_prio_repeat=gd.get("garp_lower_prio_repeat"),
        )

    def _instance_end(self, i: VrrpInstance, n: Node) -> VrrpInstance | None:
        rep, name = self.rep, i.name
        i = unicast_vmac(i, {c.kw for c in n.children}, n.end, rep)
        if i.vrid is None:
            rep.stop_vrrp(f"({name}) the virtual router id must be set")
            return None
        if i.interface is None and not i.unicast_peers:
            rep.stop_vrrp(f"({name}) Unknown interface!")
            return None
        no_vip = not i.vips and "no_virtual_ipaddress" not in dict(i.options)
        if no_vip:  # first of vrrp_complete_instance's checks
            if i.version == 3 or i.strict_mode:
                rep.stop_vrrp(f"({name}) No VIP specified; at least one is required")
                return None
            rep.error(NOWHERE, f"({name}) No VIP specified; at least one is sensible")
        if i.strict_mode and i.state == "MASTER" and i.priority != 255:
            rep.error(NOWHERE, f"({name}) State MASTER must match being address owner")
            i = replace(i, state="BACKUP")
        i = _auth_checks(i, rep)
        strict_lines = _strict_lines(i, {c.kw for c in n.children})
        if i.strict_mode and i.use_vmac is not None and i.use_vmac.mac is not None:
            rep.error(NOWHERE, f"({name}): cannot specify MAC address with strict mode - clearing")
            i = replace(i, use_vmac=replace(i.use_vmac, mac=None))
        if i.strict_mode:
            if i.accept and i.version == 2 and i.priority != 255:
                rep.error(
                    NOWHERE,
                    f"({name}) warning - accept mode for VRRP version 2 does not comply with "
                    "RFC3768 - resetting",
                )
                i = replace(i, accept=False)
            i = replace(
                i,
                lower_prio_no_advert=True,
                higher_prio_send_advert=False,
                garp_lower_prio_repeat=0,
                garp_lower_prio_delay_s=0,
                owner_ignore_adverts=i.owner_ignore_adverts or i.priority == 255,
            )
            if i.accept is None:
                i = replace(i, accept=i.priority == 255)
        instance_checks(name, {c.kw for c in n.children}, bool(i.unicast_peers), i.use_vmac is not None, rep)
        if i.family == 6 and not i.unicast_peers and i.vips and not i.vips[0].address.is_link_local:
            if i.strict_mode:
                rep.error(NOWHERE, f"({name}) the first IPv6 VIP address must be link local")
            else:
                rep.log(NOWHERE, f"({name}) the first IPv6 VIP address should be link local")
        if i.unicast_peers and i.mcast_dst_ip is not None:
            rep.error(NOWHERE, f"({name}) multicast destination specified with unicast - ignoring")
            i = replace(i, mcast_dst_ip=None)
        i = _preempt_checks(i, rep)
        for line in strict_lines:
            rep.error(NOWHERE, line)
        if i.vmac_xmit_base and i.use_vmac is None:
            rep.error(NOWHERE, f"({name}) vmac_xmit_base is only valid with a vmac")
            i = replace(i, vmac_xmit_base=False)
        if no_vip:  # keepalived checks twice (a general error, then this warning) and logs both
            rep.error(NOWHERE, f"({name}) No VIP specified; at least one is sensible", ConfigErr.WARNING)
        if i.version == 2 and i.advert_int_us % 1_000_000:
            us = max(1, (i.advert_int_us + 500_000) // 1_000_000) * 1_000_000
            rep.error(NOWHERE, f"({name}) VRRPv2 advertisement interval {i.advert_int_us / 1e6:f}s "
                               "must be an integer. rounding")
            i = replace(i, advert_int_us=us)
        elif i.version == 3 and i.advert_int_us >= 40_960_000:  # 12 bits of centiseconds
            rep.error(NOWHERE, f"({name}) VRRPv3 advertisement interval {i.advert_int_us / 1e6:.2f}s "
                               "is out of range. Must be less than 40.96s. Setting to 40.95s")
            i = replace(i, advert_int_us=40_950_000)
        elif i.version == 3 and i.advert_int_us % 10_000:
            rep.error(NOWHERE, f"({name}) VRRPv3 advertisement interval {i.advert_int_us / 1e6:f}s "
                               "must be in units of 10ms - rounding")
            i = replace(i, advert_int_us=max(1, (i.advert_int_us + 5_000) // 10_000) * 10_000)
        if i.vmac_xmit_base and i.strict_mode:
            rep.error(NOWHERE, f"({name}) xmit_base is incompatible with strict mode - resetting")
            i = replace(i, vmac_xmit_base=False)
        return i

    # -- scripts, groups, named -----------------------------------------------------------------
    def _script(self, n: Node) -> None:
        name = str(n.value)
        ch = changes(VrrpScript)
        script: Script | None = None
        remove = user_set = False  # keepalived's remove_script / script_user_set
        for c in n.children:
            match c.kw:
                case "script":
                    script = script_of(c)
                case "interval" | "timeout":
                    us = int_of(c) * 1000
                    if us == 0:
                        self.rep.error(
                            c.loc, f"vrrp script {name} {c.kw} must be greater than 0 - setting to 1"
                        )
                        us = 1_000_000
                    if c.kw == "interval":
                        ch.set(interval_us=us)
                    else:
                        ch.set(timeout_us=us)
                case "weight":
                    w = _weight(c, -253, 253, f"vrrp_script {name}", self.rep)
                    if w is not None:
                        ch.set(weight=w[0], reverse=w[1])
                case "rise":
                    ch.set(rise=int_of(c))
                case "fall":
                    ch.set(fall=int_of(c))
                case "user":
                    user = words_of(c)
                    remove = not _user_exists(*user)
                    if remove:
                        argv = script_argv(script[0]) if script else []
                        self.rep.error(c.loc, f"Unable to set uid/gid for script {cmd_str(argv)}")
                    else:
                        ch.set(user=user)
                        user_set = True
                case "init_fail":
                    ch.set(init_fail=True)
        if script is None:
            self.rep.error(n.end, f"No script set for vrrp_script {name} - removing")
            return
        if remove:
            return
        if not user_set and self.default_user_fail:
            self.rep.error(n.end, f"Unable to set default user for vrrp script {name} - removing")
            return
        if (
            self.g.enable_script_security
            and not user_set
            and not self.g.script_user
            and not _user_exists("keepalived_script")
        ):
            self.rep.error(n.end, "Unable to set default user keepalived_script for script")
            self.default_user_fail = True  # looked up once: the next scripts only say "removing"
            self.rep.error(n.end, f"Unable to set default user for vrrp script {name} - removing")
            return
        ch.set(script=script, loc=n.loc)
        self.scripts.append(ch.make(name))

    def _sync_group_node(self, n: Node) -> None:
        name = str(n.value)
        members = tuple(w for c in n.all("group") for i in c.items for w in i.words)
        tracks: list[Track] = []
        notify: list[tuple[str, NotifyScript]] = []
        for c in n.children:
            if c.kw.startswith("track_"):
                lim = 254 if c.kw in ("track_file", "track_process") else 253
                tracks += [
                    t for it in c.items if (t := _track(c.kw[6:], it, -lim, lim, self.rep, name)) is not None
                ]
            elif c.kw.startswith("notify") and c.kw != "notify_priority_changes":
                notify.append((c.kw, _script(c.value)))
            elif c.kw == "global_tracking":
                self.rep.error(
                    c.loc,
                    f"({name}) global_tracking is deprecated. Use track_interface/script/file/bfd "
                    "on the sync group",
                    ConfigErr.DEPRECATED,
                )
        opts = options(
            n,
            {
                "group",
                "track_interface",
                "track_script",
                "track_file",
                "track_process",
                "track_bfd",
                "notify",
                "notify_master",
                "notify_backup",
                "notify_fault",
                "notify_stop",
            },
        )
        self.groups.append(SyncGroup(name, members, _canon_tracks(tracks), tuple(notify), opts, n.loc,
                                     **sync_group_fields(opts)))

    def _named(self, n: Node) -> None:
        name = str(n.value)
        if n.kw == "track_file":
            if n.get("file") is None:
                self.rep.error(n.end, f"No file set for track_file {name} - removing")
                return
            self.track_files.append(self._track_file(n, name))
            return
        if n.kw == "vrrp_track_process":
            if n.get("process") is None:
                self.rep.error(n.end, f"Process name not specified for track_process {name} - removing")
                return
            self.track_processes.append(self._track_process(n, name))
            return
        if n.kw == "track_group":
            opts: Options = (("group", tuple(w for c in n.all("group") for i in c.items for w in i.words)),)
        else:
            opts = options(n, set())
        if n.kw == "bfd_instance" and n.get("neighbor_ip") is None:
            self.rep.error(n.end, f"bfd_instance {n.value} has no neighbor_ip - removing")
            return
        members = tuple(str(m) for kw, v in opts if kw == "group" and isinstance(v, tuple) for m in v)
        self.named.append(Named(n.kw, name, opts, n.loc, bfd_defs(opts) if n.kw == "bfd_instance" else None,
                                members if n.kw == "track_group" else ()))

    def _track_file(self, n: Node, name: str) -> TrackFile:
        ch = changes(TrackFile)
        ch.set(loc=n.loc)
        for c in n.children:
            if c.kw == "file":
                ch.set(file=str_of(c))
            elif c.kw == "init_file":
                ch.set(init_file=words_of(c))
        w = _weight(n.get("weight"), -254, 254, f"track file {name}", self.rep)
        if w is not None:
            ch.set(weight=w[0], reverse=w[1])
        return ch.make(name)

    def _track_process(self, n: Node, name: str) -> TrackProcess:
        ch = changes(TrackProcess)
        ch.set(loc=n.loc)
        for c in n.children:
            match c.kw:
                case "process":
                    ch.set(process=words_of(c))
                case "quorum":
                    ch.set(quorum=int_of(c))
                case "quorum_max":
                    ch.set(quorum_max=int_of(c))
                case "full_command":
                    ch.set(full_command=bool_of(c))
                case "delay":
                    ch.set(fork_delay_us=int_of(c), terminate_delay_us=int_of(c))
                case "fork_delay":
                    ch.set(fork_delay_us=int_of(c))
                case "terminate_delay":
                    ch.set(terminate_delay_us=int_of(c))
                case "param_match":
                    words = words_of(c)
                    ch.set(param_match=words[0] if words else "exact")
        w = _weight(n.get("weight"), -254, 254, f"track process {name}", self.rep)
        if w is not None:
            ch.set(weight=w[0], reverse=w[1])
        return ch.make(name)

    # -- cross references -----------------------------------------------------------------------
    def _resolve(self) -> None:
        rep = self.rep
        scripts: dict[str, Loc] = {}
        for sc in self.scripts:
            scripts.setdefault(sc.name, sc.loc)
        named = {(x.kind, x.name) for x in self.named}
        named |= {("track_file", x.name) for x in self.track_files}
        named |= {("vrrp_track_process", x.name) for x in self.track_processes}
        by_name = {i.name: k for k, i in enumerate(self.instances)}
        # a bfd_instance naming only `checker` sends no events to VRRP: keepalived drops it there
        vrrp_bfds = {("bfd_instance", x.name) for x in self.named if x.kind == "bfd_instance"
                     and not (dict(x.options).get("checker") and not dict(x.options).get("vrrp"))}
        for k, inst in enumerate(self.instances):
            keep: list[Track] = []
            seen: set[tuple[str, str]] = set()
            for t in inst.tracks:
                if t.kind == "script" and (t.name not in scripts or _later(scripts[t.name], t.loc)):
                    rep.error(t.loc, f"({inst.name}) track script {t.name} not found, ignoring...")
                    continue
                if t.kind == "file" and ("track_file", t.name) not in named:
                    rep.error(t.loc, f"({inst.name}) track_file {t.name} not found, ignoring...")
                    continue
                if t.kind == "process" and ("vrrp_track_process", t.name) not in named:
                    rep.error(t.loc, f"({inst.name}) track_process {t.name} not found, ignoring...")
                    continue
                if t.kind == "bfd" and ("bfd_instance", t.name) not in vrrp_bfds:
                    rep.error(t.loc, f"({inst.name}) track bfd {t.name} not found, ignoring...")
                    continue
                if _duplicate_track(inst.name, t, seen, rep):
                    continue
                keep.append(t)
            if len(keep) != len(inst.tracks):
                self.instances[k] = replace(inst, tracks=tuple(keep))
        groups: list[SyncGroup] = []
        for g in self.groups:
            seen = set()
            gtracks = []
            for t in g.tracks:
                if t.kind == "bfd" and ("bfd_instance", t.name) not in vrrp_bfds:
                    rep.error(t.loc, f"({g.name}) track bfd {t.name} not found, ignoring...")
                elif not _duplicate_track(g.name, t, seen, rep):
                    gtracks.append(t)
            members = tuple(m for m in g.members if m in by_name)
            for m in g.members:
                if m not in by_name:
                    rep.error(
                        NOWHERE,
                        f"Virtual router {m} specified in sync group {g.name} doesn't exist - ignoring",
                    )
            if not members:  # no names at all, or none of an instance (vrrp_sync_set_group)
                rep.error(NOWHERE, f"Sync group {g.name} has no virtual router(s). removing" if not g.members
                          else f"Sync group {g.name}, no matching virtual router found in group declaration"
                          " - removing")
                continue
            if len(members) == 1:
                rep.error(
                    NOWHERE,
                    f"Sync group {g.name} has only 1 virtual router(s) - this probably isn't what you want",
                    ConfigErr.WARNING,
                )
            for m in members:
                self.instances[by_name[m]] = replace(self.instances[by_name[m]], sync_group=g.name)
            groups.append(replace(g, members=members, tracks=tuple(gtracks)))
        self.groups = groups
        self.rep.procs = frozenset({"checker"})
        self._resolve_bfd_checks()

    def _resolve_bfd_checks(self) -> None:
        """BFD_CHECK `name` must be a bfd_instance that reports to the checker (keepalived check_bfd.c)."""
        if not self.vss:
            return
        from pykeepalived.config.model_lvs import BfdCheck  # LVS only: see the header

        checker_bfds = {x.name for x in self.named if x.kind == "bfd_instance"
                        and not (dict(x.options).get("vrrp") and not dict(x.options).get("checker"))}
        for vi, vs in enumerate(self.vss):
            rss = []
            for rs in vs.real_servers:
                keep: list[Checker] = []
                seen: set[str] = set()
                for c in rs.checkers:
                    if isinstance(c, BfdCheck):
                        where = f"[{rs.address}]:{vs.protocol.lower()}:{rs.port or vs.port or 0}"
                        if c.name not in checker_bfds:
                            self.rep.error(c.loc, f"({where}) BFD_CHECK - BFD {c.name} not configured")
                            continue
                        if c.name in seen:
                            self.rep.error(c.loc, f"({where}) BFD_CHECK - RS already monitoring {c.name}")
                            continue
                        seen.add(c.name)
                    keep.append(c)
                rss.append(rs if len(keep) == len(rs.checkers) else replace(rs, checkers=tuple(keep)))
            if any(a is not b for a, b in zip(rss, vs.real_servers, strict=True)):
                self.vss[vi] = replace(vs, real_servers=tuple(rss))


class _InstanceDraft:
    """A vrrp_instance block being read: the instance's fields set so far (typed against VrrpInstance,
    the record made once when the block closes: one dataclasses.replace() per keyword would cost
    ~20 µs each), the lists the keywords build up and the state read across keywords."""

    def __init__(self, b: Builder, name: str) -> None:
        self.b, self.rep, self.name = b, b.rep, name
        self.ch = changes(VrrpInstance)
        self.opts: list[tuple[str, object]] = []
        self.tracks: list[Track] = []
        self.notify: list[tuple[str, NotifyScript]] = []
        self.vips: list[VipSpec] = []
        self.evips: list[VipSpec] = []
        self.seen_vips: set[IPAddr] = set()
        self.seen_evips: set[IPAddr] = set()
        self.state: str | None = None  # as the block sets them (None: not given), settled in close()
        self.priority: int | None = None
        self.version: int | None = None
        self.fam = _Family()

    def close(self, n: Node) -> VrrpInstance:
        """keepalived's defaults that depend on several keywords, then the instance."""
        ch, name = self.ch, self.name
        family = self.fam.family or 4
        if family == 6:
            if self.version == 2:
                self.rep.error(n.loc, f"({name}) cannot use IPv6 with VRRP version 2; setting version 3")
            self.version = 3
        if self.state == "MASTER" and self.priority is None:
            self.priority = 255
        elif self.priority == 255 and self.state is None:
            self.state = "MASTER"
        if self.version is not None:
            ch.set(version=self.version)
        if self.priority is not None:
            ch.set(priority=self.priority)
        ch.set(family=family, state=self.state, vips=tuple(self.vips), evips=tuple(self.evips),
               tracks=_canon_tracks(self.tracks), notify=tuple(self.notify), options=tuple(self.opts))
        return ch.make(name)


def _as_int(v: object) -> int:
    """An Int or Timer keyword's value."""
    return v if isinstance(v, int) else int(str(v))


def _words(c: Node) -> tuple[str, ...]:
    assert isinstance(c.value, tuple)
    return tuple(str(w) for w in c.value)


def _i_state(d: _InstanceDraft, c: Node) -> None:
    v = words_of(c)
    s = v[0] if v else ""
    if s not in ("MASTER", "BACKUP"):
        d.rep.error(c.loc, f"({d.name}) unknown state '{s}', defaulting to BACKUP")
        s = "BACKUP"
    if s == "BACKUP" and d.state == "MASTER":
        d.rep.error(c.loc, f"({d.name}) state previously set as MASTER - ignoring BACKUP")
    else:
        d.state = s


def _i_interface(d: _InstanceDraft, c: Node) -> None:
    d.ch.set(interface=str_of(c), interface_loc=c.loc)


def _i_priority(d: _InstanceDraft, c: Node) -> None:
    d.priority = int_of(c)


def _i_version(d: _InstanceDraft, c: Node) -> None:
    d.version = int_of(c)


def _i_vips(d: _InstanceDraft, c: Node) -> None:
    """virtual_ipaddress / virtual_ipaddress_excluded."""
    primary = c.kw == "virtual_ipaddress"
    target, seen = (d.vips, d.seen_vips) if primary else (d.evips, d.seen_evips)
    for it in c.items:
        vip = parse_vip(it.words, it.loc, d.rep)
        if vip is None:
            continue
        if primary and d.fam.get(vip.address.version) is not None:
            d.rep.error(it.loc,
                        f"({d.name}): address family must match VRRP instance [{it.words[0]}] - ignoring")
            continue
        if vip.address in seen:
            continue  # keepalived drops duplicates silently
        seen.add(vip.address)
        target.append(vip)


def _i_address(d: _InstanceDraft, c: Node) -> None:
    """unicast_src_ip / mcast_src_ip / mcast_dst_ip."""
    v = ip_of(c)
    if d.fam.get(v.version) is not None:
        d.rep.error(c.loc, d.fam.mismatch(d.name, c.kw, c.text or str(v)))  # keepalived: as written
    elif c.kw == "unicast_src_ip":
        d.ch.set(unicast_src_ip=v)
    elif c.kw == "mcast_src_ip":
        d.ch.set(mcast_src_ip=v)
    else:
        d.ch.set(mcast_dst_ip=v)


def _i_unicast_peer(d: _InstanceDraft, c: Node) -> None:
    rep = d.rep
    peers = []
    for it in c.items:
        a = sockaddr_ip(it.words[0])
        if a is None:
            rep.error(it.loc, f"Configuration error: VRRP instance[{d.name}] malformed unicast "
                              f"peer address[{it.words[0]}]. Skipping...")
            continue
        if d.fam.get(a.version) is not None:
            rep.error(it.loc, d.fam.mismatch(d.name, c.kw, it.words[0]))
            continue
        ttl: dict[str, int | None] = {"min_ttl": None, "max_ttl": None}
        w = it.words
        for k in range(1, len(w) - 1, 2):
            if w[k] in ttl:
                ttl[w[k]] = parse_int(w[k + 1], 0, 255, it.loc, rep)
        peers.append((a, ttl["min_ttl"], ttl["max_ttl"]))
    d.ch.set(unicast_peers=tuple(peers))


def _i_authentication(d: _InstanceDraft, c: Node) -> None:
    at = c.get("auth_type")
    ap = c.get("auth_pass")
    if at is not None:
        d.ch.set(auth_type=str_of(at))
    if ap is not None:
        pw = str(ap.value)
        raw = pw.encode("utf-8", "surrogateescape")
        if len(raw) > 8:  # bytes, as keepalived's strlen(): ab\u00a0cdefg is 9
            d.rep.error(ap.loc, "Truncating auth_pass to 8 characters")
            pw = raw[:8].decode("utf-8", "surrogateescape")
        d.ch.set(auth_pass=pw)


def _i_track(d: _InstanceDraft, c: Node) -> None:
    """track_interface / track_script / track_file / track_process / track_bfd."""
    lim = 254 if c.kw in ("track_file", "track_process") else 253
    for it in c.items:
        t = _track(c.kw[6:], it, -lim, lim, d.rep, d.name)
        if t is not None:
            d.tracks.append(t)


def _i_notify(d: _InstanceDraft, c: Node) -> None:
    if any(k == c.kw for k, _ in d.notify):
        first = c.value[0] if isinstance(c.value, tuple) and c.value else c.value
        d.rep.error(c.loc, f"({d.name}) {c.kw} script already specified - ignoring {first}")
        return
    d.notify.append((c.kw, _script(c.value)))


def _i_use_vmac(d: _InstanceDraft, c: Node) -> None:
    spec = vmac_spec(words_of(c))
    if spec.name is not None:  # keepalived vrrp_vmac_handler: a name an earlier instance has is ignored
        users = (i.name for i in d.b.instances if i.use_vmac is not None and i.use_vmac.name == spec.name)
        if (other := next(users, None)) is not None:
            d.rep.error(c.loc, f"({d.name}) VRRP instance {other} is already using {spec.name} - "
                               "ignoring name")
            spec = replace(spec, name=None)
    d.ch.set(use_vmac=spec)


def _i_garp_extra_if(d: _InstanceDraft, c: Node) -> None:
    d.opts.append((c.kw, garp_extra_words(words_of(c), c.spelt or c.kw, c.loc, d.rep, d.name)))


def _i_native_ipv6(d: _InstanceDraft, c: Node) -> None:
    if d.fam.get(6) is not None:
        d.rep.error(c.loc, f"({d.name}) Cannot specify native_ipv6 with IPv4 addresses")
        return
    d.opts.append((c.kw, c.value))


def _i_lvs_sync_daemon_interface(d: _InstanceDraft, c: Node) -> None:
    name = d.name
    d.rep.error(c.loc, f"({name}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.")
    # keepalived's "      %*s": a negative width pads on the left as much
    d.rep.error(c.loc, " " * (6 + abs(len(name) - 2)) + "Please use global lvs_sync_daemon")
    if (syncd := d.b._syncd_interface()) is not None:
        d.rep.error(c.loc, f"({name}) lvs_sync_daemon_interface has already been specified as "
                           f"{syncd} - ignoring")
        return
    d.opts.append((c.kw, c.value))


def _i_option(d: _InstanceDraft, c: Node) -> None:
    """Any other keyword: kept in `options`."""
    d.opts.append((c.kw, c.value if not c.items else tuple(i.words for i in c.items)))


_InstanceHandler = Callable[[_InstanceDraft, Node], None]
_INSTANCE_KW: dict[str, _InstanceHandler] = {
    "state": _i_state,
    "interface": _i_interface,
    "virtual_router_id": lambda d, c: d.ch.set(vrid=int_of(c)),
    "priority": _i_priority,
    "advert_int": lambda d, c: d.ch.set(advert_int_us=int_of(c)),
    "version": _i_version,
    "nopreempt": lambda d, c: d.ch.set(nopreempt=True),
    "preempt": lambda d, c: d.ch.set(nopreempt=False),
    "preempt_delay": lambda d, c: d.ch.set(preempt_delay_us=int_of(c)),
    "virtual_ipaddress": _i_vips,
    "virtual_ipaddress_excluded": _i_vips,
    "virtual_routes": lambda d, c: d.ch.set(virtual_routes=tuple(d.b._routes(c, False))),
    "virtual_rules": lambda d, c: d.ch.set(virtual_rules=tuple(d.b._rules(c, False))),
    **{k: _i_address for k in ("unicast_src_ip", "mcast_src_ip", "mcast_dst_ip")},
    "unicast_peer": _i_unicast_peer,
    "unicast_ttl": lambda d, c: d.ch.set(unicast_ttl=int_of(c)),
    "authentication": _i_authentication,
    **{f"track_{k}": _i_track for k in ("interface", "script", "file", "process", "bfd")},
    **{k: _i_notify for k in ("notify", "notify_master", "notify_backup", "notify_fault", "notify_stop",
                              "notify_deleted", "notify_master_rx_lower_pri")},
    "smtp_alert": lambda d, c: d.ch.set(smtp_alert=bool_of(c)),
    "strict_mode": lambda d, c: d.ch.set(strict_mode=bool_of(c)),
    "use_vmac": _i_use_vmac,
    "vmac_xmit_base": lambda d, c: d.ch.set(vmac_xmit_base=True),
    "use_vmac_addr": lambda d, c: d.ch.set(use_vmac_addr=True),
    "promote_secondaries": lambda d, c: d.ch.set(promote_secondaries=True),
    "linkbeat_use_polling": lambda d, c: d.ch.set(linkbeat_use_polling=True),
    "unicast_fault_no_peer": lambda d, c: d.ch.set(unicast_fault_no_peer=True),
    "track_src_ip": lambda d, c: d.ch.set(track_src_ip=True),
    "dont_track_primary": lambda d, c: d.ch.set(dont_track_primary=True),
    "check_unicast_src": lambda d, c: d.ch.set(check_unicast_src=True),
    "skip_check_adv_addr": lambda d, c: d.ch.set(skip_check_adv_addr=True),
    "old_unicast_checksum": lambda d, c: d.ch.set(old_unicast_checksum=True),
    "kernel_rx_buf_size": lambda d, c: d.ch.set(kernel_rx_buf_size=int_of(c)),
    "accept": lambda d, c: d.ch.set(accept=True),
    "no_accept": lambda d, c: d.ch.set(accept=False),
    "lower_prio_no_advert": lambda d, c: d.ch.set(lower_prio_no_advert=bool_of(c)),
    "higher_prio_send_advert": lambda d, c: d.ch.set(higher_prio_send_advert=bool_of(c)),
    "owner_ignore_adverts": lambda d, c: d.ch.set(owner_ignore_adverts=bool_of(c)),
    "v3_checksum_as_v2": lambda d, c: d.ch.set(v3_checksum_as_v2=bool_of(c)),
    "down_timer_adverts": lambda d, c: d.ch.set(down_timer_adverts=int_of(c)),
    "bgp_announce": lambda d, c: d.ch.set(bgp=bgp_announce(c, d.rep, d.name)),
    "garp_extra_if": _i_garp_extra_if,
    # the delays and refresh are in seconds (`_s` fields); a repeat of 0 is 1 (keepalived)
    "garp_master_delay": lambda d, c: d.ch.set(garp_master_delay_s=int_of(c)),
    "garp_master_repeat": lambda d, c: d.ch.set(garp_master_repeat=int_of(c) or 1),
    "garp_master_refresh": lambda d, c: d.ch.set(garp_master_refresh_s=int_of(c)),
    "garp_master_refresh_repeat": lambda d, c: d.ch.set(garp_master_refresh_repeat=int_of(c) or 1),
    "garp_lower_prio_delay": lambda d, c: d.ch.set(garp_lower_prio_delay_s=int_of(c)),
    "garp_lower_prio_repeat": lambda d, c: d.ch.set(garp_lower_prio_repeat=int_of(c)),
    "native_ipv6": _i_native_ipv6,
    "lvs_sync_daemon_interface": _i_lvs_sync_daemon_interface,
}


def _script(v: object) -> NotifyScript:
    """A notify keyword's (command, user, group); () for a bare `notify_deleted` (Script(optional))."""
    assert isinstance(v, tuple) and len(v) in (0, 3)
    return cast(NotifyScript, v)


_TRACK_ORDER = {"interface": 0, "script": 1, "file": 2, "process": 3, "bfd": 4}


def _duplicate_track(owner: str, t: Track, seen: set[tuple[str, str]], rep: Reporter) -> bool:
    """A second track_* entry for the same object is ignored, the first kept (vrrp_track.c alloc_track_*,
    track_file.c)."""
    if (t.kind, t.name) in seen:
        rep.error(t.loc, f"({owner}) duplicate track_{t.kind} {t.name} - ignoring")
        return True
    seen.add((t.kind, t.name))
    return False


def bgp_announce(n: Node, rep: Reporter, name: str) -> BgpAnnounce:
    """The bgp_announce block's typed value (defaults for what it leaves out)."""
    b = BgpAnnounce()
    for c in n.children:
        if c.kw == "mode" and c.value is not None:
            b = replace(b, mode=str(c.value))
        elif c.kw == "anchor" and c.value is not None:
            b = replace(b, anchor=str(c.value))
        elif c.kw == "backup_anchor" and c.value is not None:
            b = replace(b, backup_anchor=str(c.value))
        elif c.kw == "addresses":
            addrs = list(b.addresses)
            for it in c.items:
                a = sockaddr_ip(it.words[0]) if len(it.words) == 1 else None
                if a is None:
                    bad = " ".join(it.words)
                    rep.error(it.loc, f"({name}) bgp_announce: invalid address '{bad}' - ignoring")
                elif a not in addrs:
                    addrs.append(a)
            b = replace(b, addresses=tuple(addrs))
    if not b.addresses:
        rep.error(n.loc, f"({name}) bgp_announce without addresses - nothing will be announced")
    return b


def keyword_locs(n: Node) -> list[tuple[str, Loc]]:
    """(keyword, line) of a block's children and of their own children (authentication's auth_pass)."""
    return [(c.kw, c.loc) for c in n.children] + [(g.kw, g.loc) for c in n.children for g in c.children]


def _smtp_server_ok(host: str, port: str = "25") -> bool:
    """keepalived's smtp_server check: the port in 1-65535, the host an address or a name that
    resolves now (it calls getaddrinfo() while reading the file, as this does)."""
    if not (is_digits(port) and 1 <= int(port) <= 65535):
        return False
    if "-" not in host and "/" not in host and parse_ip(host) is not None:
        return True
    try:
        return bool(socket.getaddrinfo(host, None))
    except (OSError, UnicodeError):
        return False


def _later(defined: Loc, used: Loc) -> bool:
    """A block defined further down the same file than where it is used: keepalived looks names up
    while reading, so it is not found yet."""
    return defined.file == used.file and defined.line > used.line


def _canon_tracks(tracks: list[Track]) -> tuple[Track, ...]:
    return tuple(sorted(tracks, key=lambda t: _TRACK_ORDER[t.kind]))


def _user_exists(user: str, group: str | None = None) -> bool:
    try:
        resolve_user_group(user, group)
    except LookupError:
        return False
    return True


def build_model(root: Node, rep: Reporter) -> Model:
    set_iproute_dirs(*_iproute_dirs(root))  # before routes and rules look names up
    return Builder(rep).build(root)


def _iproute_dirs(root: Node) -> tuple[str | None, str | None]:
    found: dict[str, str] = {}
    for n in root.children:
        if n.kw == "global_defs":
            for c in n.children:
                if c.kw in ("iproute_etc_dir", "iproute_usr_dir") and isinstance(c.value, str):
                    found[c.kw] = c.value
    return found.get("iproute_etc_dir"), found.get("iproute_usr_dir")


__all__ = ["BOOL_WORDS", "IPAddr", "Loc", "build_model"]


def _auth_checks(i: VrrpInstance, rep: Reporter) -> VrrpInstance:
    """keepalived vrrp_complete_instance's authentication checks: the first that applies clears it."""
    name, t = i.name, i.auth_type
    if t is None:
        return i
    if i.strict_mode:
        msg = "Strict mode does not support authentication. Ignoring."
    elif i.version == 3:
        msg = "VRRP version 3 does not support authentication. Ignoring."
    elif not i.auth_pass:
        msg = "Authentication specified but no password given. Ignoring"
    elif t == "AH" and i.state == "MASTER" and i.priority != 255:
        rep.error(NOWHERE, f"({name}) Initial state master is incompatible with AH authentication - clearing")
        return replace(i, state="BACKUP")
    else:
        return i
    rep.error(NOWHERE, f"({name}) {msg}")
    return replace(i, auth_type=None, auth_pass="")


def _strict_lines(i: VrrpInstance, kws: set[str]) -> list[str]:
    """keepalived vrrp_complete_instance's lines for the instance's own garp_lower_prio_repeat /
    garp_lower_prio_delay / lower_prio_no_advert / higher_prio_send_advert that strict mode resets
    (global_defs' values are reset without a line), taken before the reset."""
    if not i.strict_mode:
        return []
    lines = [(i.garp_lower_prio_repeat, "Strict mode requires no repeat garps."),
             (i.garp_lower_prio_delay_s, "Strict mode requires no repeat garp delay."),
             (not i.lower_prio_no_advert, "Strict mode requires no lower priority advert."),
             (i.higher_prio_send_advert, "strict mode requires higher_prio_send_advert to be clear.")]
    kw = ("garp_lower_prio_repeat", "garp_lower_prio_delay", "lower_prio_no_advert",
          "higher_prio_send_advert")
    return [f"({i.name}) {line} resetting"
            for k, (bad, line) in zip(kw, lines, strict=True) if k in kws and bad]


def _preempt_checks(i: VrrpInstance, rep: Reporter) -> VrrpInstance:
    """keepalived vrrp_complete_instance's nopreempt / preempt_delay / down_timer_adverts checks, in
    its order."""
    name = i.name
    if i.priority == 255 and i.nopreempt:
        rep.error(NOWHERE, f"({name}) nopreempt is incompatible with priority 255. resetting nopreempt")
        i = replace(i, nopreempt=False)
    if i.state == "MASTER":
        if i.nopreempt:
            rep.error(NOWHERE, f"({name}) Warning - nopreempt will not work with initial state MASTER - "
                               "clearing")
            i = replace(i, nopreempt=False)
        if i.preempt_delay_us:
            rep.error(NOWHERE, f"({name}) Warning - preempt delay will not work with initial state MASTER - "
                               "clearing")
            i = replace(i, preempt_delay_us=0)
    if i.preempt_delay_us and i.strict_mode:
        rep.error(NOWHERE, f"({name}) preempt_delay is incompatible with strict mode - resetting")
        i = replace(i, preempt_delay_us=0)
    if i.preempt_delay_us and i.nopreempt:
        rep.error(NOWHERE, f"({name}) preempt_delay is incompatible with nopreempt mode - resetting")
        i = replace(i, preempt_delay_us=0)
    if i.down_timer_adverts != 3 and i.strict_mode:
        rep.error(NOWHERE, f"({name}) down_timer_adverts is incompatible with strict mode - resetting")
        i = replace(i, down_timer_adverts=3)
    return i
