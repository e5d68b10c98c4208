# Theory of operation
# -------------------
# keepalived.conf's keyword tree as data, the equivalent of keepalived's install_keyword_root /
# install_keyword / install_sublevel tables (global_parser.c, vrrp_parser.c, check_parser.c,
# bfd_parser.c, track_file.c and the per-checker files), for 2.2.7 plus the keywords the reference
# (keepalived.md §1) lists from later releases. A `Kw` is one of three shapes:
#   * scalar:      `Kw(vtype)`                 keyword WORDS...
#   * block:       `Kw(args=..., block={...})` keyword [WORDS...] { sub-keywords }
#   * value block: `Kw(items=vtype)`           keyword { one entry per line }
# `alias` names the canonical keyword (deprecated spellings), `deprecated` is keepalived's notice.
"""The keepalived.conf grammar (declarative keyword tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pykeepalived.config.ext import ListenAddress
from pykeepalived.config.proc_types import (
    ChildWait,
    CpuAffinity,
    Nice,
    ProcName,
    RootName,
    RtLimit,
    RtPriority,
    StartStopScript,
    Umask,
)
from pykeepalived.config.types import (
    Addr,
    Bool,
    Choice,
    Entry,
    Flag,
    HexStr,
    Int,
    Script,
    Str,
    Timer,
    VType,
    Words,
)

INT32 = 2**31 - 1
UINT32 = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Kw:
    vtype: VType | None = None  # scalar value (or the words after a block keyword when `args`)
    args: VType | None = None  # block keyword arguments (name, address...)
    block: dict[str, Kw] | None = None
    items: VType | None = None  # value block entries
    alias: str | None = None
    deprecated: str | None = None
    block_optional: bool = False  # value block may be replaced by words on the keyword line
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_block(self) -> bool:
        return self.block is not None or self.items is not None


def K(vtype: VType, **kw: Any) -> Kw:
    return Kw(vtype=vtype, **kw)


def B(block: dict[str, Kw], args: VType | None = None, **kw: Any) -> Kw:
    return Kw(block=block, args=args, **kw)


def L(items: VType | None = None, args: VType | None = None, **kw: Any) -> Kw:
    return Kw(items=items or Entry(), args=args, **kw)


def dep(canonical: str, vtype: VType, msg: str | None = None) -> Kw:
    return Kw(
        vtype=vtype, alias=canonical, deprecated=msg or f"{{kw}} is deprecated - please use '{canonical}'"
    )


FLAG = Flag()
BOOL = Bool()
STR = Str()
WORDS = Words(1)
ANY = Words(0)
SCRIPT = Script()
NAME = Str()
IFNAME = Str(maxlen=15)

# vrrp_srcip_handler's message ("VI" is the instance's name, parser.py)
_MALFORMED_SRC = "Configuration error: VRRP instance[VI] malformed src address[{v}]. Skipping..."

# --- global_defs (keepalived.md §1.2; global_parser.c) ---------------------------------------
_per_process: dict[str, Kw] = {}
for _p in ("vrrp", "checker", "bfd"):
    _per_process |= {
        f"{_p}_priority": K(Nice(_p)),
        f"{_p}_no_swap": K(FLAG),
        f"{_p}_rt_priority": K(RtPriority(_p)),
        f"{_p}_cpu_affinity": K(CpuAffinity(_p)),
        f"{_p}_rlimit_rttime": K(RtLimit(_p)),
        # keepalived only logs this deprecation (LOG_INFO), it is no configuration error
        f"{_p}_rlimit_rtime": Kw(vtype=RtLimit(_p), alias=f"{_p}_rlimit_rttime"),
        f"{_p}_process_name": K(ProcName()),
    }
_nl_bufs = {
    f"{n}{s}": K(Int(0, UINT32) if not s else BOOL)
    for n in (
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs",
        "process_monitor_rcv_bufs",
    )
    for s in ("", "_force")
}

GLOBAL_DEFS: dict[str, Kw] = {
    "process_names": K(FLAG),
    "process_name": K(ProcName()),
    "lvs_process_name": Kw(vtype=ProcName(), alias="checker_process_name"),  # only logged as deprecated
    "router_id": K(Str(missing="routerid name missing - ignoring")),
    "notification_email_from": K(Str(missing="emailfrom missing - ignoring")),
    "smtp_server": K(Words(1, 2)),
    "smtp_helo_name": K(Str(missing="")),
    "smtp_connect_timeout": K(Int(0, UINT32 // 1_000_000, msg="{kw} '{v}' must be in [0, 4294] - ignoring")),
    "notification_email": L(Entry()),
    "smtp_alert": K(BOOL),
    "smtp_alert_vrrp": K(BOOL),
    "smtp_alert_checker": K(BOOL),
    "startup_script": K(StartStopScript("startup")),
    "startup_script_timeout": K(Int(1, 1000, msg="{kw} '{v}' must be in [1, 1000] - ignoring")),
    "shutdown_script": K(StartStopScript("shutdown")),
    "shutdown_script_timeout": K(Int(1, 1000, msg="{kw} '{v}' must be in [1, 1000] - ignoring")),
    "max_auto_priority": K(Words(0, 1)),
    "min_auto_priority_delay": K(Int(1, 10_000_000, msg="{kw} '{v}' must be in [1, 10000000] - ignoring")),
    "checker_log_all_failures": K(BOOL),
    "dynamic_interfaces": K(Words(0, 1)),
    "no_email_faults": K(FLAG),
    "default_interface": K(Str(maxlen=15, missing="default_interface requires interface name")),
    "disable_local_igmp": K(FLAG),
    "lvs_timeouts": K(WORDS),
    "lvs_flush": K(FLAG),
    "lvs_flush_on_stop": K(Words(0, 1)),
    "lvs_flush_onstop": dep("lvs_flush_on_stop", Words(0, 1)),
    "lvs_sync_daemon": K(Words(1, missing="lvs_sync_daemon requires interface")),
    # pykeepalived extension: the LVS data plane (IPVS, or nftables for kernels without IPVS)
    "lvs_dataplane": K(Choice(("auto", "ipvs", "nftables"), msg="Invalid lvs_dataplane '{v}' - ignoring")),
    "vrrp_mcast_group4": K(Addr(4, multicast=True)),
    "vrrp_mcast_group6": K(Addr(6, multicast=True)),
    "vrrp_garp_master_delay": K(Int(0, INT32)),
    "vrrp_garp_master_repeat": K(Int(0, INT32)),
    "vrrp_garp_master_refresh": K(Int(0, INT32)),
    "vrrp_garp_master_refresh_repeat": K(Int(0, INT32)),
    "vrrp_garp_lower_prio_delay": K(Int(0, INT32)),
    "vrrp_garp_lower_prio_repeat": K(Int(0, INT32)),
    "vrrp_down_timer_adverts": K(Int(1, 100)),
    "vrrp_garp_interval": K(Timer(0.000001, 4294.967295)),
    "vrrp_gna_interval": K(Timer(0.000001, 4294.967295)),
    "vrrp_min_garp": K(BOOL),
    "vrrp_garp_extra_if": K(ANY),
    "vrrp_vmac_garp_intvl": dep("vrrp_garp_extra_if", ANY,
                                'Keyword "{kw}" is deprecated - please use "vrrp_garp_extra_if"'),
    "vrrp_lower_prio_no_advert": K(BOOL),
    "vrrp_higher_prio_send_advert": K(BOOL),
    "vrrp_version": K(Int(2, 3, msg="VRRP Error: Version must be either 2 or 3")),
    "vrrp_iptables": K(ANY),
    "vrrp_ipsets": K(ANY),
    "nftables": K(Words(0, 1)),
    "nftables_priority": K(Int(-INT32 - 1, INT32, msg="invalid nftables chain priority '{v}'")),
    "nftables_ifindex": K(FLAG),
    "nftables_ipvs": K(Words(0, 1)),
    "nftables_ipvs_priority": K(Int(-INT32 - 1, INT32)),
    "nftables_ipvs_start_fwmark": K(Int(1, UINT32)),
    "nftables_counters": K(FLAG),
    "vrrp_check_unicast_src": K(FLAG),
    "vrrp_skip_check_adv_addr": K(BOOL),
    "vrrp_strict": K(BOOL),
    "vrrp_owner_ignore_adverts": K(BOOL),
    "vrrp_delay_after_boot": K(Timer()),
    "v3_checksum_as_v2": K(ANY),
    "notify_fifo": K(Words(1, missing="No notify_fifo name specified")),
    "notify_fifo_script": K(SCRIPT),
    "vrrp_notify_fifo": K(Words(1, missing="No vrrp_notify_fifo name specified")),
    "vrrp_notify_fifo_script": K(SCRIPT),
    "vrrp_notify_priority_changes": K(BOOL),
    "fifo_write_vrrp_states_on_reload": K(FLAG),
    "lvs_notify_fifo": K(Words(1, missing="No lvs_notify_fifo name specified")),
    "lvs_notify_fifo_script": K(SCRIPT),
    "snmp_socket": K(Str(missing="SNMP error : snmp socket name missing")),
    "enable_traps": K(FLAG),
    "enable_snmp_vrrp": K(FLAG),
    "enable_snmp_keepalived": Kw(vtype=FLAG, alias="enable_snmp_vrrp"),  # deprecated, not reported
    "enable_snmp_rfc": K(FLAG),
    "enable_snmp_rfcv2": K(FLAG),
    "enable_snmp_rfcv3": K(FLAG),
    "enable_snmp_checker": K(FLAG),
    "snmp_vs_stats_update_interval": K(Timer(0.001, 30)),
    "snmp_rs_stats_update_interval": K(Timer(0.001, 30)),
    "enable_dbus": K(FLAG),
    "dbus_service_name": K(Str(missing="dbus_service_name missing - ignoring")),
    "dbus_no_interface_name": K(STR),
    "script_user": K(Words(1, 2, missing="No script username specified")),
    "enable_script_security": K(FLAG),
    "use_symlink_paths": K(BOOL),
    "set_supplementary_groups": K(BOOL),
    "rs_init_notifies": K(BOOL),
    "no_checker_emails": K(BOOL),
    "vrrp_rx_bufs_policy": K(Words(1, missing="vrrp_rx_bufs_policy missing")),
    "vrrp_rx_bufs_multiplier": K(Int(1, UINT32)),
    "vrrp_startup_delay": K(Timer(0.001, 4294.967295)),
    "log_unknown_vrids": K(FLAG),
    "vmac_prefix": K(STR),
    "vmac_addr_prefix": K(STR),
    "umask": K(Umask()),
    "random_seed": K(Int(0, UINT32)),
    "reload_check_config": K(Words(0, 1)),
    "reload_time_file": K(STR),
    "reload_repeat": K(FLAG),
    "reload_file": K(Words(0, 1)),
    "include_check": K(ANY),
    "config_save_dir": K(STR),
    "tmp_config_directory": K(STR),
    "data_use_instance": K(BOOL),
    "state_dump_file": K(STR),
    "stats_dump_file": K(STR),
    "json_dump_file": K(STR),
    "json_version": K(Int(1, 2)),
    "iproute_usr_dir": K(STR),
    "iproute_etc_dir": K(STR),
    # pykeepalived extensions (config/ext.py, docs/operations.md)
    "pykeepalived_metrics_address": K(ListenAddress()),
    "pykeepalived_control_socket": K(STR),
    **_per_process,
    **_nl_bufs,
}

# --- VRRP (keepalived.md §1.3-1.11; vrrp_parser.c) ---------------------------------------------
TRACKS = {
    "track_interface": L(),
    "track_script": L(),
    "track_file": L(),
    "track_process": L(),
    "track_bfd": L(),
}
NOTIFIES = {n: K(SCRIPT) for n in ("notify_backup", "notify_master", "notify_fault", "notify_stop", "notify")}

SYNC_GROUP: dict[str, Kw] = {
    "group": L(),
    **TRACKS,
    **NOTIFIES,
    "smtp_alert": K(BOOL),
    "global_tracking": K(FLAG),
    "sync_group_tracking_weight": K(FLAG),
    "notify_priority_changes": K(BOOL),
}

GARP_GROUP: dict[str, Kw] = {
    "garp_interval": K(Timer(0, 4294.967295)),
    "gna_interval": K(Timer(0, 4294.967295)),
    "interface": K(IFNAME),
    "interfaces": L(),
}

VRRP_INSTANCE: dict[str, Kw] = {
    "use_vmac": K(ANY),
    "use_vmac_addr": K(FLAG),
    "vmac_xmit_base": K(FLAG),
    "use_ipvlan": K(ANY),
    "unicast_peer": L(),
    "unicast_fault_no_peer": K(FLAG),
    "check_unicast_src": K(FLAG),
    "old_unicast_checksum": K(Words(0, 1)),
    "native_ipv6": K(FLAG),
    "state": K(WORDS),
    "interface": K(Str(maxlen=15)),
    "vrf": K(STR),
    "dont_track_primary": K(FLAG),
    **TRACKS,
    "mcast_src_ip": K(Addr(sockaddr=True, msg=_MALFORMED_SRC)),
    "unicast_src_ip": K(Addr(sockaddr=True, msg=_MALFORMED_SRC)),
    "mcast_dst_ip": K(Addr(multicast=True, sockaddr=True)),
    "track_src_ip": K(FLAG),
    "virtual_router_id": K(Int(1, 255, msg="(VI): VRID '{v}' not valid - must be between 1 & 255")),
    "unicast_ttl": K(Int(1, 255)),
    "version": K(Int(2, 3, msg="(VI): Version {v} not valid")),
    "priority": K(Int(1, 255, msg="(VI) Priority not valid! must be between 1 & 255. Using default 100")),
    "advert_int": K(Timer(0.01, 255, msg="(VI) Advert interval ({v}) not valid! Must be > 0 - ignoring")),
    "virtual_ipaddress": L(),
    "virtual_ipaddress_excluded": L(),
    "promote_secondaries": K(FLAG),
    "linkbeat_use_polling": K(FLAG),
    "virtual_routes": L(),
    "virtual_rules": L(),
    "accept": K(FLAG),
    "no_accept": K(FLAG),
    "skip_check_adv_addr": K(BOOL),
    "strict_mode": K(BOOL),
    "preempt": K(FLAG),
    "nopreempt": K(FLAG),
    "preempt_delay": K(Timer(0, 1000)),
    "debug": K(Int(0, 4)),
    **NOTIFIES,
    "notify_deleted": K(Script(optional=True)),
    "notify_master_rx_lower_pri": K(SCRIPT),
    "smtp_alert": K(BOOL),
    "notify_priority_changes": K(BOOL),
    "lvs_sync_daemon_interface": K(STR),
    "garp_master_delay": K(Int(0, INT32)),
    "garp_master_refresh": K(Int(0, INT32)),
    "garp_master_repeat": K(Int(0, INT32)),
    "garp_master_refresh_repeat": K(Int(0, INT32)),
    "garp_lower_prio_delay": K(Int(0, INT32)),
    "garp_lower_prio_repeat": K(Int(0, INT32)),
    "down_timer_adverts": K(Int(1, 100)),
    "garp_extra_if": K(ANY),
    "vmac_garp_intvl": dep("garp_extra_if", ANY, 'Keyword "{kw}" is deprecated - please use "garp_extra_if"'),
    "lower_prio_no_advert": K(BOOL),
    "higher_prio_send_advert": K(BOOL),
    "kernel_rx_buf_size": K(Int(0, UINT32)),
    "authentication": B(
        {
            "auth_type": K(Choice(("PASS", "AH"), msg="(VI) unknown authentication type '{v}'")),
            "auth_pass": K(STR),
        }
    ),
    # later releases (keepalived.md §1.11)
    "owner_ignore_adverts": K(BOOL),
    "timer_expired_backup": K(Words(0, 1)),
    "thread_timer_expired": dep("timer_expired_backup", Words(0, 1)),
    "no_virtual_ipaddress": K(FLAG),
    "v3_checksum_as_v2": K(BOOL),
    # pykeepalived extension: announce the VIPs through the local FRR (docs/bgp.md, daemon/vrrp/bgp.py)
    "bgp_announce": B(
        {
            "mode": K(Choice(("master", "anycast"), msg="(VI) unknown bgp_announce mode '{v}' - ignoring")),
            "anchor": K(IFNAME),
            "backup_anchor": K(IFNAME),
            "addresses": L(),
        }
    ),
}

VRRP_SCRIPT: dict[str, Kw] = {
    "script": K(SCRIPT),
    "interval": K(Timer(0, 4294.967295, 3)),
    "timeout": K(Timer(0, 4294.967295, 3)),
    "weight": K(Words(1, 2)),
    "rise": K(Int(1, INT32)),
    "fall": K(Int(1, INT32)),
    "user": K(Words(1, 2)),
    "init_fail": K(FLAG),
}

TRACK_PROCESS: dict[str, Kw] = {
    "process": K(WORDS),
    "param_match": K(Words(0, 1)),
    "weight": K(Words(1, 2)),
    "quorum": K(Int(1, 65535)),
    "quorum_max": K(Int(0, 65535)),
    "delay": K(Timer(0.000001, 3600)),
    "terminate_delay": K(Timer(0.000001, 3600)),
    "fork_delay": K(Timer(0.000001, 3600)),
    "full_command": K(FLAG),
}

TRACK_FILE: dict[str, Kw] = {"file": K(STR), "weight": K(Words(1, 2)), "init_file": K(Words(0, 2))}

BFD_INSTANCE: dict[str, Kw] = {
    "source_ip": K(Addr()),
    "neighbor_ip": K(Addr()),
    "neighbour_ip": K(Addr(), alias="neighbor_ip"),
    "min_rx": K(Timer(0.001, 4294967.295, 3)),
    "min_tx": K(Timer(0.001, 4294967.295, 3)),
    "idle_tx": K(Timer(0.001, 4294967.295, 3)),
    "multiplier": K(Int(1, 255)),
    "passive": K(FLAG),
    "ttl": K(Int(1, 255)),
    "hoplimit": K(Int(1, 255)),
    "max_hops": K(Int(0, 255)),
    "multihop": K(BOOL),
    "weight": K(Words(1, 2)),
    "vrrp": K(FLAG),
    "checker": K(FLAG),
}

# --- LVS / checkers (keepalived.md §1.12; check_parser.c, check_*.c) -------------------------
CONN_OPTS: dict[str, Kw] = {
    "connect_ip": K(Addr()),
    "connect_port": K(Int(1, 65535)),
    "bindto": K(Addr()),
    "bind_port": K(Int(1, 65535)),
    "bind_if": K(IFNAME),
    "connect_timeout": K(Timer(0.000001, 4294.967295)),
    "fwmark": K(Int(0, UINT32)),
}
TIMING_OPTS: dict[str, Kw] = {
    "retry": K(Int(0, UINT32)),
    "delay_before_retry": K(Timer(0, 4294.967295)),
    "warmup": K(Timer(0, 4294.967295)),
    "delay_loop": K(Timer(0.000001, 4294.967295)),
    "alpha": K(BOOL),
    "log_all_failures": K(BOOL),
}
URL: dict[str, Kw] = {
    "path": K(STR),
    "digest": K(STR),
    "status_code": K(WORDS),
    "virtualhost": K(Str(missing="Missing HTTP_GET virtualhost name")),
    "regex": K(SCRIPT),
    "regex_no_match": K(FLAG),
    "regex_options": K(WORDS),
    "regex_min_offset": K(Int(0, UINT32)),
    "regex_max_offset": K(Int(0, UINT32)),
    "regex_stack": K(Words(1, 2)),
    "tls_compliant": K(BOOL),
}
HTTP_CHECK: dict[str, Kw] = {
    **CONN_OPTS,
    **TIMING_OPTS,
    "nb_get_retry": dep("retry", Int(0, UINT32)),
    "virtualhost": K(Str(missing="HTTP_GET virtualhost name missing")),
    "http_protocol": K(Choice(("1.0", "1.0C", "1.1"), ci=True)),
    "fast_recovery": K(BOOL),
    "url": B(URL),
}
SSL_CHECK: dict[str, Kw] = {**HTTP_CHECK, "enable_sni": K(BOOL), "sni_name": K(STR), "tls_compliant": K(BOOL)}
CHECKERS: dict[str, Kw] = {
    "TCP_CHECK": B({**CONN_OPTS, **TIMING_OPTS}),
    "HTTP_GET": B(HTTP_CHECK),
    "SSL_GET": B(SSL_CHECK),
    "SMTP_CHECK": B({**CONN_OPTS, **TIMING_OPTS, "helo_name": K(Str(missing="SMTP_CHECK helo name missing")),
                     "host": B(dict(CONN_OPTS))}),
    "MISC_CHECK": B(
        {
            **TIMING_OPTS,
            "misc_path": K(SCRIPT),
            "misc_timeout": K(Timer(0, 4294.967295)),
            "misc_dynamic": K(FLAG),
            "user": K(Words(1, 2)),
        }
    ),
    "DNS_CHECK": B(
        {
            **CONN_OPTS,
            **TIMING_OPTS,
            "type": K(
                Choice(
                    ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY"),
                    ci=True,
                    msg="DNS_CHECK type {v} is not valid",
                )
            ),
            "name": K(STR),
        }
    ),
    "UDP_CHECK": B(
        {
            **CONN_OPTS,
            **TIMING_OPTS,
            "payload": K(HexStr()),
            "require_reply": K(HexStr(wildcard=True, optional=True, what="reply")),
            "min_reply_length": K(Int(0, 65535)),
            "max_reply_length": K(Int(0, 65535)),
        }
    ),
    "PING_CHECK": B({**CONN_OPTS, **TIMING_OPTS}),
    "FILE_CHECK": B({"track_file": K(STR), "weight": K(Words(1, 2))}),
    "BFD_CHECK": B({"name": K(STR), "alpha": K(BOOL)}),
}
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos")
_sched = Choice(SCHEDULERS, msg="Invalid lvs_scheduler '{v}' - ignoring")
REAL_SERVER: dict[str, Kw] = {
    "weight": K(Int(0, INT32)),
    "lvs_method": K(WORDS),
    "uthreshold": K(Int(0, UINT32)),
    "lthreshold": K(Int(0, UINT32)),
    "inhibit_on_failure": K(BOOL),
    "notify_up": K(SCRIPT),
    "notify_down": K(SCRIPT),
    "alpha": K(BOOL),
    "retry": K(Int(0, UINT32)),
    "delay_before_retry": K(Timer(0, 4294.967295)),
    "warmup": K(Timer(0, 4294.967295)),
    "connect_timeout": K(Timer(0.000001, 4294.967295)),
    "delay_loop": K(Timer(0.000001, 4294.967295)),
    "smtp_alert": K(BOOL),
    "virtualhost": K(Str(missing="real server virtualhost missing")),
    "snmp_name": K(STR),
    **CHECKERS,
}
VIRTUAL_SERVER: dict[str, Kw] = {
    "ip_family": K(Choice(("inet", "inet6"))),
    "retry": K(Int(0, UINT32)),
    "delay_before_retry": K(Timer(0, 4294.967295)),
    "warmup": K(Timer(0, 4294.967295)),
    "connect_timeout": K(Timer(0.000001, 4294.967295)),
    "delay_loop": K(Timer(0.000001, 4294.967295)),
    "inhibit_on_failure": K(FLAG),
    "lb_algo": K(_sched),
    "lvs_sched": K(_sched, alias="lb_algo"),
    "hashed": K(FLAG),
    "ops": K(FLAG),
    "flag-1": K(FLAG),
    "flag-2": K(FLAG),
    "flag-3": K(FLAG),
    "sh-port": K(FLAG),
    "sh-fallback": K(FLAG),
    "mh-port": K(FLAG),
    "mh-fallback": K(FLAG),
    "lb_kind": K(WORDS),
    "lvs_method": K(WORDS, alias="lb_kind"),
    "persistence_engine": K(STR),
    # 1..LVS_MAX_TIMEOUT; the keyword alone is 360 s
    "persistence_timeout": K(Int(1, 2678400, msg="persistence_timeout invalid", default=360)),
    "persistence_granularity": K(STR),
    "protocol": K(Choice(("TCP", "UDP", "SCTP"), ci=True, msg="Unknown protocol {v} - ignoring")),
    "ha_suspend": K(FLAG),
    "smtp_alert": K(BOOL),
    "virtualhost": K(Str(missing="virtual server virtualhost missing")),
    "snmp_name": K(STR),
    "alpha": K(FLAG),
    "omega": K(FLAG),
    "quorum_up": K(SCRIPT),
    "quorum_down": K(SCRIPT),
    "quorum": K(Int(1, UINT32, msg="Quorum {v} must be in [1, 4294967295]. Setting to 1.")),  # the default
    "hysteresis": K(Int(0, UINT32)),
    "weight": K(Int(1, INT32)),
    "sorry_server": K(Words(1, 2)),
    "sorry_server_inhibit": K(FLAG),
    "sorry_server_lvs_method": K(WORDS),
    "real_server": B(REAL_SERVER, args=Words(1, 2)),
}

ROOT: dict[str, Kw] = {
    "linkbeat_use_polling": K(FLAG),
    "net_namespace": K(RootName("net_namespace")),
    "net_namespace_ipvs": K(Words(0, 1)),
    "namespace_with_ipsets": K(FLAG),
    "use_pid_dir": K(FLAG),
    "instance": K(RootName("instance")),
    "child_wait_time": K(ChildWait()),
    "global_defs": B(GLOBAL_DEFS),
    "track_group": B({"group": L()}, args=NAME),
    "static_ipaddress": L(),
    "static_routes": L(),
    "static_rules": L(),
    "vrrp_sync_group": B(SYNC_GROUP, args=NAME),
    "garp_group": B(GARP_GROUP),
    "linkbeat_interfaces": L(),
    "vrrp_instance": B(VRRP_INSTANCE, args=NAME),
    "vrrp_script": B(VRRP_SCRIPT, args=NAME),
    "vrrp_track_process": B(TRACK_PROCESS, args=NAME),
    "interface_up_down_delays": L(),
    "track_file": B(TRACK_FILE, args=NAME),
    "vrrp_track_file": B(TRACK_FILE, args=NAME, alias="track_file"),
    "bfd_instance": B(BFD_INSTANCE, args=Str(maxlen=31)),
    "SSL": B({"password": K(STR), "ca": K(STR), "certificate": K(STR), "key": K(STR)}),
    "virtual_server_group": L(args=NAME),
    "virtual_server": B(VIRTUAL_SERVER, args=Words(1, 2)),
}
