"""keepalived.data as keepalived 2.2.7 writes it on SIGUSR1 (vrrp_data.c dump_data_vrrp): the global
definitions (global_data.c dump_global_data), static addresses/routes/rules, the VRRP topology (one
block per instance, dump_vrrp), the socket pool, sync groups, scripts, tracked files and processes.

Every section is a function of typed values: the configuration model, ProcConf (daemon/procconf.py),
the VRRP core's instance state, and what the daemon resolved (addresses, sockets, script commands,
tracker state), gathered by `VrrpDumpInput` (daemon/vrrp/status.py builds it from the VRRP child). Times
are wall-clock seconds; the core's monotonic µs are converted by the caller's `wall` function."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pykeepalived.config.command_words import cmd_str
from pykeepalived.config.lvs_globals import lvs_globals
from pykeepalived.daemon.addrmap import address_from_spec
from pykeepalived.daemon.dump_format import format_address, format_route, format_rule
from pykeepalived.daemon.dumpfiles import config_save_dir
from pykeepalived.daemon.log import log
from pykeepalived.daemon.procconf import (
    KEEPALIVED_RLIMIT_RTTIME,
    RLIMIT_RTTIME_DEFAULT,
    ChildSched,
    ProcConf,
    from_model,
)
from pykeepalived.daemon.trackers import ScriptResolver, fifo_spec
from pykeepalived.linux.iface import LinkFacts
from pykeepalived.lvs.globals import SyncdConfig
from pykeepalived.track.security import default_script_user
from pykeepalived.vrrp.effects import State
from pykeepalived.vrrp.params import AuthType, ChecksumMode, IPAddress

if TYPE_CHECKING:
    from pykeepalived.config.instance_setup import InstanceSetup
    from pykeepalived.config.model import Model, SyncGroup, Track
    from pykeepalived.linux.addresses import Address
    from pykeepalived.notify.scripts import NotifyScripts
    from pykeepalived.track.command import ScriptCommand
    from pykeepalived.track.file import FileTrackers
    from pykeepalived.track.process import ProcessSpec, ProcessTracker
    from pykeepalived.track.script import ScriptTracker
    from pykeepalived.vrrp.instance import VrrpInstance
    from pykeepalived.vrrp.params import InstanceParams, TrackWeight
    from pykeepalived.vrrp.sync_group import SyncGroup as CoreGroup

MCAST4, MCAST6 = "224.0.0.18", "ff02::12"
PARAMETER_UNSET = 2**32 - 1  # keepalived's UINT_MAX marker, printed with %u


def state_name(s: State) -> str:
    """keepalived vrrp_data.c get_state_str: STOP (any other) is `unknown`."""
    return "unknown" if s is State.STOP else s.word


def ctime_us(t: float) -> str:
    """keepalived ctime_us_r(): `Mon Dec  7 19:23:07.397999 2026` (local time)."""
    sec = int(t)
    usec = round((t - sec) * 1_000_000)
    if usec == 1_000_000:
        sec, usec = sec + 1, 0
    return time.strftime("%a %b %e %H:%M:%S", time.localtime(sec)) + f".{usec:06d}" + time.strftime(
        " %Y", time.localtime(sec))


def epoch_us(t: float) -> str:
    """`%ld.%6.6ld` of a timeval."""
    sec = int(t)
    usec = round((t - sec) * 1_000_000)
    if usec == 1_000_000:
        sec, usec = sec + 1, 0
    return f"{sec}.{usec:06d}"


def _yn(b: bool, yes: str = "true", no: str = "false") -> str:
    return yes if b else no


# ------------------------------------------------------------------ global definitions
def _sched_lines(label: str, s: ChildSched | None) -> list[str]:
    s = s or ChildSched()
    rlimit = s.rlimit_rttime
    if rlimit == RLIMIT_RTTIME_DEFAULT and not s.rt_priority:
        rlimit = KEEPALIVED_RLIMIT_RTTIME  # not applied without a realtime priority: keepalived's value
    out = [f" {label} process priority = {s.priority}", f" {label} don't swap = {_yn(s.no_swap)}",
           f" {label} realtime priority = {s.rt_priority}"]
    if s.cpus:
        out.append(f" {label} CPU Affinity = {' '.join(str(c) for c in s.cpus)}")
    out.append(f" {label} realtime limit = {rlimit}")
    return out


def _fifo_lines(label: str, words: tuple[str, ...] | None, script: ScriptCommand | None,
                ids: tuple[int, int]) -> list[str]:
    if not words:
        return []
    out = [f" {label} notify fifo = {words[0]}, uid:gid {ids[0]}:{ids[1]}"]
    if script is not None:
        out.append(f" {label} notify fifo script = {cmd_str(script.argv)}, uid:gid {_uid(script)}")
    return out


def _uid(cmd: ScriptCommand) -> str:
    return f"{os.geteuid() if cmd.uid is None else cmd.uid}:{os.getegid() if cmd.gid is None else cmd.gid}"


def _syncd_lines(sd: SyncdConfig | None, vrids: dict[str, int | None]) -> list[str]:
    """lvs_sync_daemon: the instance when this process has it (the VRRP child), else its name; the
    syncid defaults to the instance's VRID."""
    if sd is None:
        return []
    out = []
    if sd.instance is not None:
        out.append(f" LVS syncd vrrp {'instance' if sd.instance in vrids else 'name'} = {sd.instance}")
    syncid = sd.syncid if sd.syncid is not None else vrids.get(sd.instance or "") or 0
    out += [f" LVS syncd interface = {sd.ifname}", f" LVS syncd syncid = {syncid}"]
    if sd.maxlen:
        out.append(f" LVS syncd maxlen = {sd.maxlen}")
    if sd.group:
        out.append(f" LVS mcast group {sd.group}")
    if sd.port:
        out.append(f" LVS syncd mcast port = {sd.port}")
    if sd.ttl:
        out.append(f" LVS syncd mcast ttl = {sd.ttl}")
    return out


