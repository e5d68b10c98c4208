# Theory of operation
# -------------------
# Keywords without deep semantics stay in the model's `options` / `root_options` as (keyword, value)
# pairs in file order: the dump prints them back as written. The runtime must not look them up by
# name (issue 14, tests/test_keyword_bags.py): the builder reads each group of them here, once, into
# a typed record (GlobalDefs.snmp / dbus / dump_files / rcv_bufs / reload / process / garp_extra_if,
# Model.root, SyncGroup.smtp_alert / track_weight / notify_priority_changes, Named.bfd) that mypy
# checks, and the data dump, SNMP and the trackers all read the same value. The pairs hold the
# grammar's validated values (an invalid line was dropped); the last one of a keyword wins, but where
# keepalived's handler keeps part of an earlier line: a bfd_instance's `weight ... reverse` and
# vrrp_garp_extra_if's `all` stay once given (bfd_weight, garp_extra_if_defs).
"""Typed records of the keywords kept in the model's options (SNMP, DBus, dump files, receive buffers,
reload, process settings, extra-interface GARPs, root, sync groups, bfd_instance)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from pykeepalived.config.model import (
    BfdDefs,
    DbusDefs,
    DumpFileDefs,
    NetlinkBufs,
    ProcessDefs,
    RcvBufDefs,
    ReloadDefs,
    RootDefs,
    SchedDefs,
    SnmpDefs,
)
from pykeepalived.config.types import int_in

RX_BUFS_MULTIPLIER = 3


def _word(v: object) -> str | None:
    """A STR value, or the first word of a Words value; None when absent or empty."""
    if isinstance(v, tuple):
        v = v[0] if v else None
    return str(v) if v not in (None, "") else None


def snmp_defs(options: Iterable[tuple[str, object]]) -> SnmpDefs:
    o = dict(options)
    return SnmpDefs(vrrp=bool(o.get("enable_snmp_vrrp")), checker=bool(o.get("enable_snmp_checker")),
                    rfc=bool(o.get("enable_snmp_rfc")), rfcv2=bool(o.get("enable_snmp_rfcv2")),
                    rfcv3=bool(o.get("enable_snmp_rfcv3")), traps=bool(o.get("enable_traps")),
                    socket=str(o["snmp_socket"]) if o.get("snmp_socket") else None)


def dbus_defs(options: Iterable[tuple[str, object]]) -> DbusDefs:
    o = dict(options)
    return DbusDefs(enabled=bool(o.get("enable_dbus")),
                    service_name=str(o["dbus_service_name"]) if o.get("dbus_service_name") else None,
                    no_interface_name=str(o["dbus_no_interface_name"]) if o.get("dbus_no_interface_name")
                    else None)


def dump_file_defs(options: Iterable[tuple[str, object]]) -> DumpFileDefs:
    o = dict(options)
    version = o.get("json_version")
    return DumpFileDefs(state_dump_file=_word(o.get("state_dump_file")),
                        stats_dump_file=_word(o.get("stats_dump_file")),
                        json_dump_file=_word(o.get("json_dump_file")),
                        json_version=version if isinstance(version, int) and version else 1,
                        data_use_instance=bool(o.get("data_use_instance", False)))


def root_defs(options: Iterable[tuple[str, object]]) -> RootDefs:
    o = dict(options)
    ns, inst, wait, ipvs = o.get("net_namespace"), o.get("instance"), o.get("child_wait_time"), \
        o.get("net_namespace_ipvs")
    return RootDefs(linkbeat_use_polling="linkbeat_use_polling" in o,
                    net_namespace=ns if isinstance(ns, str) else None,
                    net_namespace_ipvs=tuple(str(w) for w in ipvs) if isinstance(ipvs, tuple) else None,
                    namespace_with_ipsets=bool(o.get("namespace_with_ipsets")),
                    use_pid_dir=bool(o.get("use_pid_dir")),
                    instance=inst if isinstance(inst, str) else None,
                    child_wait_time=wait if isinstance(wait, int) else None)


def netlink_bufs(options: Iterable[tuple[str, object]], name: str) -> NetlinkBufs | None:
    """(size, force) for NAME in vrrp_netlink_cmd, vrrp_netlink_monitor, lvs_netlink_cmd,
    lvs_netlink_monitor, process_monitor; None when neither keyword is given."""
    o = dict(options)
    size, force = o.get(f"{name}_rcv_bufs"), o.get(f"{name}_rcv_bufs_force")
    if size is None and force is None:
        return None
    return (int(str(size or 0)), bool(force))


def rx_bufs_policy(options: Iterable[tuple[str, object]]) -> tuple[str | None, int, int]:
    """(policy "MTU"|"ADVERT"|"SIZE"|None, size, multiplier) as keepalived's parser leaves it."""
    o = dict(options)
    raw = o.get("vrrp_rx_bufs_policy") or ()
    words: list[str] = raw.split() if isinstance(raw, str) else [str(w) for w in raw] \
        if isinstance(raw, tuple) else []
    mtu = advert = False
    size: int | None = None
    for w in words:
        if w.upper() == "MTU":
            mtu = True
        elif w.upper() == "ADVERT":
            advert = True
        elif str(words[0]).isdigit():  # keepalived reads the first word as the size
            size = int(words[0])
    mult = int(str(o.get("vrrp_rx_bufs_multiplier") or RX_BUFS_MULTIPLIER))
    if size is not None:
        return ("SIZE", size, mult)
    return ("MTU" if mtu else "ADVERT" if advert else None, 0, mult)


