# Theory of operation
# -------------------
# The typed, immutable result of reading keepalived.conf: frozen slotted dataclasses with
# keepalived's defaults applied (build.py). Keywords without deep semantics are kept, validated, in
# `options` as (keyword, value) pairs in file order. Locations are carried for messages but excluded
# from equality, so a dump re-parsed gives an equal model. The LVS records (model_lvs.py) are
# re-exported but imported on first use, so a VRRP-only configuration does not load them.
"""The configuration model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pykeepalived.config.diag import NOWHERE, Loc
from pykeepalived.config.routes import Route
from pykeepalived.config.rules import Rule
from pykeepalived.config.types import IPAddr
from pykeepalived.config.vips import AddrFlag, VipSpec

if TYPE_CHECKING:  # imported on first use (__getattr__ below): a VRRP-only file never needs them
    from pykeepalived.config.model_lvs import (
        BfdCheck,
        Checker,
        DnsCheck,
        FileCheck,
        HttpCheck,
        MiscCheck,
        PingCheck,
        RealServer,
        SmtpCheck,
        TcpCheck,
        UdpCheck,
        UrlSpec,
        VirtualServer,
    )

_LVS_NAMES = frozenset({
    "BfdCheck", "Checker", "DnsCheck", "FileCheck", "HttpCheck", "MiscCheck", "PingCheck", "RealServer",
    "SmtpCheck", "TcpCheck", "UdpCheck", "UrlSpec", "VirtualServer",
})


def __getattr__(name: str) -> object:
    """The LVS records re-exported from model_lvs, imported on first use (~20 ms)."""
    if name in _LVS_NAMES:
        from pykeepalived.config import model_lvs

        return getattr(model_lvs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Options = tuple[tuple[str, object], ...]


def _loc_of(locs: tuple[tuple[str, Loc], ...], keywords: tuple[str, ...]) -> Loc | None:
    found = dict(locs)
    return next((found[k] for k in keywords if k in found), None)
Script = tuple[str, str, str]  # (command, user, group)
# a notify keyword's script; () for a bare `notify_deleted` (the instance's default notify script)
NotifyScript = Script | tuple[()]


@dataclass(frozen=True, slots=True)
class SnmpDefs:
    """global_defs' SNMP keywords, typed (config/bag_fields.py; the words stay in options for the dump)."""

    vrrp: bool = False  # enable_snmp_vrrp (enable_snmp_keepalived)
    checker: bool = False  # enable_snmp_checker
    rfc: bool = False  # enable_snmp_rfc
    rfcv2: bool = False  # enable_snmp_rfcv2
    rfcv3: bool = False  # enable_snmp_rfcv3
    traps: bool = False  # enable_traps
    socket: str | None = None  # snmp_socket


@dataclass(frozen=True, slots=True)
class DbusDefs:
    """global_defs' DBus keywords, typed (config/bag_fields.py)."""

    enabled: bool = False  # enable_dbus
    service_name: str | None = None  # dbus_service_name
    no_interface_name: str | None = None  # dbus_no_interface_name


@dataclass(frozen=True, slots=True)
class DumpFileDefs:
    """global_defs' signal dump file keywords, typed (config/bag_fields.py)."""

    state_dump_file: str | None = None
    stats_dump_file: str | None = None
    json_dump_file: str | None = None
    json_version: int = 1
    data_use_instance: bool = False


# (size, force) of `NAME_rcv_bufs N` / `NAME_rcv_bufs_force` as written (size 0: not given or 0)
NetlinkBufs = tuple[int, bool]


@dataclass(frozen=True, slots=True)
class RcvBufDefs:
    """global_defs' receive buffer keywords, typed (config/bag_fields.py; linux/rcvbuf.py sets them);
    None: neither keyword given."""

    vrrp_netlink_cmd: NetlinkBufs | None = None
    vrrp_netlink_monitor: NetlinkBufs | None = None
    lvs_netlink_cmd: NetlinkBufs | None = None
    lvs_netlink_monitor: NetlinkBufs | None = None
    process_monitor: NetlinkBufs | None = None
    # vrrp_rx_bufs_policy/multiplier: (policy "MTU"|"ADVERT"|"SIZE"|None, size, multiplier)
    rx_bufs_policy: tuple[str | None, int, int] = (None, 0, 3)


@dataclass(frozen=True, slots=True)
class ReloadDefs:
    """global_defs' reload keywords read by the parent, typed (config/bag_fields.py)."""

    reload_file: tuple[str, ...] | None = None  # None: not given; (): given without a path
    tmp_config_directory: str | None = None
    reload_time_file: str | None = None
    reload_repeat: bool = False


