"""Generate docs/compatibility.md from the configuration grammar (config/grammar.py).

Every keyword the parser knows is listed, with what the running daemon does with it today. The keyword
list comes from the grammar, so a new keyword appears here automatically (as "not yet" until someone
states otherwise below); the statuses are maintained by hand in the tables below, from reading the
daemon's code: update them when a feature is wired in.

    python docs/gen_compat.py > docs/compatibility.md
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pykeepalived.config.grammar import ROOT, Kw

SUPPORTED = "supported"
PARTIAL = "partial"
NOT_YET = "not yet"
EXTENSION = "extension"
NO_EFFECT = "no effect"

# (block path, keyword) -> (status, note). Block paths are the enclosing keywords joined by " > ",
# "" for the top level. A `*` keyword sets the default of a whole block.
S: dict[tuple[str, str], tuple[str, str]] = {}


def mark(block: str, status: str, keywords: str, note: str = "") -> None:
    for kw in keywords.split():
        S[(block, kw)] = (status, note)


# --- top level ---------------------------------------------------------------------------------
mark("", SUPPORTED, "global_defs vrrp_instance vrrp_sync_group")
mark("", SUPPORTED, "vrrp_script",
     "checked before the instances start (daemon/trackers.py check_vrrp_scripts): one disabled as "
     "insecure, not found or not executable is no longer tracked, as keepalived; a reload restarts every "
     "script with its state carried over by name (`VRRP_Script(X) considered successful on reload`), "
     "and a script new at a reload holds nothing until its first result (SCRIPT_INIT_STATE_INIT_RELOAD)")
mark("", PARTIAL, "static_ipaddress static_routes static_rules",
     "set by the VRRP child at start (no `dev`: `default_interface`), removed at stop (also with "
     "`--dont-release-vrrp`, as keepalived 2.2.7); not restored if deleted externally; a reload removes "
     "those dropped and sets the others (keepalived clear_diff_static_*), "
     "`track_group` on them makes the group's instances track their `dev`/`iif` (unweighted: FAULT "
     "while it is down)")
mark("", SUPPORTED, "track_file vrrp_track_file",
     "watched with inotify by the VRRP child (daemon/trackers.py file_trackers); re-read at every reload "
     "(`init_file ... overwrite` then writes only a missing file), the values reaching the instances the "
     "reload builds; also read by FILE_CHECK")
mark("", SUPPORTED, "vrrp_track_process",
     "proc connector in the initial network namespace, else a /proc rescan every second "
     "(daemon/trackers.py process_tracker); rebuilt by a reload that changes the blocks, the quorum "
     "states reaching the instances the reload builds")
mark("", SUPPORTED, "virtual_server SSL",
     "run by the checker child (daemon/checker/checker_child.py, check/from_config.py) on IPVS or nftables")
mark("", SUPPORTED, "virtual_server_group",
     "every entry (addresses, ranges `A.B.C.D-E`/`A-B`, prefixes `IP/NN`, `fwmark N [inet|inet6]`) is a "
     "service with the virtual server's real servers, on IPVS and nftables (check/from_config.py)")
mark("", SUPPORTED, "bfd_instance",
     "sessions run by the BFD child (daemon/bfd/bfd_child.py, docs/bfd.md: RFC 5880/5881, no authentication, "
     "no echo, no demand mode of our own); started by the parent unless -B")
mark("bfd_instance", SUPPORTED, "*")
mark("bfd_instance", EXTENSION, "multihop", "RFC 5883 (UDP 4784); keepalived 2.2.7 has no such keyword")
mark("bfd_instance", SUPPORTED, "weight",
     "the default weight/reverse of `track_bfd`; repeated, the last valid weight wins and a `reverse` "
     "on any line stays, as keepalived (config/bag_fields.py)")
mark("", SUPPORTED, "garp_group",
     "its garp_interval / gna_interval replace the global ones on its interfaces (daemon/vrrp/garp_pacing.py)")
mark("", SUPPORTED, "track_group",
     "the listed instances track the interface of each static address (`dev`), route (`dev`/`oif`) or "
     "rule (`iif`) naming the group, unless `no_track` (config/to_params.py track_group_interfaces)")
mark("", SUPPORTED, "linkbeat_interfaces linkbeat_use_polling",
     "the link state of those interfaces is polled once a second (MII BMSR, ethtool ETHTOOL_GLINK, "
     "SIOCGIFFLAGS, with keepalived's fallback order and lines) instead of read from netlink "
     "(linux/linkbeat.py, daemon/vrrp/link_polling.py)")
mark("", SUPPORTED, "interface_up_down_delays",
     "netlink link changes debounced per interface, delays clamped per instance, keepalived's lines "
     "(daemon/vrrp/linkdelay.py); keepalived 2.2.7 has no instance-level equivalent")
mark("", SUPPORTED, "net_namespace",
     "the parent joins /run/netns/NAME before any child, with keepalived's /run/keepalived/NAME bind "
     "mount, `_NAME` idents and log names (docs/operations.md)")
mark("", PARTIAL, "net_namespace_ipvs",
     "the IPVS worker thread of the checker joins the namespace (no name: pid 1's); the nftables data "
     "plane ignores it")
mark("", NO_EFFECT, "namespace_with_ipsets", "no ipset support (as keepalived 2.2.7 as packaged)")
mark("", SUPPORTED, "instance use_pid_dir",
     "pid files in /run/keepalived/ (`keepalived_NAME.pid`, ...), `_NAME` syslog idents and log names")
mark("", SUPPORTED, "child_wait_time")

# --- global_defs -------------------------------------------------------------------------------
G = "global_defs"
S[(G, "*")] = (NOT_YET, "")
mark(G, SUPPORTED, "vrrp_version vrrp_mcast_group4 vrrp_mcast_group6 vrrp_startup_delay "
     "vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_lower_prio_no_advert "
     "vrrp_higher_prio_send_advert vrrp_owner_ignore_adverts vrrp_down_timer_adverts "
     "vrrp_garp_master_delay vrrp_garp_master_repeat vrrp_garp_master_refresh "
     "vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat "
     "vrrp_min_garp v3_checksum_as_v2 script_user",
     "")
mark(G, SUPPORTED, "enable_script_security",
     "keepalived's checks (track/security.py) at start, at every reload and under `-t` (`Disabling track "
     "script X due to insecure`, exit 5); without it, keepalived's `SECURITY VIOLATION - scripts are being "
     "executed but script_security not enabled.` line, at run time too")
mark(G, SUPPORTED, "vrrp_strict",
     "keepalived's strict-mode configuration rules, and the `no_accept` nftables drop rules it implies "
     "(docs/vrrp.md)")
mark(G, SUPPORTED, "log_unknown_vrids",
     "logged with keepalived's text (with `from ADDR` when unicast peers do not match); always counted "
     "(`pykeepalived_unknown_vrid_received_total`)")
mark(G, SUPPORTED, "vmac_prefix", "names VMACs without a configured name (`PREFIX.VRID`)")
mark(G, SUPPORTED, "default_interface", "for static_ipaddress entries without `dev`")
mark(G, SUPPORTED, "router_id notification_email notification_email_from smtp_server smtp_helo_name "
     "smtp_connect_timeout smtp_alert smtp_alert_vrrp",
     "VRRP instance and sync group transitions are mailed by the VRRP child, real and virtual server "
     "transitions by the checker child (daemon/trackers.py smtp_alerter)")
mark(G, SUPPORTED, "smtp_alert_checker no_checker_emails",
     "real/virtual server alerts are mailed by the checker child (notify/checker_mail.py)")
mark(G, SUPPORTED, "no_email_faults", "no mail for a VRRP instance or sync group entering FAULT")
mark(G, SUPPORTED, "process_names process_name checker_process_name vrrp_process_name bfd_process_name",
     "prctl(PR_SET_NAME) in each process (docs/operations.md)")
mark(G, SUPPORTED, "vrrp_priority vrrp_no_swap vrrp_rt_priority vrrp_cpu_affinity checker_priority "
     "checker_no_swap checker_rt_priority checker_cpu_affinity bfd_priority bfd_no_swap bfd_rt_priority "
     "bfd_cpu_affinity", "applied at the start of each child (linux/sched.py)")
mark(G, PARTIAL, "vrrp_rlimit_rttime checker_rlimit_rttime bfd_rlimit_rttime",
     "applied as given; when not set the default is 1 s, not keepalived's 10 ms (a Python child would be "
     "killed at start)")
mark(G, SUPPORTED, "startup_script startup_script_timeout shutdown_script shutdown_script_timeout",
     "run by the parent before the first child / after the last one stopped (daemon/parent/startstop.py)")
mark(G, SUPPORTED, "reload_check_config", "the parent runs `--config-test=FILE` before a reload")
mark(G, SUPPORTED, "umask", "every process (default 0177 as keepalived; `-u` wins)")
mark(G, SUPPORTED, "notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script",
     "VRRP lines from the VRRP child; notify_fifo also gets the checker child's `VS`/`RS` lines")
mark(G, SUPPORTED, "lvs_notify_fifo lvs_notify_fifo_script", "written by the checker child")
mark(G, SUPPORTED, "vrrp_notify_priority_changes",
     "FIFO line `INSTANCE \"VI_1\" MASTER_PRIORITY|BACKUP_PRIORITY PRIO` on each effective priority change "
     "(as keepalived: FIFO only, no script); overridden by the sync group's and the instance's own")
mark(G, SUPPORTED, "fifo_write_vrrp_states_on_reload",
     "after a reload, every sync group kept and every kept instance in BACKUP or FAULT re-writes its "
     "state line; a MASTER kept writes none, as keepalived 2.2.7 (daemon/vrrp/reload_states.py)")
mark(G, SUPPORTED, "max_auto_priority min_auto_priority_delay",
     "the VRRP child's timer late by more than the delay logs `A thread timer expired ...` and raises "
     "the child to SCHED_RR one step per late timer up to the maximum (daemon/vrrp/autoprio.py); the parent "
     "logs keepalived's NOTICE when max_auto_priority is unset or 0")
mark(G, NO_EFFECT, "vrrp_delay_after_boot",
     "not in keepalived 2.2.7 (2.2.7 reports `Unknown keyword`); accepted and ignored")
mark(G, SUPPORTED, "disable_local_igmp",
     "net.ipv4.igmp_link_local_mcast_reports 0 while the VRRP child runs, restored at stop; a change "
     "at a reload is refused (linux/igmp.py)")
mark(G, SUPPORTED, "dynamic_interfaces",
     "instances on interfaces that do not exist wait in FAULT and start when the interface is created "
     "(or re-created), with keepalived's lines (daemon/vrrp/dynif.py); a re-created interface is used "
     "whatever its type, as with `allow_if_changes` (keepalived without it ignores one that changed "
     "between macvlan and not, or to another parent)")
mark(G, SUPPORTED, "checker_log_all_failures")
mark(G, SUPPORTED, "lvs_flush",
     "IPVS: the whole table is flushed at start (IPVS_CMD_FLUSH); nftables: pykeepalived's own tables "
     "(always reset)")
mark(G, SUPPORTED, "lvs_flush_on_stop",
     "bare: IPVS flushed at stop (nftables: our own tables); `VS`: our services removed, as without the "
     "keyword; nothing with `--dont-release-ipvs` (daemon/checker/lvs_apply.py)")
mark(G, SUPPORTED, "lvs_timeouts",
     "IPVS: IPVS_CMD_SET_CONFIG at checker start and reload, the kernel's values restored at stop; "
     "nftables: `ct timeout` objects on the virtual services' connections (tcp → established, tcpfin → "
     "fin_wait/close_wait/last_ack, udp → both UDP states; linux/nft_lb.py)")
mark(G, SUPPORTED, "lvs_sync_daemon",
     "IPVS sync daemon: tied to an instance, the VRRP child runs master while it is MASTER, backup "
     "otherwise; untied, the checker child runs both (linux/ipvs_sync.py). No IPVS (nftables plane): "
     "logged once, not run")
mark(G, SUPPORTED, "rs_init_notifies", "at start (and for real servers new in a reload) every real server "
     "added alive gets its notify_up and FIFO `RS ... UP` line, before the quorum's (ipwrapper.c "
     "init_service_rs); those starting down (alpha) get none")
mark(G, SUPPORTED, "vrrp_garp_interval vrrp_gna_interval",
     "GARPs (NAs) on a base interface spaced by the interval as keepalived 2.2.7 does it: an address "
     "queued again is sent once (daemon/vrrp/garp_pacing.py)")
mark(G, SUPPORTED, "vrrp_garp_extra_if",
     "default of the instances' garp_extra_if (its `all` too), as keepalived 2.2.7 (docs/vrrp.md)")
mark(G, SUPPORTED, "vmac_addr_prefix", "names the VMACs of use_vmac_addr (else vmac_prefix)")
mark(G, SUPPORTED, "nftables nftables_priority nftables_ifindex nftables_counters",
     "the VRRP firewall table (no_accept drop rules, VMAC IGMP/MLD), as keepalived 2.2.7 lays it out "
     "(linux/vrrp_nft.py, docs/vrrp.md)")
mark(G, SUPPORTED, "vrrp_iptables",
     "as keepalived 2.2.7 built without iptables (Debian's): error `iptables not supported, using "
     "nftables instead...`, then nftables table `keepalived`")
mark(G, NO_EFFECT, "vrrp_ipsets",
     "reported as `Unknown keyword`, as keepalived 2.2.7 built without ipset support (Debian's) does; "
     "the firewall is nftables (see `vrrp_iptables`)")
mark(G, NO_EFFECT, "nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark",
     "accepted and ignored: keepalived then marks a virtual_server_group's addresses with nftables and "
     "programs one IPVS fwmark service per group; pykeepalived programs one service per group entry, as "
     "keepalived without these keywords (docs/checkers-lvs.md)")
mark(G, SUPPORTED, "state_dump_file",
     "keepalived 2.3+: places the SIGUSR1 files of every process (docs/operations.md; "
     "daemon/dumpfiles.py)")
mark(G, SUPPORTED, "stats_dump_file json_dump_file",
     "keepalived 2.3+: placed as its manual says (its code still writes them in the tmp directory)")
mark(G, SUPPORTED, "json_version",
     "keepalived 2.3+: version 2 is {\"vrrp\": [...], \"track_process\": [...]}")
mark(G, SUPPORTED, "data_use_instance", "`.NS_INSTANCE` before the extension of the state and stats files")
mark(G, SUPPORTED, "reload_time_file reload_repeat",
     "the parent reloads at the time in the file, with keepalived's log lines (daemon/parent/parent_files.py); "
     "checked once a second instead of inotify")
mark(G, SUPPORTED, "reload_file", "exists while the parent reads the configuration")
mark(G, SUPPORTED, "include_check",
     "checks of the following includes; a failed one makes -t and the daemon exit 6 "
     "(config/include_check.py)")
mark(G, SUPPORTED, "config_save_dir",
     "the parent's configuration copies (written from pykeepalived's model) and the children's "
     "pre/post reload data dumps")
mark(G, SUPPORTED, "tmp_config_directory",
     "the parent's configuration copy is an O_TMPFILE there; refused change at a reload")
mark(G, SUPPORTED, "random_seed",
     "as keepalived documents it (glibc random() after srandom(N)); keepalived 2.2.7 itself clears the "
     "seed before using it")
mark(G, SUPPORTED, "use_symlink_paths", "keepalived 2.3+: script paths through symlinks kept")
mark(G, SUPPORTED, "set_supplementary_groups", "newer than keepalived 2.4.3: scripts get the user's groups")
mark(G, SUPPORTED, "iproute_usr_dir iproute_etc_dir",
     "keepalived 2.3+: where rt_tables etc. are read, with NAME.d; 2.2.7 reads /etc/iproute2 only")
mark(G, SUPPORTED, "vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force "
     "vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force lvs_netlink_cmd_rcv_bufs "
     "lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force "
     "process_monitor_rcv_bufs process_monitor_rcv_bufs_force",
     "SO_RCVBUF / SO_RCVBUFFORCE on the matching socket (linux/rcvbuf.py)")
mark(G, PARTIAL, "vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier",
     "the VRRP receive sockets' SO_RCVBUF as keepalived sums it, set as instances join a socket; not "
     "recomputed when an interface's MTU changes")
mark(G, PARTIAL, "enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 "
     "enable_snmp_rfcv3 enable_snmp_checker enable_traps snmp_socket",
     "the VRRP and checker children are AgentX subagents of snmpd: KEEPALIVED-MIB global, vrrp and "
     "check (every table 2.2.7 has), VRRP-MIB, VRRPV3-MIB and their traps; SNMP sets are refused and "
     "the check subtree's rate columns are 0 (docs/snmp.md)")
mark(G, NO_EFFECT, "snmp_vs_stats_update_interval snmp_rs_stats_update_interval",
     "keepalived 2.2.7 has no such setting: the check subtree's counters are read every 5 s, 2.2.7's "
     "fixed STATS_REFRESH (docs/snmp.md)")
mark(G, SUPPORTED, "enable_dbus dbus_service_name",
     "keepalived's DBus service org.keepalived.Vrrp1 on the system bus: objects, methods, properties, "
     "signals (docs/operations.md, DBus)")
mark(G, SUPPORTED, "dbus_no_interface_name",
     "keepalived 2.3+: the interface part of the DBus path of an instance without an interface (default "
     "`none`, 2.2.7's fixed name); keepalived 2.2.7 logs it as an unknown keyword")
mark(G, EXTENSION, "pykeepalived_metrics_address",
     "Prometheus endpoint, opt-in, `[ADDRESS][:PORT]`, default 127.0.0.1:9650; the checker child "
     "serves its real/virtual server states on the same address, port + 1")
mark(G, EXTENSION, "pykeepalived_control_socket",
     "control socket path (default pykeepalived.sock next to the VRRP pid file), `off` disables it")
mark(G, EXTENSION, "lvs_dataplane",
     "`auto|ipvs|nftables`, default auto: IPVS when the kernel has it, else nftables")

# --- vrrp_instance -----------------------------------------------------------------------------
V = "vrrp_instance"
S[(V, "*")] = (NOT_YET, "")
mark(V, SUPPORTED, "state interface virtual_router_id priority advert_int version native_ipv6 "
     "virtual_ipaddress virtual_ipaddress_excluded no_virtual_ipaddress nopreempt preempt preempt_delay "
     "down_timer_adverts authentication unicast_peer unicast_src_ip mcast_src_ip mcast_dst_ip "
     "check_unicast_src unicast_ttl old_unicast_checksum v3_checksum_as_v2 lower_prio_no_advert "
     "higher_prio_send_advert owner_ignore_adverts skip_check_adv_addr dont_track_primary "
     "garp_master_delay garp_master_repeat garp_master_refresh garp_master_refresh_repeat "
     "garp_lower_prio_delay garp_lower_prio_repeat track_script track_interface notify_master "
     "notify_backup notify_fault notify_stop notify notify_deleted notify_master_rx_lower_pri")
mark(V, SUPPORTED, "track_file track_process", "weight and `reverse` as keepalived (vrrp/tracking.py)")
mark(V, SUPPORTED, "lvs_sync_daemon_interface", "as global `lvs_sync_daemon IF inst THIS_INSTANCE`")
mark(V, SUPPORTED, "use_vmac vmac_xmit_base",
     "macvlan with keepalived's name and MAC (linux/vmac.py); VIPs, GARP and adverts on it, "
     "adverts on the parent with vmac_xmit_base; IGMP/MLD reports moved to the parent with nftables "
     "as keepalived does; removed at stop")
mark(V, SUPPORTED, "smtp_alert", "given `smtp_server` and `notification_email` in global_defs")
mark(V, SUPPORTED, "strict_mode",
     "keepalived's strict-mode configuration rules, and the `no_accept` nftables drop rules it implies")
mark(V, PARTIAL, "virtual_routes virtual_rules",
     "installed after the VIPs on becoming MASTER, removed before them on leaving it; one deleted "
     "externally is not restored until the next transition")
mark(V + " > authentication", SUPPORTED, "auth_type auth_pass")
mark(V, EXTENSION, "bgp_announce",
     "announce `addresses` as host routes through the local FRR (docs/bgp.md): a TUN anchor the VRRP "
     "child holds, redistributed by zebra/bgpd, withdrawn when the instance leaves MASTER (mode master) "
     "or FAULTs (mode anycast), and when the daemon stops or dies")
mark(V + " > bgp_announce", EXTENSION, "mode anchor backup_anchor addresses", "docs/bgp.md")
mark(V, SUPPORTED, "accept", "the default (unless strict mode): no drop rules")
mark(V, SUPPORTED, "no_accept",
     "a non-owner MASTER drops traffic to/from its VIPs and eVIPs with keepalived's nftables table "
     "(linux/vrrp_nft.py, docs/vrrp.md)")
mark(V, SUPPORTED, "track_bfd",
     "events from the BFD child on the parent's pipe (daemon/bfd_events.py); a session starts Down; "
     "default weight/reverse from the `bfd_instance`; a `checker`-only session is not found "
     "(docs/tracking.md)")
mark(V, SUPPORTED, "kernel_rx_buf_size",
     "the instance's share of its receive socket's SO_RCVBUF (see global_defs vrrp_rx_bufs_policy)")
mark(V, SUPPORTED, "use_vmac_addr",
     "a VMAC per other interface / other family for the VIPs/eVIPs living there (deleted at stop, "
     "unlike 2.2.7 which leaves them; a MAC given to use_vmac is not applied to them)")
mark(V, NOT_YET, "use_ipvlan", "no ipvlan driver in the test kernel")
mark(V, NOT_YET, "vrf", "accepted and ignored; no vrf driver in the test kernel to bind a unicast instance to")
mark(V, NOT_YET, "timer_expired_backup",
     "newer than 2.2.7 (its `keepalived -t` calls it unknown); accepted and ignored")
mark(V, SUPPORTED, "promote_secondaries",
     "sysctl set on the interface, back to 0 at stop; refused with use_vmac (VMACs get it)")
mark(V, SUPPORTED, "unicast_fault_no_peer",
     "no peers: `Cannot use unicast without any peers - going to fault state`, FAULT for good")
mark(V, NO_EFFECT, "track_src_ip",
     "as keepalived 2.2.7, whose address comparison never matches (docs/vrrp.md)")
mark(V, SUPPORTED, "notify_priority_changes", "see global_defs vrrp_notify_priority_changes")
mark(V, SUPPORTED, "garp_extra_if vmac_garp_intvl",
     "while MASTER, one GARP/NA every SECS (checked at advert time) on each address VMAC, or with "
     "`all` each other interface (vrrp/garp_extra.py); 2.2.7's syntax `[all] SECS`")
mark(V, NO_EFFECT, "debug", "accepted and ignored, as keepalived does")
mark(V, SUPPORTED, "linkbeat_use_polling",
     "deprecated in keepalived: polls the instance's interface (see top-level linkbeat_interfaces)")

SG = "vrrp_sync_group"
S[(SG, "*")] = (NOT_YET, "")
mark(SG, SUPPORTED, "group notify_master notify_backup notify_fault notify_stop notify")
mark(SG, SUPPORTED, "track_script track_interface track_file track_process",
     "added to every member (config/to_params.py instance_tracks): unweighted (a failure puts the whole "
     "group in FAULT) unless `sync_group_tracking_weight`, which also keeps the members' own weighted "
     "trackers (otherwise adjusted with keepalived's messages: config/sync_tracking.py)")
mark(SG, SUPPORTED, "sync_group_tracking_weight",
     "the group's and the members' trackers keep their weights (an address-owner member clears the group's)")
mark(SG, SUPPORTED, "track_bfd", "added to every member, as the group's other trackers")
mark(SG, SUPPORTED, "smtp_alert",
     "the group's own setting, else global_defs smtp_alert_vrrp, else smtp_alert (members keep theirs)")
mark(SG, SUPPORTED, "notify_priority_changes",
     "the default of its members without their own (see global_defs vrrp_notify_priority_changes)")
mark(SG, NO_EFFECT, "global_tracking", "deprecated in keepalived too (logged)")

mark("vrrp_script", SUPPORTED, "script interval timeout weight rise fall user init_fail")

# --- virtual_server ----------------------------------------------------------------------------
VS = "virtual_server"
RS = VS + " > real_server"
S[(VS, "*")] = (SUPPORTED, "")
NFT_ONLY_IPVS = "IPVS only; the nftables data plane ignores it"
mark(VS, SUPPORTED, "lb_algo lvs_sched",
     "IPVS schedulers as named; the nftables data plane approximates least-connection ones "
     "(docs/checkers-lvs.md)")
mark(VS, PARTIAL, "lb_kind lvs_method",
     "NAT, DR and TUN with IPVS and nftables (TUN `type`/`port`/`nocsum` options ignored: IPIP / ip6ip6; "
     "nftables DR / TUN through per-real-server policy routing, docs/checkers-lvs.md)")
mark(VS, SUPPORTED, "persistence_timeout persistence_granularity",
     "IPVS templates; nftables: a per-service timeout map keyed by the masked client address")
mark(VS, SUPPORTED, "persistence_engine ops flag-1 flag-2 flag-3 sh-port sh-fallback mh-port mh-fallback",
     NFT_ONLY_IPVS)
mark(VS, NO_EFFECT, "hashed", "no effect in keepalived either")
mark(VS, SUPPORTED, "ha_suspend",
     "services and checkers follow the VS addresses configured on the host, through address events "
     "(daemon/checker/checker_child.py); per group entry for a virtual_server_group; fwmark services never suspend")
mark(VS, SUPPORTED, "smtp_alert", "quorum gained/lost (and omega shutdown) mails; default "
     "smtp_alert_checker, else smtp_alert, else off")
mark(VS, SUPPORTED, "snmp_name", "KEEPALIVED-MIB virtualServerName (docs/snmp.md)")
mark(RS, SUPPORTED, "uthreshold lthreshold", NFT_ONLY_IPVS)
mark(RS, PARTIAL, "lvs_method", "as `lb_kind`")
mark(RS, SUPPORTED, "smtp_alert", "a mail per checker up/down with the checker's text; default "
     "smtp_alert_checker, else smtp_alert, else **on**")
mark(RS, SUPPORTED, "snmp_name", "KEEPALIVED-MIB realServerName (docs/snmp.md)")
mark(RS, SUPPORTED, "BFD_CHECK",
     "the real server follows the BFD child's events for the session (check/scheduler.py bfd_event); "
     "`alpha`: starts down (docs/checkers-lvs.md)")
S[(RS + " > BFD_CHECK", "*")] = (SUPPORTED, "")
for chk in ("HTTP_GET", "SSL_GET"):
    mark(f"{RS} > {chk}", SUPPORTED, "fast_recovery",
         "url after url without delay_loop while the checker is down and no url failed (one url per "
         "probe, as keepalived: check/http_state.py)")
    mark(f"{RS} > {chk} > url", PARTIAL, "regex", "matched with Python's `re`, not PCRE2 (same for "
         "common patterns), over the whole response, headers included, as keepalived")
    mark(f"{RS} > {chk} > url", SUPPORTED, "regex_min_offset regex_max_offset",
         "byte offsets into the response, exactly as keepalived")
    mark(f"{RS} > {chk} > url", PARTIAL, "regex_options",
         "caseless multiline dotall extended utf ucp firstline mapped; optimiser-only options accepted; "
         "ungreedy dollar_endonly dupnames allow_empty_class alt_* match_unset_backref use_offset_limit "
         "ignored with a warning (check/probes/regex.py)")
    mark(f"{RS} > {chk} > url", NO_EFFECT, "regex_stack", "PCRE2 JIT stack size: Python's `re` has none")
mark(f"{RS} > SSL_GET", EXTENSION, "tls_compliant",
     "keepalived 2.2.8+ (2.2.7 reports it unknown): send a TLS close_notify when closing")
mark(f"{RS} > SSL_GET > url", EXTENSION, "tls_compliant", "as the checker's, for this url")
mark(f"{RS} > HTTP_GET", NO_EFFECT, "tls_compliant", "SSL_GET only")
mark(f"{RS} > HTTP_GET > url", NO_EFFECT, "tls_compliant", "SSL_GET only")
mark(RS + " > MISC_CHECK", SUPPORTED, "misc_path",
     "checked as keepalived's check_misc_script_security (path search, realpath, executable, and "
     "with enable_script_security the path's permissions); runs as `user`, else `script_user`")


# keepalived -t beside pykeepalived -t on tests/data/wild-configs (tests/config/test_wild_configs.py,
# whose EXPLAINED list points at these anchors)
CONFIG_TEST = [
    "## keepalived -t on real-world files",
    "",
    "tests/config/test_wild_configs.py runs `keepalived -t` and `pykeepalived -t` on 136 keepalived.conf",
    "files from public repositories (tests/data/wild-configs, SOURCES.tsv says where each came from) in a",
    "namespace holding the interfaces they name. The exit status and the messages (each `(Line N) text`",
    "once: see migration.md, `-t` prints each message once) are keepalived's on all 136 files. A",
    "difference that has to stay would be listed here, one entry per kind with its reason and an anchor",
    "the test's EXPLAINED list points at; there is none today.",
    "",
    "Found and made keepalived's on the way (now compared on every file): a keyword missing its value",
    "stops the reading as keepalived's `*** Configuration line starting ... is missing a parameter`",
    "(exit 2, the messages of the readings before it only); `script_user` naming no user; `user` of a",
    "vrrp_script; a `track_script` naming a script defined further down; `smtp_server` checked and",
    "resolved while reading (a host name that does not resolve where `-t` runs is `Invalid smtp",
    "server`, on both); `persistence_timeout 0`; the `quorum` and `smtp_connect_timeout` messages; a",
    "duplicate `vrrp_instance` or a virtual server with a bad address skips its block unread;",
    "`lvs_sync_daemon_interface` given twice; malformed `unicast_src_ip`/`unicast_peer`; track script",
    "options; no `vrrp_complete_init` messages once an interface is missing; scripts disabled by the",
    "security check are no longer tracked; track_interface options are read after the interface is",
    "found, with keepalived's messages.",
    "",
]


def walk(table: dict[str, Kw], path: str) -> Iterator[tuple[str, str, Kw]]:
    for kw, spec in table.items():
        yield path, kw, spec
        if spec.block:
            yield from walk(spec.block, f"{path} > {kw}" if path else kw)


def status_of(block: str, kw: str, spec: Kw) -> tuple[str, str]:
    if (block, kw) in S:
        st, note = S[(block, kw)]
    else:
        top = block.split(" > ")[0]
        st, note = S.get((block, "*"), S.get((top, "*"), S.get(("", top), (NOT_YET, ""))))
        if top in ("bfd_instance", "track_file", "vrrp_track_file", "vrrp_track_process", "SSL",
                   "garp_group", "track_group") and st != SUPPORTED:
            note = f"see `{top}`"
    if spec.alias and (block, spec.alias) in S:
        st = S[(block, spec.alias)][0]
    if spec.alias:
        note = (f"deprecated spelling of `{spec.alias}`" + (f"; {note}" if note else "")).strip()
    return st, note


def render() -> str:
    rows: dict[str, list[tuple[str, str, str]]] = {}
    for block, kw, spec in walk(ROOT, ""):
        st, note = status_of(block, kw, spec)
        rows.setdefault(block or "top level", []).append((kw, st, note))
    counts: dict[str, int] = {}
    for items in rows.values():
        for _, st, _ in items:
            counts[st] = counts.get(st, 0) + 1
    out = [
        "# Compatibility with keepalived 2.2.7",
        "",
        "<!-- generated by docs/gen_compat.py from src/pykeepalived/config/grammar.py: do not edit -->",
        "",
        "Every keyword pykeepalived's parser knows, and what the running daemon does with it today.",
        "All of them are parsed and validated with keepalived's messages (`pykeepalived -t`), so a",
        "keepalived.conf is accepted or rejected as keepalived 2.2.7 would; the status says whether the",
        "daemon acts on it.",
        "",
        "| status | meaning |",
        "|---|---|",
        f"| {SUPPORTED} | implemented in the running daemon, keepalived's behaviour |",
        f"| {PARTIAL} | implemented in part (the note says what is missing) |",
        f"| {NOT_YET} | parsed and checked, no effect yet |",
        f"| {NO_EFFECT} | accepted on purpose without effect (the note says what to use instead) |",
        f"| {EXTENSION} | pykeepalived only; keepalived 2.2.7 rejects it |",
        "",
        "Totals: " + ", ".join(f"{n} {st}" for st, n in sorted(counts.items())) + ".",
        "",
    ]
    for block, items in rows.items():
        out += [f"## `{block}`", "", "| keyword | status | notes |", "|---|---|---|"]
        out += [f"| `{kw}` | {st} | {note} |" for kw, st, note in items]
        out.append("")
    out += CONFIG_TEST
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
