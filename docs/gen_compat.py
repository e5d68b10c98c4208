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
mark("", SUPPORTED, "global_defs vrrp_instance vrrp_sync_group vrrp_script")
mark("", NOT_YET, "static_ipaddress static_routes static_rules",
     "parsed and checked; the VRRP child does not configure static addresses/routes/rules yet")
mark("", NOT_YET, "virtual_server virtual_server_group SSL",
     "the checker runtime (probes, quorum, IPVS/nftables data plane) is implemented and tested, "
     "but the daemon does not start a checker child yet")
mark("", NOT_YET, "bfd_instance", "no BFD child")
mark("", NOT_YET, "track_file vrrp_track_file vrrp_track_process",
     "trackers implemented in pykeepalived.track, not yet run by the VRRP child")
mark("", NOT_YET, "net_namespace net_namespace_ipvs namespace_with_ipsets instance use_pid_dir "
     "child_wait_time linkbeat_interfaces linkbeat_use_polling track_group garp_group "
     "interface_up_down_delays")

# --- global_defs -------------------------------------------------------------------------------
G = "global_defs"
S[(G, "*")] = (NOT_YET, "")
mark(G, SUPPORTED, "vrrp_version vrrp_mcast_group4 vrrp_mcast_group6 vrrp_strict vrrp_startup_delay "
     "vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_lower_prio_no_advert "
     "vrrp_higher_prio_send_advert vrrp_owner_ignore_adverts vrrp_down_timer_adverts log_unknown_vrids "
     "vrrp_garp_master_delay vrrp_garp_master_repeat vrrp_garp_master_refresh "
     "vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat "
     "vrrp_min_garp v3_checksum_as_v2 enable_script_security script_user",
     "")
mark(G, PARTIAL, "router_id notification_email notification_email_from smtp_server smtp_helo_name "
     "smtp_connect_timeout smtp_alert smtp_alert_vrrp smtp_alert_checker",
     "parsed; the SMTP alerter exists (pykeepalived.notify.smtp) but the daemon does not send mail yet")
mark(G, NOT_YET, "notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script "
     "vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload",
     "FIFO writer implemented in pykeepalived.notify.fifo, not yet connected to the daemon")
mark(G, PARTIAL, "state_dump_file stats_dump_file json_dump_file json_version",
     "the files are written (keepalived.data/.stats/.json in $TMPDIR or /tmp, atomically) but these "
     "keywords do not move them yet; the control socket serves the json_version 2 shape")
mark(G, NO_EFFECT, "enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 "
     "enable_snmp_rfcv3 enable_snmp_checker enable_traps snmp_socket snmp_vs_stats_update_interval "
     "snmp_rs_stats_update_interval enable_dbus dbus_service_name dbus_no_interface_name",
     "no SNMP/DBus: use the Prometheus endpoint and the control socket (docs/operations.md)")
mark(G, EXTENSION, "pykeepalived_metrics_address",
     "Prometheus endpoint, opt-in, `[ADDRESS][:PORT]`, default 127.0.0.1:9650")
mark(G, EXTENSION, "pykeepalived_control_socket",
     "control socket path (default pykeepalived.sock next to the VRRP pid file), `off` disables it")

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
     "notify_backup notify_fault notify_stop notify notify_deleted notify_master_rx_lower_pri strict_mode")
mark(V + " > authentication", SUPPORTED, "auth_type auth_pass")
mark(V, PARTIAL, "accept", "VIPs are plain addresses, so traffic to them is always accepted")
mark(V, NOT_YET, "no_accept", "no firewall rules are installed, traffic to VIPs is accepted")
mark(V, NOT_YET, "track_file track_process track_bfd",
     "tracking arithmetic implemented in the core; these trackers are not yet run by the daemon")
mark(V, NOT_YET, "use_vmac use_vmac_addr vmac_xmit_base use_ipvlan",
     "macvlan helpers exist in pykeepalived.linux.vmac; instances run on the parent interface")
mark(V, NOT_YET, "virtual_routes virtual_rules", "parsed and checked, not installed")
mark(V, NOT_YET, "smtp_alert", "see global_defs smtp_*")
mark(V, NOT_YET, "notify_priority_changes", "FIFO only, see notify_fifo")
mark(V, NO_EFFECT, "debug", "accepted and ignored, as keepalived does")

SG = "vrrp_sync_group"
S[(SG, "*")] = (NOT_YET, "")
mark(SG, SUPPORTED, "group notify_master notify_backup notify_fault notify_stop notify")
mark(SG, NOT_YET, "track_script track_interface track_file track_process track_bfd "
     "sync_group_tracking_weight",
     "sync group level tracking is parsed; members follow their own trackers only")
mark(SG, NOT_YET, "smtp_alert notify_priority_changes")
mark(SG, NO_EFFECT, "global_tracking", "deprecated in keepalived too (logged)")

mark("vrrp_script", SUPPORTED, "script interval timeout weight rise fall user init_fail")


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
        if top in ("virtual_server", "bfd_instance", "track_file", "vrrp_track_file", "vrrp_track_process",
                   "SSL", "garp_group", "track_group"):
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
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