@dataclass(frozen=True, slots=True)
class SchedDefs:
    """One child's scheduling keywords (`<role>_priority`, ...), typed; None: not given."""

    priority: int | None = None
    no_swap: bool = False
    rt_priority: int | None = None
    rlimit_rttime: int | None = None
    cpu_affinity: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class ProcessDefs:
    """global_defs' process keywords read by the parent (daemon/procconf.py) and -t, typed
    (config/bag_fields.py); None: not given."""

    process_names: bool = False
    process_name: str | None = None
    vrrp_process_name: str | None = None
    checker_process_name: str | None = None
    bfd_process_name: str | None = None
    vrrp_sched: SchedDefs = SchedDefs()
    checker_sched: SchedDefs = SchedDefs()
    bfd_sched: SchedDefs = SchedDefs()
    umask: int | None = None
    startup_script: Script | None = None
    startup_script_timeout: int | None = None
    shutdown_script: Script | None = None
    shutdown_script_timeout: int | None = None
    reload_check_config: tuple[str, ...] | None = None  # None: not given; (): without a file


@dataclass(frozen=True, slots=True)
class RootDefs:
    """The top-level keywords (outside any block), typed (config/bag_fields.py; the words stay in
    Model.root_options for the dump)."""

    linkbeat_use_polling: bool = False
    net_namespace: str | None = None
    net_namespace_ipvs: tuple[str, ...] | None = None  # () when given without a name
    namespace_with_ipsets: bool = False
    use_pid_dir: bool = False
    instance: str | None = None
    child_wait_time: int | None = None


@dataclass(frozen=True, slots=True)
class GlobalDefs:
    router_id: str | None = None
    vrrp_version: int = 2
    vrrp_mcast_group4: IPAddr | None = None
    vrrp_mcast_group6: IPAddr | None = None
    vrrp_strict: bool = False
    vrrp_startup_delay_us: int = 0
    vrrp_check_unicast_src: bool = False
    vrrp_skip_check_adv_addr: bool = False
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_owner_ignore_adverts: bool = False
    vrrp_down_timer_adverts: int = 3
    log_unknown_vrids: bool = False
    dynamic_interfaces: bool = False
    default_interface: str = "eth0"
    enable_script_security: bool = False
    script_user: tuple[str, ...] = ()
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: tuple[str, ...] | None = None  # (address, [port]); port default 25
    smtp_helo_name: str | None = None  # None: the host name
    smtp_connect_timeout: int = 30
    smtp_alert: bool | None = None
    smtp_alert_vrrp: bool | None = None
    smtp_alert_checker: bool | None = None
    notify_fifo: tuple[str, ...] | None = None  # (path, [user [group]])
    notify_fifo_script: Script | None = None
    vrrp_notify_fifo: tuple[str, ...] | None = None
    vrrp_notify_fifo_script: Script | None = None
    lvs_notify_fifo: tuple[str, ...] | None = None
    lvs_notify_fifo_script: Script | None = None
    vrrp_notify_priority_changes: bool = False
    vrrp_garp_master_delay: int = 5
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_master_refresh: int = 0
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_lower_prio_delay: int | None = None  # None: = vrrp_garp_master_delay
    vrrp_garp_lower_prio_repeat: int | None = None  # None: = vrrp_garp_master_repeat
    vrrp_min_garp: bool = False
    vrrp_garp_interval_us: int = 0
    vrrp_gna_interval_us: int = 0
    max_auto_priority: int | None = None  # None: not set; -1: disabled (no NOTICE); bare keyword: 99
    # the VRRP firewall (keepalived.md §1.2.5): table name from `nftables [TABLE]` or `vrrp_iptables`;
    # None: none configured (the VRRP child still selects `keepalived` for no_accept/use_vmac)
    nftables: str | None = None
    nftables_priority: int = -1
    nftables_ifindex: bool = False
    nftables_counters: bool = False
    lvs_dataplane: str | None = None  # pykeepalived extension: auto|ipvs|nftables; None: auto
    # keywords the daemon acts on, named as the keyword (the builder fills a field of that name,
    # the dump prints it back); None: not given
    vmac_prefix: str | None = None  # name prefix of VMACs without a name (keepalived: "vrrp")
    vmac_addr_prefix: str | None = None  # of address VMACs (use_vmac_addr); else vmac_prefix
    disable_local_igmp: bool = False
    min_auto_priority_delay_us: int | None = None  # None: 1 s
    fifo_write_vrrp_states_on_reload: bool = False
    no_email_faults: bool = False
    rs_init_notifies: bool | None = None
    checker_log_all_failures: bool | None = None
    no_checker_emails: bool | None = None
    use_symlink_paths: bool | None = None
    set_supplementary_groups: bool | None = None
    config_save_dir: str | None = None
    pykeepalived_control_socket: str | None = None  # PATH, or off|none|...
    pykeepalived_metrics_address: tuple[str, str] | None = None  # (host, port)
    allow_if_changes: bool = False  # `dynamic_interfaces allow_if_changes`
    # vrrp_garp_extra_if [all] SECS: (SECS, all) as keepalived keeps them (0: not given; `all` on any line)
    garp_extra_if: tuple[int, bool] = (0, False)
    # keywords kept in options for the dump, typed in groups for the runtime (config/bag_fields.py)
    snmp: SnmpDefs = SnmpDefs()
    dbus: DbusDefs = DbusDefs()
    dump_files: DumpFileDefs = DumpFileDefs()
    rcv_bufs: RcvBufDefs = RcvBufDefs()
    reload: ReloadDefs = ReloadDefs()
    process: ProcessDefs = ProcessDefs()
    options: Options = ()
    # where each keyword of global_defs was written (the last one wins), for messages about values
    keyword_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def loc_of(self, *keywords: str) -> Loc | None:
        return _loc_of(self.keyword_locs, keywords)


