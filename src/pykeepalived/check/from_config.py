"""Configuration model (config/model_lvs.py) → the checker's own specs (check/model.py).

# Theory of operation
A pure mapping, run by the checker child at start and at every reload. The configuration layer has
already applied keepalived's defaults and resolved checker timing (checker → real server → virtual
server → built-in, keepalived.md §1.12.5), so each checker's `TimingOpts` is filled completely and
`resolve_timing` just reads it back. What is left to do here is keepalived's start-up validation of a
virtual server (check_data.c validate_check_config, §1.12.3/§1.12.4):
  * real-server port: absent → the virtual server's port; forced to the VS port for DR/TUN;
  * persistence: `persistence_granularity` or port 0 without a timeout → 360 s;
  * quorum above the sum of the real servers' weights is reduced to that sum, and a hysteresis not
    below the quorum to quorum - 1 (both with a warning);
  * FILE_CHECK follows its `track_file` (path, and its weight/reverse unless the checker sets them);
  * SSL_GET gets the global `SSL { }` block as its client context;
  * a virtual server with no real servers is ignored; BFD_CHECK becomes a spec without a probe: the
    checker child feeds it the BFD child's events (daemon/bfd_events.py);
  * `virtual_server group NAME`: every entry of the group (addresses, ranges `A.B.C.D-E`, prefixes
    `IP/NN`, `fwmark N`) becomes a service of its own with the same real servers (`extra_keys`), as
    keepalived programs one IPVS service per group entry (§1.12.2).
Problems become `warnings` (keepalived's texts where it has one); the mapping itself never raises.
`scripts` collects every notify_up/down and quorum_up/down so the daemon can resolve them once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TypedDict

from pykeepalived.check.model import (
    SEC,
    BfdCheckSpec,
    CheckSpec,
    ConnOpts,
    DnsCheckSpec,
    FileCheckSpec,
    HttpCheckSpec,
    MiscCheckSpec,
    PingCheckSpec,
    RealServerSpec,
    SmtpCheckSpec,
    SslOpts,
    TcpCheckSpec,
    TimingOpts,
    UdpCheckSpec,
    UrlSpec,
    VirtualServerSpec,
)
from pykeepalived.check.probes.regex import compile_regex, unsupported_options
from pykeepalived.config import model_lvs as C
from pykeepalived.config.model import Model, TrackFile
from pykeepalived.lvs.model import Forwarding, Protocol, ServiceKey
from pykeepalived.notify.checker_mail import smtp_alert_flag

Script = tuple[str, str, str]
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class Mapped:
    services: list[VirtualServerSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)  # command text → (cmd, user, group)


def _s(us: int | None) -> float | None:
    return None if us is None else us / SEC


def _fwd(method: tuple[str, ...] | None) -> Forwarding | None:
    if not method:
        return None
    return Forwarding[method[0]] if method[0] in Forwarding.__members__ else None


def ssl_opts(model: Model) -> SslOpts:
    d = dict(model.ssl or ())
    return SslOpts(password=_str(d.get("password")), ca=_str(d.get("ca")),
                   certificate=_str(d.get("certificate")), key=_str(d.get("key")))


def _str(v: object) -> str | None:
    return None if v is None else str(v)


def _int(v: object) -> int:
    """A number of a `host { }` block (the grammar's Int and Timer values are ints)."""
    assert isinstance(v, int)
    return v


class _Common(TypedDict):
    """The fields every checker spec has."""

    conn: ConnOpts
    timing: TimingOpts
    log_all_failures: bool


def _conn(c: C.Checker) -> ConnOpts:
    return ConnOpts(connect_ip=_str(c.connect_ip), connect_port=c.connect_port, bindto=_str(c.bindto),
                    bind_port=c.bind_port, bind_if=c.bind_if, connect_timeout=_s(c.connect_timeout_us),
                    fwmark=c.fwmark or 0)


def _timing(c: C.Checker) -> TimingOpts:
    return TimingOpts(retry=c.retry, delay_before_retry=_s(c.delay_before_retry_us), warmup=_s(c.warmup_us),
                      delay_loop=_s(c.delay_loop_us), alpha=c.alpha, connect_timeout=_s(c.connect_timeout_us))


def _url(u: C.UrlSpec, warn: list[str]) -> UrlSpec:
    """A url block; keepalived's url_check() clean-up of the regex keywords (check_http.c)."""
    regex, opts = u.regex, u.regex_options
    lo, hi = u.regex_min_offset or 0, u.regex_max_offset
    no_match = u.regex_no_match
    if regex is None:
        if opts or no_match or lo or hi is not None or u.regex_stack:
            warn.append("regex parameters specified without regex")
        opts, no_match, lo, hi = (), False, 0, None
    elif isinstance(compiled := compile_regex(regex, opts), str):
        warn.append(compiled)  # keepalived logs it and the url keeps no regex
        regex, opts, no_match, lo, hi = None, (), False, 0, None
    else:
        for o in unsupported_options(opts):
            warn.append(f"regex option {o} has no equivalent in Python's re - ignored")
    if hi is not None and lo > hi:
        warn.append(f"regex min offset {lo} > regex_max_offset {hi} - ignoring")
        lo, hi = 0, None
    return UrlSpec(path=u.path, digest=u.digest, status_codes=u.status_code, virtualhost=u.virtualhost,
                   regex=regex, regex_no_match=no_match, regex_options=opts, regex_min_offset=lo,
                   regex_max_offset=hi, tls_compliant=bool(u.tls_compliant))


def _host_conn(base: ConnOpts, opts: C.Options) -> ConnOpts:
    """A deprecated SMTP_CHECK `host { }` block: its connection keywords over the checker's."""
    d = dict(opts)
    ct = d.get("connect_timeout")
    return ConnOpts(
        connect_ip=_str(d["connect_ip"]) if "connect_ip" in d else base.connect_ip,
        connect_port=_int(d["connect_port"]) if "connect_port" in d else base.connect_port,
        bindto=_str(d["bindto"]) if "bindto" in d else base.bindto,
        bind_port=_int(d["bind_port"]) if "bind_port" in d else base.bind_port,
        bind_if=_str(d["bind_if"]) if "bind_if" in d else base.bind_if,
        connect_timeout=_int(ct) / SEC if ct is not None else base.connect_timeout,
        fwmark=_int(d["fwmark"]) if "fwmark" in d else base.fwmark,
    )


def checker_specs(c: C.Checker, model: Model, log_all: bool, warn: list[str]) -> list[CheckSpec]:
    """One configured checker → its spec(s) (an SMTP_CHECK with `host` blocks gives several)."""
    common = _Common(conn=_conn(c), timing=_timing(c),
                     log_all_failures=log_all if c.log_all_failures is None else c.log_all_failures)
    match c:
        case C.HttpCheck():
            if not c.urls:
                warn.append(f"{c.kind} has no url - ignoring")
                return []
            return [HttpCheckSpec(urls=tuple(_url(u, warn) for u in c.urls), http_protocol=c.http_protocol,
                                  virtualhost=c.virtualhost, ssl=c.kind == "SSL_GET", enable_sni=c.enable_sni,
                                  sni_name=c.sni_name, tls_compliant=bool(c.tls_compliant),
                                  fast_recovery=c.fast_recovery,
                                  ssl_opts=ssl_opts(model) if c.kind == "SSL_GET" else SslOpts(),
                                  **common)]
        case C.SmtpCheck():
            if not c.hosts:
                return [SmtpCheckSpec(helo_name=c.helo_name, **common)]
            return [SmtpCheckSpec(helo_name=c.helo_name, conn=_host_conn(common["conn"], h),
                                  timing=common["timing"], log_all_failures=common["log_all_failures"])
                    for h in c.hosts]
        case C.MiscCheck():
            if c.misc_path is None:
                return []
            cmd, user, group = c.misc_path
            u = c.user or ((user,) if user else ())
            if not u and group:
                u = ("", group)
            return [MiscCheckSpec(misc_path=cmd, misc_timeout=_s(c.misc_timeout_us),
                                  misc_dynamic=c.misc_dynamic,
                                  user=u[0] if u and u[0] else None,
                                  group=(u[1].lstrip(":") or None) if len(u) > 1 else None,
                                  **common)]
        case C.DnsCheck():
            return [DnsCheckSpec(type=c.type, name=c.name, **common)]
        case C.UdpCheck():
            return [UdpCheckSpec(payload=c.payload_bytes, require_reply=c.require_reply is not None,
                                 reply_pattern=c.require_reply or None, min_reply_length=c.min_reply_length,
                                 max_reply_length=c.max_reply_length, **common)]
        case C.PingCheck():
            return [PingCheckSpec(**common)]
        case C.FileCheck():
            tf = _track_file(model, c.track_file)
            if tf is None:
                warn.append(f"FILE_CHECK track_file {c.track_file} not found - ignoring")
                return []
            weight, reverse = (tf.weight, tf.reverse) if c.weight is None else (c.weight, c.reverse)
            return [FileCheckSpec(track_file=tf.name, file_path=tf.file, weight=weight, reverse=reverse,
                                  **common)]
        case C.BfdCheck():
            return [BfdCheckSpec(name=c.name, **common)]
        case C.TcpCheck():
            return [TcpCheckSpec(**common)]
    warn.append(f"unknown checker {c.kind} - ignoring")
    return []


def _track_file(model: Model, name: str) -> TrackFile | None:
    return next((t for t in model.track_files if t.name == name), None)


MAX_GROUP_RANGE = 65536  # addresses one virtual_server_group range may expand to


def range_bounds(text: str) -> tuple[IPAddr, IPAddr]:
    """A group entry's address part: `IP`, `A.B.C.D-E`, `A.B.C.D-E.F.G.H`, `IP/NN` (and IPv6 forms,
    where a short range end is the last 16-bit group in hex): its first and last addresses. Raises
    ValueError on bad text."""
    first: IPAddr
    last: IPAddr
    if "/" in text:
        net = ipaddress.ip_network(text, strict=True)  # host bits must be 0 (keepalived.md §1.12.2)
        first, last = net.network_address, net.broadcast_address
    elif "-" in text:
        base, _, end = text.partition("-")
        first = ipaddress.ip_address(base)
        if "." in end or ":" in end:
            last = ipaddress.ip_address(end)
            if last.version != first.version:
                raise ValueError(f"{text}: range ends in another address family")
        elif first.version == 4:
            n = int(end, 10)
            if not 0 <= n <= 255:
                raise ValueError(f"{text}: range end {end} out of range")
            last = ipaddress.IPv4Address((int(first) & ~0xFF) | n)
        else:
            n = int(end, 16)
            if not 0 <= n <= 0xFFFF:
                raise ValueError(f"{text}: range end {end} out of range")
            last = ipaddress.IPv6Address((int(first) & ~0xFFFF) | n)
    else:
        first = last = ipaddress.ip_address(text)
    return first, last


def _range_addrs(text: str) -> list[IPAddr]:
    """Every address of a group entry's address part (range_bounds)."""
    first, last = range_bounds(text)
    count = int(last) - int(first) + 1
    if count < 1:
        raise ValueError(f"{text}: range end is below its start")
    if count > MAX_GROUP_RANGE:
        raise ValueError(f"{text}: range of {count} addresses exceeds {MAX_GROUP_RANGE}")
    cls = type(first)
    return [cls(int(first) + i) for i in range(count)]


def group_keys(name: str, entries: tuple[tuple[str, ...], ...], protocol: Protocol,
               warn: list[str]) -> list[ServiceKey]:
    """Every service of a virtual_server_group, in configuration order (bad entries skipped)."""
    keys: list[ServiceKey] = []
    for e in entries:
        if e[0] == "fwmark":
            if len(e) < 2 or not e[1].isdigit() or int(e[1]) > 0xFFFFFFFF:
                warn.append(f"virtual_server_group {name}: invalid fwmark entry '{' '.join(e)}' - ignoring")
                continue
            fam = 6 if len(e) > 2 and e[2] == "inet6" else 4
            keys.append(ServiceKey(fam, Protocol.NONE, None, 0, int(e[1])))
            continue
        try:
            addrs = _range_addrs(e[0])
            port = int(e[1]) if len(e) > 1 else 0
            if not 0 <= port <= 65535:
                raise ValueError(f"port {e[1]} out of range")
        except ValueError as exc:
            warn.append(f"virtual_server_group {name}: invalid entry '{' '.join(e)}' ({exc}) - ignoring")
            continue
        keys += [ServiceKey(a.version, protocol, str(a), port) for a in addrs]
    families = {k.family for k in keys}
    if len(families) > 1:
        warn.append(f"virtual_server_group {name} mixes IPv4 and IPv6 entries - each is served in its own"
                    " family")
    return list(dict.fromkeys(keys))  # a repeated entry is one service


def _group_key(model: Model, vs: C.VirtualServer, protocol: Protocol,
               warn: list[str]) -> tuple[ServiceKey, ...] | None:
    """A `virtual_server group NAME`: one service per entry of the group, all with the same pool."""
    entries = next((e for n, e in model.virtual_server_groups if n == vs.group), None)
    keys = group_keys(vs.group or "", entries, protocol, warn) if entries else []
    if not keys:
        warn.append(f"virtual_server_group {vs.group} not found or empty - ignoring virtual server")
        return None
    return tuple(keys)


def vs_spec(vs: C.VirtualServer, model: Model, out: Mapped) -> VirtualServerSpec | None:
    warn = out.warnings
    g = model.global_defs
    log_all = bool(g.checker_log_all_failures)
    protocol = Protocol.NONE if vs.kind == "fwmark" else Protocol[vs.protocol.upper()]
    extra: tuple[ServiceKey, ...] = ()
    if vs.kind == "fwmark":
        key: ServiceKey | None = ServiceKey(6 if vs.ip_family == "inet6" else 4, Protocol.NONE, None, 0,
                                            vs.fwmark or 0)
    elif vs.kind == "group":
        gkeys = _group_key(model, vs, protocol, warn)
        if gkeys is None:
            return None
        key, extra = gkeys[0], gkeys[1:]
    else:
        assert vs.address is not None
        key = ServiceKey(vs.address.version, protocol, str(vs.address), vs.port or 0)
    if key is None:
        return None
    fmt = f"[{vs.group}]:{key.port}" if vs.kind == "group" else str(key)
    if not vs.real_servers:
        warn.append(f"Virtual server {fmt} has no real servers - ignoring")
        return None
    vs_fwd = _fwd(vs.lb_kind) or Forwarding.NAT
    rss = []
    for r in vs.real_servers:
        fwd = _fwd(r.lvs_method)
        port = r.port if r.port else key.port
        if (fwd or vs_fwd) is not Forwarding.NAT and key.fwmark == 0 and port != key.port:
            warn.append(f"Real server [{r.address}]:{key.protocol.value}:{port} port is forced to the "
                        f"virtual server port {key.port} for lb_kind {(fwd or vs_fwd).name}")
            port = key.port
        checks = [s for c in r.checkers for s in checker_specs(c, model, log_all, warn)]
        for sc in (r.notify_up, r.notify_down):
            if sc:
                out.scripts[sc[0]] = sc
        rss.append(RealServerSpec(
            addr=str(r.address), port=port, weight=r.weight, forwarding=fwd,
            inhibit_on_failure=r.inhibit_on_failure, notify_up=r.notify_up[0] if r.notify_up else None,
            notify_down=r.notify_down[0] if r.notify_down else None, u_threshold=r.uthreshold,
            l_threshold=r.lthreshold, virtualhost=r.virtualhost,
            timing=TimingOpts(retry=r.retry, delay_before_retry=_s(r.delay_before_retry_us),
                              warmup=_s(r.warmup_us), delay_loop=_s(r.delay_loop_us), alpha=r.alpha,
                              connect_timeout=_s(r.connect_timeout_us)),
            checks=tuple(checks), snmp_name=r.snmp_name,
            smtp_alert=smtp_alert_flag(r.smtp_alert, g.smtp_alert_checker, g.smtp_alert, True)))
    total = sum(r.weight for r in rss)
    quorum, hysteresis = vs.quorum, vs.hysteresis
    if quorum > total:
        warn.append(f"Warning - quorum {quorum} for {fmt} exceeds total weight of real servers {total},"
                    f" reducing quorum to {total}")
        quorum = total
    if hysteresis and hysteresis >= quorum:
        new_h = max(quorum - 1, 0)
        warn.append(f"Warning - hysteresis {hysteresis} >= quorum {quorum} for {fmt}, reducing hysteresis"
                    f" to {new_h}")
        hysteresis = new_h
    persistence = vs.persistence_timeout or 0
    if not persistence and (vs.persistence_granularity or (vs.kind == "ip" and key.port == 0)):
        persistence = 360
    sorry = None
    if vs.sorry_server:
        sa = vs.sorry_server[0]
        sp = int(vs.sorry_server[1]) if len(vs.sorry_server) > 1 and vs.sorry_server[1].isdigit() else 0
        sorry = RealServerSpec(addr=sa, port=sp or key.port, weight=1,
                               forwarding=_fwd(vs.sorry_server_lvs_method))
    for sc in (vs.quorum_up, vs.quorum_down):
        if sc:
            out.scripts[sc[0]] = sc
    return VirtualServerSpec(
        key=key, group=vs.group, extra_keys=extra, scheduler=vs.lb_algo, forwarding=vs_fwd,
        persistence_timeout=persistence,
        persistence_granularity=vs.persistence_granularity, persistence_engine=vs.persistence_engine,
        flags=frozenset(vs.sched_flags), quorum=max(quorum, 1) if total else 1,
        hysteresis=hysteresis, quorum_up=vs.quorum_up[0] if vs.quorum_up else None,
        quorum_down=vs.quorum_down[0] if vs.quorum_down else None, sorry_server=sorry,
        sorry_server_inhibit=vs.sorry_server_inhibit, inhibit_on_failure=vs.inhibit_on_failure,
        alpha=vs.alpha, omega=vs.omega, ha_suspend=vs.ha_suspend, virtualhost=vs.virtualhost,
        snmp_name=vs.snmp_name, default_weight=vs.weight,
        timing=TimingOpts(retry=vs.retry, delay_before_retry=_s(vs.delay_before_retry_us),
                          warmup=_s(vs.warmup_us), delay_loop=_s(vs.delay_loop_us),
                          connect_timeout=_s(vs.connect_timeout_us)),
        real_servers=tuple(rss),
        smtp_alert=smtp_alert_flag(vs.smtp_alert, g.smtp_alert_checker, g.smtp_alert, False))


def services_from_model(model: Model) -> Mapped:
    """Every virtual_server of `model` as a VirtualServerSpec (duplicates of a service: first wins)."""
    out = Mapped()
    seen: set[ServiceKey] = set()
    for vs in model.virtual_servers:
        spec = vs_spec(vs, model, out)
        if spec is None:
            continue
        if any(k in seen for k in spec.keys):
            out.warnings.append(f"Virtual server {spec.fmt()} defined twice - ignoring the second")
            continue
        seen.update(spec.keys)
        out.services.append(spec)
    return out