@dataclass(frozen=True, slots=True)
class GlobalInput:
    """What dump_global_data prints beyond the model and the process settings."""

    model: Model
    proc: ProcConf
    prog: str = "vrrp"  # "vrrp" | "bfd" | "parent": `Default interface` only in the VRRP child
    default_uid_gid: tuple[int, int] | None = (0, 0)  # None: no default script user
    startup: ScriptCommand | None = None
    shutdown: ScriptCommand | None = None
    fifo_scripts: dict[str, ScriptCommand | None] = field(default_factory=dict)  # "", "vrrp", "lvs"
    fifo_ids: dict[str, tuple[int, int]] = field(default_factory=dict)
    config_save_dir: str | None = None
    nft_table: str | None = None  # the VRRP firewall's table (`keepalived` chosen for no_accept/use_vmac)
    hostname: str = field(default_factory=socket.gethostname)


def _quiet(_msg: str) -> None:
    pass


def dump_proc(model: Model, namespace: str | None = None, umask: int | None = None) -> ProcConf:
    """The process settings as the dump shows them: from the model, `-s` and `-u` applied (without
    from_model's "Overriding config net_namespace" line, logged once at start)."""
    pc = from_model(model)
    if namespace:
        pc.net_namespace = namespace
    if umask is not None:
        pc.umask = umask
    return pc


def uses_default_user(model: Model, prog: str = "vrrp") -> bool:
    """Whether the process resolved the default script user when it read the configuration (one of
    its scripts has no user of its own: the parent's startup/shutdown scripts, the VRRP child's
    vrrp_scripts, notify and FIFO scripts). keepalived looks it up once per process and configuration
    (lib/notify.c get_default_script_user), logging `Script user 'keepalived_script' does not exist`
    then; a process that had no such script looks it up, and logs, at its first dump."""
    g = model.global_defs
    if prog == "parent":
        starts = (g.process.startup_script, g.process.shutdown_script)
        return any(s is not None and s[0] and not s[1] for s in starts)
    scripts = [s for i in model.vrrp_instances for _, s in i.notify]
    scripts += [s for grp in model.sync_groups for _, s in grp.notify]
    scripts += [s for s in (g.notify_fifo_script, g.vrrp_notify_fifo_script) if s is not None]
    return (any(s.script is not None and not s.user for s in model.vrrp_scripts)
            or any(s and s[0] and not s[1] for s in scripts))


def global_input(model: Model, proc: ProcConf, prog: str, nft_table: str | None = None,
                 log_user: bool = False) -> GlobalInput:
    """What dump_global_data needs beyond the model: the default script user (`log_user`: log a
    missing one, see uses_default_user), startup/shutdown and FIFO script commands, resolved quietly
    (their problems were logged at start)."""
    g = model.global_defs
    resolver = ScriptResolver(model, report=_quiet)
    user = default_script_user(g.script_user[0] if g.script_user else None,
                               g.script_user[1] if len(g.script_user) > 1 else None,
                               g.enable_script_security, log.info if log_user else _quiet)

    def script(s: tuple[str, str, str] | None) -> ScriptCommand | None:
        return resolver.notify_command(s) if s is not None and s[0] else None

    fifos = {key: fifo_spec(words, sc, resolver) for key, words, sc in (
        ("", g.notify_fifo, g.notify_fifo_script),
        ("vrrp", g.vrrp_notify_fifo, g.vrrp_notify_fifo_script),
        ("lvs", g.lvs_notify_fifo, g.lvs_notify_fifo_script))}
    me = (os.geteuid(), os.getegid())
    return GlobalInput(
        model, proc, prog, (user.uid, user.gid) if user.ok else None,
        script(g.process.startup_script), script(g.process.shutdown_script),
        {k: f.script for k, f in fifos.items() if f is not None},
        {k: (me[0] if f.uid is None else f.uid, me[1] if f.gid is None else f.gid)
         for k, f in fifos.items() if f is not None},
        config_save_dir(model), nft_table)