DEFAULT_BGP_ANCHOR = "pka-bgp"


@dataclass(frozen=True, slots=True)
class BgpAnnounce:
    """pykeepalived's bgp_announce block (docs/bgp.md): where and when the VIPs are announced."""

    mode: str = "master"  # master: while MASTER; anycast: while MASTER or BACKUP (healthy)
    anchor: str = DEFAULT_BGP_ANCHOR  # TUN device whose connected routes the local FRR redistributes
    backup_anchor: str | None = None  # mode master: BACKUP announces through it (worse preference)
    addresses: tuple[IPAddr, ...] = ()  # announced as /32, /128 host routes

    def anchor_for(self, state: str) -> str | None:
        """The anchor the VIPs hang on in `state` (a VRRP state name), None: not announced."""
        if state == "MASTER":
            return self.anchor
        if state == "BACKUP":
            return self.anchor if self.mode == "anycast" else self.backup_anchor
        return None  # FAULT, STOP, DELETED, INIT


@dataclass(frozen=True, slots=True)
class VmacSpec:
    """`use_vmac [NAME] [MAC]` (keepalived.md §1.11.4): a word with five colons is the MAC, the first
    other one (not `group` nor `netlink_notify_msg`) the name."""

    name: str | None = None  # None: vmac_prefix + "." + VRID
    mac: str | None = None  # None: the RFC 5798 virtual MAC
    words: tuple[str, ...] = ()  # as written, for the dump


@dataclass(frozen=True, slots=True)
class Track:
    kind: str  # interface | script | file | process | bfd
    name: str
    weight: int | None = None  # None: the tracked object's default
    reverse: bool | None = None
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class VrrpInstance:
    name: str
    interface: str | None = None
    vrid: int | None = None
    state: str | None = None  # "MASTER" | "BACKUP" | None (derived from priority)
    priority: int = 100
    advert_int_us: int = 1_000_000
    version: int = 2
    family: int = 4
    nopreempt: bool = False
    preempt_delay_us: int = 0
    vips: tuple[VipSpec, ...] = ()
    evips: tuple[VipSpec, ...] = ()
    virtual_routes: tuple[Route, ...] = ()
    virtual_rules: tuple[Rule, ...] = ()
    unicast_src_ip: IPAddr | None = None
    mcast_src_ip: IPAddr | None = None
    mcast_dst_ip: IPAddr | None = None
    unicast_peers: tuple[tuple[IPAddr, int | None, int | None], ...] = ()
    unicast_ttl: int | None = None
    auth_type: str | None = None
    auth_pass: str = ""
    tracks: tuple[Track, ...] = ()
    notify: tuple[tuple[str, NotifyScript], ...] = ()  # (keyword, script)
    smtp_alert: bool | None = None
    strict_mode: bool = False
    use_vmac: VmacSpec | None = None
    vmac_xmit_base: bool = False
    use_vmac_addr: bool = False
    promote_secondaries: bool = False
    linkbeat_use_polling: bool = False
    kernel_rx_buf_size: int | None = None
    unicast_fault_no_peer: bool = False
    track_src_ip: bool = False
    accept: bool | None = None
    dont_track_primary: bool = False
    skip_check_adv_addr: bool = False
    check_unicast_src: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    owner_ignore_adverts: bool = False
    v3_checksum_as_v2: bool = False
    bgp: BgpAnnounce | None = None  # pykeepalived extension (bgp_announce)
    old_unicast_checksum: bool = False
    down_timer_adverts: int = 3
    garp_master_delay_s: int = 5
    garp_master_repeat: int = 5
    garp_master_refresh_s: int = 0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay_s: int | None = None  # None: = garp_master_delay
    garp_lower_prio_repeat: int | None = None  # None: = garp_master_repeat
    sync_group: str | None = None
    options: Options = ()
    loc: Loc = field(default=NOWHERE, compare=False)
    interface_loc: Loc = field(default=NOWHERE, compare=False)
    # where each keyword of the block (and of its sub-blocks: auth_pass...) was written, last wins
    keyword_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def loc_of(self, *keywords: str) -> Loc:
        """The line of the first of `keywords` written in the block, else the block's own line."""
        return _loc_of(self.keyword_locs, keywords) or self.loc