def rcv_buf_defs(options: Iterable[tuple[str, object]]) -> RcvBufDefs:
    o = tuple(options)
    return RcvBufDefs(vrrp_netlink_cmd=netlink_bufs(o, "vrrp_netlink_cmd"),
                      vrrp_netlink_monitor=netlink_bufs(o, "vrrp_netlink_monitor"),
                      lvs_netlink_cmd=netlink_bufs(o, "lvs_netlink_cmd"),
                      lvs_netlink_monitor=netlink_bufs(o, "lvs_netlink_monitor"),
                      process_monitor=netlink_bufs(o, "process_monitor"),
                      rx_bufs_policy=rx_bufs_policy(o))


def last_bool(options: Iterable[tuple[str, object]], keyword: str) -> bool | None:
    """The last `KEYWORD [BOOL]` (bare keyword: true), None when absent."""
    found: bool | None = None
    for kw, value in options:
        if kw == keyword:
            found = True if value is None else bool(value)
    return found


class SyncGroupFields(TypedDict):
    smtp_alert: bool | None
    track_weight: bool
    notify_priority_changes: bool | None


def sync_group_fields(options: Iterable[tuple[str, object]]) -> SyncGroupFields:
    """A vrrp_sync_group's typed fields: smtp_alert, track_weight (sync_group_tracking_weight, or the
    deprecated global_tracking: keepalived sets sgroup_tracking_weight for both),
    notify_priority_changes."""
    opts = tuple(options)
    return {"smtp_alert": last_bool(opts, "smtp_alert"),
            "track_weight": any(kw in ("sync_group_tracking_weight", "global_tracking") for kw, _ in opts),
            "notify_priority_changes": last_bool(opts, "notify_priority_changes")}


def garp_extra_if_defs(options: Iterable[tuple[str, object]]) -> tuple[int, bool]:
    """vrrp_garp_extra_if's (SECS, all) over its lines, as keepalived's handler leaves them: a line with
    a valid time sets it, `all` on any line (even one ignored for a bad time) stays set."""
    secs, all_if = 0, False
    for kw, v in options:
        if kw == "vrrp_garp_extra_if" and isinstance(v, tuple) and len(v) == 2:
            secs = v[0] if isinstance(v[0], int) and v[0] else secs
            all_if = all_if or bool(v[1])
    return secs, all_if


def reload_defs(options: Iterable[tuple[str, object]]) -> ReloadDefs:
    o = dict(options)
    rf, tmp, rtf = o.get("reload_file"), o.get("tmp_config_directory"), o.get("reload_time_file")
    words = None if rf is None else tuple(str(w) for w in rf) if isinstance(rf, (tuple, list)) \
        else (str(rf),) if rf not in ("", True) else ()
    return ReloadDefs(reload_file=words, tmp_config_directory=str(tmp) if tmp else None,
                      reload_time_file=str(rtf) if rtf else None,
                      reload_repeat=bool(o.get("reload_repeat", False)))