def global_definitions(g_in: GlobalInput) -> list[str]:
    g = g_in.model.global_defs
    pc = g_in.proc
    host = g_in.hostname
    out = ["------< Global definitions >------"]
    if g_in.config_save_dir:
        out.append(f" Config save dir = {g_in.config_save_dir}")
    out.append(f" Network namespace = {pc.net_namespace or '(default)'}")
    ipvs = pc.net_namespace_ipvs
    out.append(f" Network namespace ipvs = {'(main namespace)' if ipvs is None else ipvs or '(default)'}")
    if pc.instance:
        out.append(f" Instance name = {pc.instance}")
    if pc.process_name:
        out.append(f" Parent process name = {pc.process_name}")
    for role, label in (("vrrp", "VRRP"), ("checker", "LVS"), ("bfd", "BFD")):
        if pc.names.get(role):
            out.append(f" {label} process name = {pc.names[role]}")
    out.append(f" Router ID = {g.router_id or host}")
    if g.smtp_server:
        port = g.smtp_server[1] if len(g.smtp_server) > 1 else "25"
        out += [f" Smtp server = {g.smtp_server[0]}", f" Smtp server port = {port}",
                f" Smtp HELO name = {g.smtp_helo_name or host}",
                f" Smtp server connection timeout = {g.smtp_connect_timeout}"]
    elif g.smtp_helo_name:
        out.append(f" Smtp HELO name = {g.smtp_helo_name}")
    if g.notification_email_from:
        out += [f" Email notification from = {g.notification_email_from}", " Email notification to:"]
        out += [f"   {e}" for e in g.notification_email]

    def tri(v: bool | None) -> str:
        return "unset" if v is None else _yn(v, "on", "off")

    out += [f" Default smtp_alert = {tri(g.smtp_alert)}",
            f" Default smtp_alert_vrrp = {tri(g.smtp_alert_vrrp)}",
            f" Default smtp_alert_checker = {tri(g.smtp_alert_checker)}",
            f" Checkers log all failures = {_yn(bool(g.checker_log_all_failures))}"]
    if pc.reload_check_config is not None:
        out.append(f" Test config before reload, log to {pc.reload_check_config}")
    else:
        out.append(" No test config before reload")
    r = g.reload
    if r.reload_time_file:
        out += [f" Reload time file = {r.reload_time_file}", " No reload scheduled"]
    if r.reload_file is not None:
        out.append(f" Reload_file = {r.reload_file[0] if r.reload_file else '/run/keepalived.reload'}")
    if r.tmp_config_directory:
        out.append(f" config save directory = {r.tmp_config_directory}")
    if g.dump_files.data_use_instance:
        out.append(" Use instance name in data dumps")
    if g_in.startup is not None and pc.startup is not None:
        out.append(f" Startup script = {cmd_str(g_in.startup.argv)}, uid:gid {_uid(g_in.startup)}, "
                   f"timeout {pc.startup.timeout}")
    if g_in.shutdown is not None and pc.shutdown is not None:
        out.append(f" Shutdown script = {cmd_str(g_in.shutdown.argv)}, uid:gid {_uid(g_in.shutdown)} "
                   f"timeout {pc.shutdown.timeout}")
    out.append(f" Dynamic interfaces = {_yn(g.dynamic_interfaces)}")
    if g.dynamic_interfaces:
        out.append(f" Allow interface changes = {_yn(g.allow_if_changes)}")
    if g.no_email_faults:
        out.append(" Send emails for fault transitions = off")
    lvs = lvs_globals(g_in.model)
    t = lvs.timeouts
    for value, label in ((t.tcp, "TCP"), (t.tcpfin, "TCP FIN"), (t.udp, "TCP")):  # sic: keepalived's udp
        if value:
            out.append(f" LVS {label} timeout = {value}")
    if g_in.prog == "vrrp":
        out.append(f" Default interface = {g.default_interface}")
    out.append(f" Disable local IGMP = {_yn(pc.disable_local_igmp, 'yes', 'no')}")
    vrids = {i.name: i.vrid for i in g_in.model.vrrp_instances} if g_in.prog == "vrrp" else {}
    out += _syncd_lines(lvs.syncd, vrids)
    out.append(f" LVS flush = {_yn(lvs.flush)}")
    out.append(f" LVS flush on stop = {lvs.flush_on_stop or 'disabled'}")
    for key, label, words in (("", "Global", g.notify_fifo), ("vrrp", "VRRP", g.vrrp_notify_fifo),
                              ("lvs", "LVS", g.lvs_notify_fifo)):
        out += _fifo_lines(label, words, g_in.fifo_scripts.get(key), g_in.fifo_ids.get(key, (0, 0)))
    out.append(f" FIFO write vrrp states on reload = {_yn(g.fifo_write_vrrp_states_on_reload)}")
    out.append(f" VRRP notify priority changes = {_yn(g.vrrp_notify_priority_changes)}")
    out.append(f" VRRP IPv4 mcast group = {g.vrrp_mcast_group4 or MCAST4}")
    out.append(f" VRRP IPv6 mcast group = {g.vrrp_mcast_group6 or MCAST6}")
    lp_delay, lp_rep = g.vrrp_garp_lower_prio_delay, g.vrrp_garp_lower_prio_repeat
    if g_in.prog == "vrrp":  # the VRRP child resolves the defaults; the others show PARAMETER_UNSET
        lp_delay = g.vrrp_garp_master_delay if lp_delay is None else lp_delay
        lp_rep = g.vrrp_garp_master_repeat if lp_rep is None else lp_rep
    out += [f" Gratuitous ARP delay = {g.vrrp_garp_master_delay}",
            f" Gratuitous ARP repeat = {g.vrrp_garp_master_repeat}",
            f" Gratuitous ARP refresh timer = {g.vrrp_garp_master_refresh}",
            f" Gratuitous ARP refresh repeat = {g.vrrp_garp_master_refresh_repeat}",
            f" Gratuitous ARP lower priority delay = {PARAMETER_UNSET if lp_delay is None else lp_delay}",
            f" Gratuitous ARP lower priority repeat = {PARAMETER_UNSET if lp_rep is None else lp_rep}",
            f" Num adverts before down = {g.vrrp_down_timer_adverts}"]
    interval, all_if = g.garp_extra_if
    out.append(f" Gratuitous ARP for each secondary {'i/f' if all_if else 'VMAC'} = {interval}s")
    out += [f" Send advert after receive lower priority advert = {_yn(not g.vrrp_lower_prio_no_advert)}",
            f" Send advert after receive higher priority advert = {_yn(g.vrrp_higher_prio_send_advert)}",
            f" Gratuitous ARP interval = {g.vrrp_garp_interval_us / 1e6:f}",
            f" Gratuitous NA interval = {g.vrrp_gna_interval_us / 1e6:f}",
            f" VRRP default protocol version = {g.vrrp_version}"]
    table = g_in.nft_table or g.nftables
    if table:
        dont = "" if g.nftables_ifindex else "don't "
        out += [f" nftables table name = {table}",
                f" nftables base chain priority = {g.nftables_priority}",
                f" nftables {dont}force use ifindex for link local IPv6"]
    out.append(f" nftables with{'' if g.nftables_counters else 'out'} counters")
    out += [f" VRRP check unicast_src = {_yn(g.vrrp_check_unicast_src)}",
            f" VRRP skip check advert addresses = {_yn(g.vrrp_skip_check_adv_addr)}",
            f" VRRP strict mode = {_yn(g.vrrp_strict)}"]
    map_ = g.max_auto_priority
    out.append(" Max auto priority = " + ("Disabled" if map_ == -1 else str(map_ or 0)))
    out.append(f" Min auto priority delay = {g.min_auto_priority_delay_us or 1_000_000} usecs")
    out += _sched_lines("VRRP", pc.sched.get("vrrp"))
    out += _sched_lines("Checker", pc.sched.get("checker"))
    out += _sched_lines("BFD", pc.sched.get("bfd"))
    out += _snmp_scripts_buffers(g_in)
    out.append(f" umask = 0{pc.umask:o}")
    if g.vrrp_startup_delay_us:
        out.append(f" vrrp_startup_delay = {g.vrrp_startup_delay_us / 1e6:g}")
    if g.log_unknown_vrids:
        out.append(" log_unknown_vrids")
    if g.vmac_prefix:
        out.append(f" VMAC prefix = {g.vmac_prefix}")
    if g.vmac_addr_prefix:
        out.append(f" VMAC address prefix = {g.vmac_addr_prefix}")
    try:
        rt = os.sched_getparam(0).sched_priority
    except OSError:
        rt = 0
    if rt:
        out.append(f" current realtime priority = {rt}")
    return out