@dataclass(frozen=True, slots=True)
class VrrpScript:
    name: str
    script: Script | None = None
    interval_us: int = 1_000_000
    timeout_us: int | None = None
    weight: int = 0
    reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: tuple[str, ...] = ()
    init_fail: bool = False
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class SyncGroup:
    name: str
    members: tuple[str, ...] = ()
    tracks: tuple[Track, ...] = ()
    notify: tuple[tuple[str, NotifyScript], ...] = ()
    options: Options = ()
    loc: Loc = field(default=NOWHERE, compare=False)
    # typed from options (config/bag_fields.py): the last `smtp_alert [BOOL]` (bare: true), None: absent
    smtp_alert: bool | None = None
    track_weight: bool = False  # sync_group_tracking_weight (or the deprecated global_tracking) given
    notify_priority_changes: bool | None = None  # the last `notify_priority_changes [BOOL]`, None: absent


@dataclass(frozen=True, slots=True)
class TrackFile:
    """`track_file NAME { }` (keepalived.md §1.5)."""

    name: str
    file: str = ""
    weight: int = 1
    reverse: bool = False
    init_file: tuple[str, ...] | None = None  # (VALUE?, "overwrite"?) when init_file is given
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class TrackProcess:
    """`vrrp_track_process NAME { }` (keepalived.md §1.6)."""

    name: str
    process: tuple[str, ...] = ()  # name [args...]
    param_match: str | None = None  # None: exact (when args given) | "initial" | "partial"
    weight: int = 0
    reverse: bool = False
    quorum: int = 1
    quorum_max: int | None = None  # None: unlimited
    fork_delay_us: int = 0
    terminate_delay_us: int = 0
    full_command: bool = False
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class BfdDefs:
    """A bfd_instance's keywords, typed (config/bag_fields.py; bfd/params.py resolves them); None /
    0: not given."""

    neighbor_ip: str | None = None
    source_ip: str | None = None
    min_rx_us: int | None = None
    min_tx_us: int | None = None
    idle_tx_us: int | None = None
    multiplier: int | None = None
    ttl: int = 0  # ttl, else hoplimit
    max_hops: int = 0
    passive: bool = False
    multihop: bool = False
    vrrp: bool = False
    checker: bool = False
    # `weight N [reverse]` as keepalived's VRRP process keeps it (bfd_vrrp_weight_handler): each line
    # with a valid N (-253..253) sets the weight, a `reverse` on any line stays
    weight: int = 0
    weight_reverse: bool = False


@dataclass(frozen=True, slots=True)
class Named:
    """A named block kept generically (bfd_instance, track_group)."""

    kind: str
    name: str
    options: Options = ()
    loc: Loc = field(default=NOWHERE, compare=False)
    bfd: BfdDefs | None = None  # a bfd_instance's options, typed
    members: tuple[str, ...] = ()  # a track_group's `group` words, in file order


@dataclass(frozen=True, slots=True)
class Model:
    global_defs: GlobalDefs = GlobalDefs()
    root_options: Options = ()  # net_namespace, instance, use_pid_dir, ...
    root: RootDefs = RootDefs()  # root_options typed (config/bag_fields.py)
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    sync_groups: tuple[SyncGroup, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    track_processes: tuple[TrackProcess, ...] = ()
    named_blocks: tuple[Named, ...] = ()
    static_ipaddress: tuple[VipSpec, ...] = ()
    static_routes: tuple[Route, ...] = ()
    static_rules: tuple[Rule, ...] = ()
    linkbeat_interfaces: tuple[tuple[str, ...], ...] = ()
    linkbeat_locs: tuple[Loc, ...] = field(default=(), compare=False)  # one per linkbeat_interfaces row
    garp_groups: tuple[Options, ...] = ()
    virtual_server_groups: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    ssl: Options | None = None

    def instance(self, name: str) -> VrrpInstance:
        for i in self.vrrp_instances:
            if i.name == name:
                return i
        raise KeyError(name)


__all__ = [
    "AddrFlag",
    "BfdCheck",
    "Checker",
    "DnsCheck",
    "FileCheck",
    "HttpCheck",
    "MiscCheck",
    "PingCheck",
    "RealServer",
    "SmtpCheck",
    "TcpCheck",
    "UdpCheck",
    "UrlSpec",
    "VipSpec",
    "VirtualServer",
]