def _int(v: object) -> int | None:
    return None if v is None else int(str(v))


BFD_WEIGHT_MAX = 253


def bfd_weight(options: Iterable[tuple[str, object]]) -> tuple[int, bool]:
    """A bfd_instance's (weight, reverse) over all its `weight N [reverse]` lines, as keepalived's
    bfd_vrrp_weight_handler leaves them: a line with a valid N sets the weight (an invalid one leaves
    it), `reverse` on a line sets reverse and no later line clears it."""
    weight, reverse = 0, False
    for kw, v in options:
        if kw != "weight" or not isinstance(v, tuple) or not v:
            continue
        n = int_in(str(v[0]), -BFD_WEIGHT_MAX, BFD_WEIGHT_MAX)
        weight = weight if n is None else n
        reverse = reverse or (len(v) > 1 and v[1] == "reverse")
    return weight, reverse


def bfd_defs(options: Iterable[tuple[str, object]]) -> BfdDefs:
    opts = tuple(options)
    o = dict(opts)
    nbr, src = o.get("neighbor_ip"), o.get("source_ip")
    weight, reverse = bfd_weight(opts)
    return BfdDefs(neighbor_ip=None if nbr is None else str(nbr), source_ip=None if src is None else str(src),
                   min_rx_us=_int(o.get("min_rx")), min_tx_us=_int(o.get("min_tx")),
                   idle_tx_us=_int(o.get("idle_tx")), multiplier=_int(o.get("multiplier")),
                   ttl=int(str(o.get("ttl", o.get("hoplimit", 0)))), max_hops=int(str(o.get("max_hops", 0))),
                   passive=bool(o.get("passive")), multihop=bool(o.get("multihop")), vrrp=bool(o.get("vrrp")),
                   checker=bool(o.get("checker")), weight=weight, weight_reverse=reverse)


def _str(v: object) -> str | None:
    return v if isinstance(v, str) else None


def _num(v: object) -> int | None:
    return v if isinstance(v, int) else None


def _words(v: object) -> tuple[str, ...] | None:
    return tuple(str(w) for w in v) if isinstance(v, tuple) else None


def _script(v: object) -> tuple[str, str, str] | None:
    """A startup/shutdown script: the grammar's (command, user, group)."""
    return (str(v[0]), str(v[1]), str(v[2])) if isinstance(v, tuple) and len(v) == 3 else None


def _sched(o: dict[str, object], role: str) -> SchedDefs:
    cpus = o.get(f"{role}_cpu_affinity")
    return SchedDefs(priority=_num(o.get(f"{role}_priority")), no_swap=bool(o.get(f"{role}_no_swap")),
                     rt_priority=_num(o.get(f"{role}_rt_priority")),
                     rlimit_rttime=_num(o.get(f"{role}_rlimit_rttime")),
                     cpu_affinity=tuple(int(str(c)) for c in cpus) if isinstance(cpus, tuple) else None)


def process_defs(options: Iterable[tuple[str, object]]) -> ProcessDefs:
    o = dict(options)
    return ProcessDefs(process_names=bool(o.get("process_names")), process_name=_str(o.get("process_name")),
                       vrrp_process_name=_str(o.get("vrrp_process_name")),
                       checker_process_name=_str(o.get("checker_process_name")),
                       bfd_process_name=_str(o.get("bfd_process_name")),
                       vrrp_sched=_sched(o, "vrrp"), checker_sched=_sched(o, "checker"),
                       bfd_sched=_sched(o, "bfd"),
                       umask=_num(o.get("umask")),
                       startup_script=_script(o.get("startup_script")),
                       startup_script_timeout=_num(o.get("startup_script_timeout")),
                       shutdown_script=_script(o.get("shutdown_script")),
                       shutdown_script_timeout=_num(o.get("shutdown_script_timeout")),
                       reload_check_config=_words(o.get("reload_check_config")))