def _snmp_scripts_buffers(g_in: GlobalInput) -> list[str]:
    """The SNMP, DBus, script security, netlink and receive buffer lines of the global dump."""
    g = g_in.model.global_defs
    snmp = g.snmp
    out: list[str] = []
    # enable_snmp_rfc: both RFC MIBs (keepalived snmp_rfc_handler)
    for on, label in ((snmp.vrrp, "vrrp"), (snmp.checker, "checker"), (snmp.rfc or snmp.rfcv2, "RFCv2"),
                      (snmp.rfc or snmp.rfcv3, "RFCv3"), (snmp.traps, "traps")):
        out.append(f" SNMP {label} {_yn(on, 'enabled', 'disabled')}")
    out.append(f" SNMP socket = {snmp.socket or 'default (unix:/var/agentx/master)'}")
    out.append(f" DBus {_yn(g.dbus.enabled, 'enabled', 'disabled')}")
    out.append(f" DBus service name = {g.dbus.service_name or ''}")
    out.append(f" Script security {_yn(g.enable_script_security, 'enabled', 'disabled')}")
    if g_in.default_uid_gid is not None:
        out.append(f" Default script uid:gid {g_in.default_uid_gid[0]}:{g_in.default_uid_gid[1]}")
    b = g.rcv_bufs
    netlink = {"vrrp_netlink_cmd": b.vrrp_netlink_cmd, "vrrp_netlink_monitor": b.vrrp_netlink_monitor,
               "process_monitor": b.process_monitor, "lvs_netlink_cmd": b.lvs_netlink_cmd,
               "lvs_netlink_monitor": b.lvs_netlink_monitor}
    for name, bufs in netlink.items():
        size, force = bufs or (0, False)
        out += [f" {name}_rcv_bufs = {size}", f" {name}_rcv_bufs_force = {int(force)}"]
    out += [f" rs_init_notifies = {int(bool(g.rs_init_notifies))}",
            f" no_checker_emails = {int(bool(g.no_checker_emails))}"]
    policy, size, mult = b.rx_bufs_policy
    if policy is not None:
        out.append(f" rx_bufs_size = {size}" if policy == "SIZE" else f" rx_bufs_policy = {policy}")
    out.append(f" rx_bufs_multiples = {mult}")
    return out


# ------------------------------------------------------------------ VRRP topology
@dataclass(slots=True)
class InstanceInput:
    """One vrrp_instance as the VRRP child runs it."""

    setup: InstanceSetup
    params: InstanceParams
    inst: VrrpInstance
    addresses: dict[IPAddress, Address]  # VIPs and eVIPs as installed (daemon/addrmap.py)
    ifname: str | None  # the interface adverts use (a VMAC's name with use_vmac)
    base_ifname: str | None  # the configured interface
    ifindex: int
    vmac_up: bool = False
    fds: tuple[int, int] | None = None
    scripts: NotifyScripts | None = None
    not_set: frozenset[object] = frozenset()  # addresses the kernel refused (no ` set`)
    wantstate: State | None = None  # as keepalived shows it (daemon/vrrp/status.py), else the core's


def _track_line(name: str, t: TrackWeight | None, comma: bool) -> str:
    weight, rev = (t.weight, t.reverse) if t is not None else (0, False)
    return f"     {name}{',' if comma else ''} weight {weight}{' reverse' if rev else ''}"


_TRACK_HEADS = (("interface", "   Tracked interfaces :", False), ("script", "   Tracked scripts :", False),
                ("file", "   Tracked files :", True), ("process", "   Tracked processes :", True))


def _tracks(conf_tracks: Iterable[Track], resolved: Iterable[TrackWeight], own_if: str | None) -> list[str]:
    """The instance's (or group's) own track_* lists with the weights in use."""
    weights = {(t.kind, t.name): t for t in resolved}
    out = []
    for kind, head, comma in _TRACK_HEADS:
        # keepalived drops a track_interface on the instance's own interface, and duplicates
        names = list(dict.fromkeys(t.name for t in conf_tracks
                                   if t.kind == kind and not (kind == "interface" and t.name == own_if)))
        if not names:
            continue
        out.append(head)
        out += [_track_line(n, weights.get((kind, n)), comma) for n in names]
    bfds = list(dict.fromkeys(t.name for t in conf_tracks if t.kind == "bfd"))
    if bfds:
        out.append("   Tracked BFDs :")
        for n in bfds:
            t = weights.get(("bfd", n))
            w, rev = (t.weight, t.reverse) if t is not None else (0, False)
            out.append(f"     {n}: weight {w}{' reverse' if rev else ''}")
    return out


_NOTIFY_ORDER = (("backup", "Backup"), ("master", "Master"), ("fault", "Fault"), ("stop", "Stop"),
                 ("deleted", "Deleted"), ("notify", "Generic"),
                 ("master_rx_lower_pri", "Master rx lower pri"))


def notify_lines(sc: NotifyScripts | None, order: Iterable[tuple[str, str]] = _NOTIFY_ORDER) -> list[str]:
    out = []
    for attr, label in order:
        cmd = getattr(sc, attr, None) if sc is not None else None
        if cmd is not None:
            out.append(f"   {label} state transition script = {cmd_str(cmd.argv)}, uid:gid {_uid(cmd)}")
    return out


def _flags(c: InstanceSetup, p: InstanceParams) -> list[str] | None:
    """The `Flags:` block: None when no flag at all is set (`Flags: none`)."""
    any_flag = any((
        p.is_unicast, c.unicast_fault_no_peer, p.dont_track_primary, p.skip_check_adv_addr,
        c.src_ip_configured, c.track_src_ip, p.check_unicast_src, c.promote_secondaries, p.nopreempt,
        c.use_vmac is not None, c.linkbeat_use_polling, c.garp_extra_if_all,
        any(v.address.version != p.family for v in c.evips),
    ))
    if not any_flag:
        return None
    out = []
    if p.is_unicast:
        out.append("     Using unicast")
    if c.unicast_fault_no_peer:
        out.append("     If unicast go to fault state if no peers")
    return out


def _scripts_init(p: InstanceParams, inst: VrrpInstance) -> int:
    """keepalived num_script_init: unweighted track scripts without a first result yet."""
    values = inst.tracking.values
    return sum(1 for t in p.tracks
               if t.kind == "script" and not t.weight and values.get(("script", t.name)) is None)


def instance_lines(i: InstanceInput, wall: Callable[[int], float], last_transition: float) -> list[str]:
    c, p, inst = i.setup, i.params, i.inst
    out = [f" VRRP Instance = {p.name}", f"   VRRP Version = {p.version}"]
    if p.sync_group:
        out.append(f"   Sync group = {p.sync_group}")
    if p.family == 6:
        out.append("   Using Native IPv6")
    out.append(f"   State = {state_name(inst.state)}")
    if inst.state is State.BACKUP:
        out.append(f"   Master router = {inst.master_saddr if inst.master_saddr is not None else ''}")
        out.append(f"   Master priority = {inst.master_priority}")
        if p.version == 3:
            out.append(f"   Master advert int = {inst.master_adver_int_us / 1e6:.2f} sec")
    flags = _flags(c, p)
    out += ["   Flags: none"] if flags is None else ["   Flags:", *flags]
    total, faults = inst.tracking.evaluate()
    out += [f"   Wantstate = {state_name(i.wantstate or inst.wantstate)}",
            f"   Number of config faults = {int(p.config_fault)}",
            f"   Number of interface and track script faults = "
            f"{len([f for f in faults if f not in ('config', 'address', 'socket')])}",
            f"   Number of track scripts init = {_scripts_init(p, inst)}",
            f"   Last transition = {epoch_us(last_transition)} ({ctime_us(last_transition)})"]
    if inst.sands is None:
        out.append("   Read timeout = DISABLED")
    else:
        t = wall(inst.sands)
        out.append(f"   Read timeout = {epoch_us(t)} ({ctime_us(t)})")
    out.append(f"   Master down timer = {inst.ms_down_timer} usecs")
    if c.use_vmac is not None:
        xmit = c.vmac_xmit_base
        out.append(f"   Use VMAC, i/f name {i.ifname}, is_up = {_yn(i.vmac_up)}, xmit_base = {_yn(xmit)}")
        out.append(f"   Interface = {i.ifname}, vmac on {i.base_ifname}{', xmit base i/f' if xmit else ''}")
    else:
        out.append(f"   Interface = {i.ifname or 'not configured'}")
    if p.dont_track_primary:
        out.append("   VRRP interface tracking disabled")
    if p.skip_check_adv_addr:
        out.append("   Skip checking advert IP addresses")
    if p.strict:
        out.append("   Enforcing strict VRRP compliance")
    out.append(f"   Using src_ip = {inst.own_src if inst.own_src is not None else '(none)'}"
               f"{' (from configuration)' if c.src_ip_configured else ''}")
    if not p.is_unicast:
        group = p.mcast_group or (MCAST4 if p.family == 4 else MCAST6)
        out.append(f"   Multicast address {group}" + (f", ifindex {i.ifindex}" if p.family == 6 else ""))
    out += [f"   Gratuitous ARP delay = {p.garp_master_delay_us // 1_000_000}",
            f"   Gratuitous ARP repeat = {p.garp_master_repeat}",
            f"   Gratuitous ARP refresh = {p.garp_master_refresh_us // 1_000_000}",
            f"   Gratuitous ARP refresh repeat = {p.garp_master_refresh_repeat}",
            f"   Gratuitous ARP lower priority delay = {p.garp_lower_prio_delay_us // 1_000_000}",
            f"   Gratuitous ARP lower priority repeat = {p.garp_lower_prio_repeat}",
            f"   Down timer adverts = {p.down_timer_adverts}"]
    if p.garp_extra_if_us:
        out.append(f"   Gratuitous ARP for each secondary {'i/f' if c.garp_extra_if_all else 'VMAC'} = "
                   f"{p.garp_extra_if_us // 1_000_000}")
    out += [f"   Send advert after receive lower priority advert = {_yn(not p.lower_prio_no_advert)}",
            f"   Send advert after receive higher priority advert = {_yn(p.higher_prio_send_advert)}",
            f"   Virtual Router ID = {p.vrid}", f"   Priority = {p.base_priority}",
            f"   Effective priority = {inst.effective_priority}", f"   Total priority = {total}"]
    if p.version == 2:
        out.append(f"   Advert interval = {p.adver_int_us // 1_000_000} sec")
    else:
        out.append(f"   Advert interval = {p.adver_int_us // 1000} milli-sec")
    if inst.state is State.BACKUP and p.version == 3:
        out.append(f"   Master advert interval = {inst.master_adver_int_us // 1000} milli-sec")
    out.append(f"   Accept = {_yn(accept_mode(c, p), 'enabled', 'disabled')}")
    out.append(f"   Preempt = {_yn(p.nopreempt, 'disabled', 'enabled')}")
    if p.preempt_delay_us:
        out.append(f"   Preempt delay = {p.preempt_delay_us / 1e6:g} secs")
    out.append(f"   Promote_secondaries = {_yn(c.promote_secondaries, 'enabled', 'disabled')}")
    if p.auth_type is not AuthType.NONE:
        kind = "IPSEC_AH" if p.auth_type is AuthType.AH else "SIMPLE_PASSWORD"
        out.append(f"   Authentication type = {kind}")
        if p.auth_type is AuthType.PASS:
            out.append(f"   Password = {auth_text(p.auth_pass)}")
    elif p.version == 2:
        out.append("   Authentication type = none")
    if c.kernel_rx_buf_size:
        out.append(f"   Kernel rx buffer size = {c.kernel_rx_buf_size}")
    vips = [s for s in c.vips if s.address in i.addresses]
    if vips:
        out.append(f"   Virtual IP ({len(vips)}):")
        out += [f"     {_addr(i, s.address, inst.vipset)}" for s in vips]
    evips = [s for s in c.evips if s.address in i.addresses]
    if evips:
        out.append("   Virtual IP Excluded :")
        out += [f"     {_addr(i, s.address, inst.vipset)}" for s in evips]
    if p.is_unicast:
        out += [f"   Unicast TTL = {p.unicast_ttl}",
                f"   Check unicast src : {_yn(p.check_unicast_src, 'yes', 'no')}", "   Unicast Peer :"]
        out += [f"     {u.address} min_ttl {u.min_ttl or 0} max_ttl {255 if u.max_ttl is None else u.max_ttl}"
                for u in p.unicast_peers]
        out.append(f"   Unicast checksum compatibility = {checksum_compat(p)}")
    out.append(f"   fd_in {i.fds[0]}, fd_out {i.fds[1]}" if i.fds else "   No sockets allocated")
    out += _listed("   Virtual Routes :", [format_route(r) for r in c.virtual_routes])
    out += _listed("   Virtual Rules :", [format_rule(r) for r in c.virtual_rules])
    out += _tracks(c.tracks, p.tracks, p.interface)
    sc = i.scripts
    out.append(f"   Using smtp notification = {_yn(bool(sc and sc.smtp_alert), 'yes', 'no')}")
    out.append(f"   Notify deleted = {_yn(bool(sc and sc.notify_deleted), 'Deleted', 'Fault')}")
    out += notify_lines(sc)
    out.append(f"   Notify priority changes = {_yn(inst.notify_priority_changes)}")
    return out


def _addr(i: InstanceInput, key: IPAddress, is_set: bool) -> str:
    a = i.addresses[key]
    base = i.base_ifname if i.setup.use_vmac is not None and a.dev == i.ifname else None
    return format_address(a, is_set and key not in i.not_set, base)


def address_texts(i: InstanceInput, excluded: bool) -> list[str]:
    """The VIPs (or eVIPs) as keepalived.json lists them."""
    specs = i.setup.evips if excluded else i.setup.vips
    return [_addr(i, s.address, i.inst.vipset) for s in specs if s.address in i.addresses]


def accept_mode(c: InstanceSetup, p: InstanceParams) -> bool:
    """keepalived's vrrp->accept: `accept` / `no_accept`, else off in strict mode (which needs the
    firewall), on otherwise."""
    return c.accept if c.accept is not None else not p.strict


def auth_text(pw: bytes) -> str:
    """auth_data as a C string: up to the first NUL of its 8 bytes."""
    return pw.split(b"\0", 1)[0].decode("latin-1")


def checksum_compat(p: InstanceParams) -> str:
    if p.checksum_mode is ChecksumMode.OLD_UNICAST:
        return "config"
    return "no" if p.old_unicast_checksum_auto else "never"


# ------------------------------------------------------------------ sockpool, groups, scripts, trackers
@dataclass(frozen=True, slots=True)
class SockInput:
    ifname: str
    family: int
    proto: int
    unicast_src: object | None
    fds: tuple[int, int]
    rx_buf: int
    members: tuple[tuple[str, int], ...]  # (iname, vrid) by VRID


def sockpool_lines(socks: Iterable[SockInput]) -> list[str]:
    out = []
    for s in socks:
        out += [f" fd_in {s.fds[0]} fd_out = {s.fds[1]}", f"   Interface = {s.ifname}",
                f"   Family = {'IPv4' if s.family == 4 else 'IPv6'}",
                f"   Protocol = {'AH' if s.proto == 51 else 'VRRP' if s.proto == 112 else 'unknown'}",
                f"   Type = {'Un' if s.unicast_src is not None else 'Mult'}icast"]
        if s.unicast_src is not None:
            out.append(f"   Address = {s.unicast_src}")
        out += [f"   Rx buf size = {s.rx_buf}", "   VRRP instances"]
        out += [f"     {n} vrid {v}" for n, v in sorted(s.members, key=lambda m: m[1])]
    return out


def sync_group_lines(conf: SyncGroup, core: CoreGroup, resolved: Iterable[TrackWeight],
                     sc: NotifyScripts | None) -> list[str]:
    out = [f" VRRP Sync Group = {conf.name}, {state_name(core.state)}",
           f"   Num member fault {core.num_member_fault}, num member init {core.num_member_init}"]
    if core.members:
        out.append("   VRRP member instances :")
        out += [f"     {m.name}" for m in core.members]
    if conf.track_weight:
        out.append("   sync group tracking weight set")
    out.append(f"   Using smtp notification = {_yn(bool(sc and sc.smtp_alert), 'yes', 'no')}")
    if conf.notify_priority_changes is not None:
        out.append(f"   Notify priority changes = {_yn(conf.notify_priority_changes, 'yes', 'no')}")
    lines = _tracks(conf.tracks, resolved, None)
    out += [x.replace("   Tracked processes :", "   Tracked process :") for x in lines]
    out += notify_lines(sc, (("backup", "Backup"), ("master", "Master"), ("fault", "Fault"), ("stop", "Stop"),
                             ("notify", "Generic")))
    return out


def tracking_lines(users: Iterable[tuple[str, TrackWeight]]) -> list[str]:
    """dump_tracking_obj_list(..., dump_tracking_vrrp): `   Tracking instances :` and one line each."""
    rows = [f"     {n}, weight {t.weight}{' reverse' if t.reverse else ''}" for n, t in users]
    return ["   Tracking instances :", *rows] if rows else []


def users_of(kind: str, name: str, instances: Iterable[InstanceParams]) -> Iterator[tuple[str, TrackWeight]]:
    for p in instances:
        for t in p.tracks:
            if t.kind == kind and t.name == name:
                yield p.name, t
                break


def script_lines(tr: ScriptTracker, weight: int, reverse: bool, users: list[tuple[str, TrackWeight]],
                 insecure: bool = False) -> list[str]:
    sp = tr.spec
    rf = tr.counter
    if tr.runs or tr.last_outcome is not None:
        init = "unknown"  # keepalived SCRIPT_INIT_STATE_DONE
    elif tr.init_reload:
        init = "INIT/RELOAD"
    else:
        init = "INIT/FAILED" if sp.init_fail else "INIT"
    state = {"idle": "idle", "running": "running", "requesting_termination": "requested termination",
             "forcing_termination": "forcing termination"}.get(tr.state.value, "unknown")
    return [f" VRRP Script = {sp.name}", f"   Command = {cmd_str(sp.command.argv)}",
            f"   Interval = {sp.interval_us // 1_000_000} sec",
            f"   Timeout = {sp.timeout_us // 1_000_000} sec",
            f"   Weight = {weight}{' reverse' if reverse else ''}",
            f"   Rise = {sp.rise}", f"   Fall = {sp.fall}",
            f"   Result = {rf.result}", f"   Insecure = {_yn(insecure, 'yes', 'no')}",
            f"   Init state = {init}", f"   Status = {_yn(rf.result >= rf.rise, 'GOOD', 'BAD')}",
            f"   Script uid:gid = {_uid(sp.command)}", "   VRRP instances :", *tracking_lines(users),
            f"   State = {state}"]


def track_file_lines(model: Model, files: FileTrackers | None, instances: list[InstanceParams]) -> list[str]:
    out = []
    values = files.values if files is not None else {}
    for f in model.track_files:
        out += [f" Track file = {f.name}", f"   File = {f.file}", f"   Status = {values.get(f.name, 0)}",
                f"   Weight = {f.weight}{' reverse' if f.reverse else ''}",
                *tracking_lines(list(users_of("file", f.name, instances)))]
    return out


def full_command(sp: ProcessSpec) -> bool:
    """keepalived's full_command: also set by parameters after the process name or `param_match`
    (vrrp_parser.c), which match against the whole command line."""
    return sp.full_command or bool(sp.params) or sp.param_match.value != "none"


def track_process_lines(procs: ProcessTracker | None, model: Model,
                        instances: list[InstanceParams]) -> list[str]:
    if procs is None:
        return []
    conf = {p.name: p for p in model.track_processes}
    out = []
    for tp in procs.tracked.values():
        sp, c = tp.spec, conf.get(tp.name)
        out += [f" VRRP Track process = {sp.name}", f"   Process = {sp.process}"]
        if sp.params:
            out.append(f"   Parameters = {' '.join(sp.params)}")
        match = sp.param_match.value
        if match != "none":
            out.append("   Param match" + ("" if match == "exact" else f" = {match}"))
        out.append(f"   Min processes = {sp.quorum}")
        if sp.quorum_max < 2**32 - 1:
            out.append(f"   Max processes = {sp.quorum_max}")
        out += [f"   Current processes = {tp.count}", f"   Have quorum = {_yn(tp.have_quorum)}",
                f"   Weight = {c.weight if c else 0}{' reverse' if c and c.reverse else ''}",
                f"   Terminate delay = {sp.terminate_delay_us / 1e6:f}s",
                f"   Fork delay = {sp.fork_delay_us / 1e6:f}s",
                "   Fork delay timer not running",
                f"   Terminate delay timer {'' if tp._timer is not None else 'not '}running",
                f"   Full command = {_yn(full_command(sp))}",
                *tracking_lines(list(users_of("process", sp.name, instances)))]
    return out


def _listed(head: str, rows: list[str]) -> list[str]:
    """A heading and its entries (5 spaces in), or nothing when there are none."""
    return [head, *(f"     {r}" for r in rows)] if rows else []


def track_bfd_lines(model: Model, up: dict[str, bool], instances: list[InstanceParams]) -> list[str]:
    """dump_vrrp_tracked_bfd for every bfd_instance; `up`: the state of those an instance tracks
    (the VRRP child does not follow the others: shown down). The weight is the bfd_instance's own
    (`weight N [reverse]`)."""
    out = []
    for nb in model.named_blocks:
        if nb.kind != "bfd_instance" or nb.bfd is None:
            continue
        out += [f" VRRP Track BFD = {nb.name}",
                f"   Weight = {nb.bfd.weight}{' reverse' if nb.bfd.weight_reverse else ''}",
                f"   Bfd is {_yn(up.get(nb.name, False), 'up', 'down')}", "   Tracking VRRP instances :",
                *tracking_lines(list(users_of("bfd", nb.name, instances)))]
    return out


def static_lines(model: Model) -> list[str]:
    """Static addresses, routes and rules, and the track groups (named instances that exist)."""
    addresses = []
    for spec in model.static_ipaddress:
        a = address_from_spec(spec, model.global_defs.default_interface)
        if a is not None:
            addresses.append(format_address(a, True, track_group=spec.track_group))
    # keepalived watches the routes of a family (and so learns where its static routes went) only
    # when a virtual route or a static route with a track_group has that family (vrrp.c)
    monitored = {r.family for i in model.vrrp_instances for r in i.virtual_routes if r.track}
    monitored |= {r.family for r in model.static_routes if r.track_group}
    names = {i.name for i in model.vrrp_instances if i.vrid is not None}
    groups = []
    for nb in model.named_blocks:
        if nb.kind == "track_group":
            members = [m for m in nb.members if m in names]
            groups.append(f" Static Track Group = {nb.name}")
            if members:
                groups += ["   VRRP member instances :", *(f"     {m}" for m in members)]
    return (_listed("------< Static Addresses >------", addresses)
            + _listed("------< Static Routes >------",
                      [format_route(r, installed_ifindex=None if r.family in monitored else 0)
                       for r in model.static_routes])
            + _listed("------< Static Rules >------", [format_rule(r) for r in model.static_rules])
            + (["------< Static Track groups >------", *groups] if groups else []))


# --- Interfaces (keepalived vrrp_if.c dump_if) ------------------------------------------------
_ARPHRD = {1: "ETHERNET", 772: "LOOPBACK"}
_IFF_BROADCAST, _IFF_LOOPBACK, _IFF_POINTOPOINT, _IFF_NOARP, _IFF_MULTICAST = 0x2, 0x8, 0x10, 0x80, 0x1000


@dataclass(frozen=True, slots=True)
class InterfacesInput:
    """What the VRRP child knows of each link besides the kernel's facts."""

    links: list[LinkFacts]
    vips: frozenset[object]  # the instances' VIPs and eVIPs: not the interface's own addresses
    ours: frozenset[str]  # VMACs this child created
    vmac_bases: dict[str, int]  # base interface -> VMACs created on it (its ARP settings changed)
    promote: dict[str, int]  # interface -> instances that turned its promote_secondaries on
    tracking: dict[str, list[tuple[str, int, bool]]]  # interface -> (instance, weight, reverse)
    gna_checks: dict[str, tuple[bool, float]]  # interface -> (IPv6 forwarding, when last read)


def _updown(flags: int) -> str:
    return f"{'' if flags & 0x1 else 'not '}UP, {'' if flags & 0x40 else 'not '}RUNNING"


def interface_lines(d: InterfacesInput) -> list[str]:
    """keepalived.data's `Interfaces` section: every link of the namespace in ifindex order. Link
    polling (linkbeat) and the GARP delay lines of vrrp_garp_interval / garp_group are not shown."""
    by_index = {lk.index: lk for lk in d.links}
    out = ["------< Interfaces >------"]
    for lk in d.links:
        base = by_index.get(lk.link) if lk.kind == "macvlan" and lk.link else None
        out += _if_addresses(lk, d.vips) + _if_state(lk, base, lk.name in d.ours) + _if_settings(lk, d)
    return out


def _if_addresses(lk: LinkFacts, vips: frozenset[object]) -> list[str]:
    own = [a for a in lk.addresses if a.address not in vips]
    v4 = [str(a.address) for a in own if a.family == 4]
    # keepalived keeps only the link-local IPv6 addresses (ignore_address_if_ours_or_link_local)
    v6 = [str(a.address) for a in own if a.family == 6 and a.address.is_link_local]
    out = [f" Name = {lk.name}", f"   index = {lk.index}", f"   IPv4 address = {v4[0] if v4 else '(none)'}"]
    if len(v4) > 1:
        out += ["   Additional IPv4 addresses :", *(f"     {a}" for a in v4[1:])]
    out.append(f"   IPv6 address = {v6[0] if v6 else '(none)'}")
    if len(v6) > 1:
        out += ["   Additional IPv6 addresses :", *(f"     {a}" for a in v6[1:])]
    if lk.mac:
        out += [f"   MAC = {lk.mac}", f"   MAC broadcast = {lk.broadcast}"]
    return out


def _if_state(lk: LinkFacts, base: LinkFacts | None, ours: bool) -> list[str]:
    f = lk.flags
    extra = [("" if f & _IFF_BROADCAST else ", no broadcast"), (", loopback" if f & _IFF_LOOPBACK else ""),
             (", point to point" if f & _IFF_POINTOPOINT else ""), (", no arp" if f & _IFF_NOARP else ""),
             ("" if f & _IFF_MULTICAST else ", no multicast"),
             (", master down" if base is not None and not base.flags & 0x1 else "")]
    out = ["   State = " + _updown(f) + "".join(extra), f"   Seen up = {int(bool(f & 0x1))}",
           "   Delayed state change running = false", "   Up debounce timer = 0us",
           "   Down debounce timer = 0us"]
    if lk.kind == "macvlan":
        mode = lk.macvlan_mode or "unknown"
        out.append(f"   VMAC type {mode}, underlying interface = {base.name}, state = {_updown(base.flags)}"
                   if base is not None else
                   f"   VMAC type {mode}, underlying interface in different namespace")
    if ours:
        out.append("   I/f created by keepalived")
    out.append(f"   MTU = {lk.mtu}")
    if lk.hw_type != 32:  # INFINIBAND: keepalived logs it instead
        out.append(f"   HW Type = {_ARPHRD.get(lk.hw_type, f'UNKNOWN ({lk.hw_type})')}")
    return out


def _if_settings(lk: LinkFacts, d: InterfacesInput) -> list[str]:
    s = lk.sysctl
    out = ["   NIC netlink status update", f"   Reset ARP config counter {d.vmac_bases.get(lk.name, 0)}",
           f"   Original arp_ignore {s.get('arp_ignore', 0)}",
           f"   Original arp_filter {s.get('arp_filter', 0)}"]
    if lk.name in d.ours or lk.name in d.vmac_bases or lk.name in d.promote:  # its devconf was read
        out.append(f"   rp_filter {s.get('rp_filter', 0)}")
    out += [f"   Original promote_secondaries {s.get('promote_secondaries', 0)}",
            f"   Reset promote_secondaries counter {d.promote.get(lk.name, 0)}"]
    if lk.name in d.gna_checks:
        router, t = d.gna_checks[lk.name]
        when = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(int(t)))
        out.append(f"   {'' if router else 'Not '}IPv6 forwarding. Last checked {epoch_us(t)} "
                   f"({when}.{epoch_us(t).split('.')[1]})")
    if d.tracking.get(lk.name):
        out.append("   Tracking VRRP instances :")
        out += [f"     {n}, weight {w}{' reverse' if r else ''}" for n, w, r in d.tracking[lk.name]]
    return out
