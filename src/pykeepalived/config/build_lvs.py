# Theory of operation
# -------------------
# virtual_server / real_server / checker keyword trees -> the typed LVS model (model_lvs.py), with
# keepalived's defaults and end-of-block checks (check_parser.c and the check_*.c files):
#   * virtual_server and real_server keywords are read by tables of small handlers (_VS_KW, _RS_KW)
#     that set the record's fields through config/changes.py, so mypy checks each name and value;
#     the checkers' keywords still map to dataclass fields by name (`fill`); the grammar has
#     validated every value;
#   * real servers default their weight, method and inhibit_on_failure to the virtual server's;
#   * checker timing/connection values resolve checker -> real server -> virtual server -> the
#     per-checker built-in default (retry 1, MISC 0, DNS 3; delay_before_retry 1 s, HTTP/SSL 3 s,
#     DNS = delay_loop; warmup = delay_loop; connect_timeout 5 s), keepalived.md §1.12.5.
"""Keyword tree -> VirtualServer / RealServer / checkers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pykeepalived.config.changes import (
    bool_of,
    changes,
    changes2,
    int_of,
    options,
    script_of,
    str_of,
    words_of,
)
from pykeepalived.config.diag import NOWHERE, ConfigErr, Reporter, skip_block
from pykeepalived.config.model_lvs import (
    CHECKER_CLASSES,
    SEC,
    Checker,
    FileCheck,
    HttpCheck,
    RealServer,
    UrlSpec,
    VirtualServer,
)
from pykeepalived.config.parser import Node
from pykeepalived.config.types import is_digits, parse_int, parse_ip

# the words of a virtual_server kept in its options that are IPVS scheduler flags
SCHED_FLAGS = frozenset({"ops", "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port",
                         "mh-fallback"})

_FIELDS: dict[type, frozenset[str]] = {}


def field_names(cls: type) -> frozenset[str]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    return names


def fill(cls: type, node: Node, f: dict[str, Any], skip: set[str]) -> list[tuple[str, object]]:
    """Set `f[field]` from the keywords naming a field of `cls` (timers: `_us`); returns the others."""
    names = field_names(cls)
    rest: list[tuple[str, object]] = []
    for c in node.children:
        if c.kw in skip:
            continue
        name = c.kw + "_us" if c.kw + "_us" in names else c.kw
        if name in names and not c.children and not c.items:
            f[name] = c.value
        else:
            rest.append((c.kw, c.value if not c.children else (c.value, options(c, set()))))
    return rest


def _first(*vals: object) -> object:
    return next((v for v in vals if v is not None), None)


def _as_int(v: object) -> int:
    """A timer's value in µs (the virtual server's delay_loop always has one)."""
    assert isinstance(v, int)
    return v


class _VsDraft:
    """A virtual_server block being read: its fields set so far (typed against VirtualServer, made
    once at the end), the words kept in its options and what its end checks read."""

    __slots__ = ("ch", "ident", "kind", "lb_algo", "lb_kind", "opts", "port", "protocol", "rep")

    def __init__(self, rep: Reporter, kind: str, ident: str, port: int | None = None) -> None:
        self.rep = rep
        self.ch = changes(VirtualServer)
        self.kind = kind  # ip | fwmark | group
        self.ident = ident  # FWM N, [GROUP], or the address of an address/port one
        self.port = port
        self.opts: list[tuple[str, object]] = []
        self.lb_algo = False  # given
        self.lb_kind: tuple[str, ...] | None = None  # the last one, None: not given (or not valid)
        self.protocol: str | None = None

    def name(self, protocol: str | None = None) -> str:
        """keepalived's FMT_VS: FWM N, [GROUP] or [ADDRESS]:protocol:PORT."""
        if self.kind != "ip":
            return self.ident
        return f"[{self.ident}]:{(protocol or self.protocol or 'TCP').lower()}:{self.port}"


def _vs_lb_kind(d: _VsDraft, c: Node) -> None:
    w = words_of(c)
    d.lb_kind = w if w[0] in ("NAT", "DR", "TUN") else None  # the last one decides
    if d.lb_kind is None:
        d.rep.error(c.loc, f"PARSER : unknown [{w[0]}] routing method for virtual server.")


def _vs_lb_algo(d: _VsDraft, c: Node) -> None:
    d.lb_algo = True
    d.ch.set(lb_algo=str_of(c))


def _vs_protocol(d: _VsDraft, c: Node) -> None:
    d.protocol = str_of(c)


def _vs_option(d: _VsDraft, c: Node) -> None:
    """Any other keyword (the scheduler flags): kept in `options`."""
    d.opts.append((c.kw, c.value))


_VS_KW: dict[str, Callable[[_VsDraft, Node], None]] = {
    "ip_family": lambda d, c: d.ch.set(ip_family=str_of(c)),
    "retry": lambda d, c: d.ch.set(retry=int_of(c)),
    "delay_before_retry": lambda d, c: d.ch.set(delay_before_retry_us=int_of(c)),
    "warmup": lambda d, c: d.ch.set(warmup_us=int_of(c)),
    "connect_timeout": lambda d, c: d.ch.set(connect_timeout_us=int_of(c)),
    "delay_loop": lambda d, c: d.ch.set(delay_loop_us=int_of(c)),
    "inhibit_on_failure": lambda d, c: d.ch.set(inhibit_on_failure=bool_of(c)),
    "lb_algo": _vs_lb_algo,
    "lb_kind": _vs_lb_kind,
    "persistence_engine": lambda d, c: d.ch.set(persistence_engine=str_of(c)),
    "persistence_timeout": lambda d, c: d.ch.set(persistence_timeout=int_of(c)),
    "persistence_granularity": lambda d, c: d.ch.set(persistence_granularity=str_of(c)),
    "protocol": _vs_protocol,
    "ha_suspend": lambda d, c: d.ch.set(ha_suspend=bool_of(c)),
    "smtp_alert": lambda d, c: d.ch.set(smtp_alert=bool_of(c)),
    "virtualhost": lambda d, c: d.ch.set(virtualhost=str_of(c)),
    "snmp_name": lambda d, c: d.ch.set(snmp_name=str_of(c)),
    "alpha": lambda d, c: d.ch.set(alpha=bool_of(c)),
    "omega": lambda d, c: d.ch.set(omega=bool_of(c)),
    "quorum_up": lambda d, c: d.ch.set(quorum_up=script_of(c)),
    "quorum_down": lambda d, c: d.ch.set(quorum_down=script_of(c)),
    "quorum": lambda d, c: d.ch.set(quorum=int_of(c)),
    "hysteresis": lambda d, c: d.ch.set(hysteresis=int_of(c)),
    "weight": lambda d, c: d.ch.set(weight=int_of(c)),
    "sorry_server": lambda d, c: d.ch.set(sorry_server=words_of(c)),
    "sorry_server_inhibit": lambda d, c: d.ch.set(sorry_server_inhibit=bool_of(c)),
    "sorry_server_lvs_method": lambda d, c: d.ch.set(sorry_server_lvs_method=words_of(c)),
    "real_server": lambda d, c: None,  # read once the virtual server is made
}


def _vs_draft(n: Node, rep: Reporter) -> _VsDraft | None:
    """The draft of a virtual_server from its words (fwmark N | group NAME | IP [PORT])."""
    assert isinstance(n.value, tuple)
    args = n.value
    if args[0] == "fwmark":
        if len(args) < 2 or not is_digits(args[1]):
            rep.error(n.loc, "virtual server fwmark missing or invalid - skipping")
            return None
        d = _VsDraft(rep, "fwmark", f"FWM {int(args[1])}")
        d.ch.set(fwmark=int(args[1]))
        return d
    if args[0] == "group":
        if len(args) < 2:
            rep.error(n.loc, "virtual server group name missing - skipping")
            return None
        d = _VsDraft(rep, "group", f"[{args[1]}]")
        d.ch.set(group=args[1])
        return d
    a = parse_ip(args[0])
    if a is None:
        skip_block(rep, n)
        port = args[1] if len(args) > 1 and args[1].strip("0") else ""  # a port 0 is no port
        rep.error(n.loc, f"Invalid virtual server IP address{'/port' if port else ''} {args[0]}"
                         f"{'/' + port if port else ''} - skipping")
        return None
    pnum = parse_int(args[1], 0, 65535, n.loc, rep) if len(args) > 1 else 0
    d = _VsDraft(rep, "ip", str(a), pnum)
    d.ch.set(address=a, port=pnum)
    return d


def build_vs(n: Node, rep: Reporter) -> VirtualServer | None:
    d = _vs_draft(n, rep)
    if d is None:
        return None
    kind = d.kind
    for c in n.children:
        _VS_KW.get(c.kw, _vs_option)(d, c)
    if kind == "fwmark" and d.protocol is not None:
        rep.error(
            NOWHERE,
            f"Warning: Virtual server {d.name()}: protocol specified for fwmark - protocol will be ignored",
        )
    if kind == "ip" and d.protocol is None:
        rep.error(NOWHERE, f"Virtual server {d.name('none')}: no protocol set - defaulting to UDP")
        d.protocol = "UDP"
    if not d.lb_algo:  # after the protocol's default, which it names
        rep.error(NOWHERE, f"Virtual server {d.name()}: no scheduler set, setting default 'wlc'")
    if d.protocol is not None:
        d.ch.set(protocol=d.protocol)
    if d.lb_kind is not None:
        d.ch.set(lb_kind=d.lb_kind)
    d.ch.set(loc=n.loc, options=tuple(d.opts),
             sched_flags=tuple(dict.fromkeys(k for k, _ in d.opts if k in SCHED_FLAGS)))
    vs = d.ch.make(kind)
    rss = [rs for c in n.all("real_server") if (rs := _rs(c, vs, rep)) is not None]
    if d.lb_kind is None and (any(rs.lvs_method is None for rs in rss) or vs.sorry_server is not None):
        rep.error(NOWHERE, f"Virtual server {d.name()}: no forwarding method set, setting default NAT")
    return dataclasses.replace(vs, real_servers=tuple(rss))


class _RsDraft:
    """A real_server block being read: its fields set so far (typed against RealServer, made once at
    the end)."""

    __slots__ = ("ch", "lvs_method", "rep")

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self.ch = changes2(RealServer)
        self.lvs_method: tuple[str, ...] | None = None  # the last one, None: not given (or not valid)


def _rs_lvs_method(d: _RsDraft, c: Node) -> None:
    w = words_of(c)
    d.lvs_method = w if w[0] in ("NAT", "DR", "TUN") else None  # the last one decides
    if d.lvs_method is None:
        d.rep.error(c.loc, f"PARSER : unknown [{w[0]}] routing method for real server.")


_RS_KW: dict[str, Callable[[_RsDraft, Node], None]] = {
    "weight": lambda d, c: d.ch.set(weight=int_of(c)),
    "lvs_method": _rs_lvs_method,
    "uthreshold": lambda d, c: d.ch.set(uthreshold=int_of(c)),
    "lthreshold": lambda d, c: d.ch.set(lthreshold=int_of(c)),
    "inhibit_on_failure": lambda d, c: d.ch.set(inhibit_on_failure=bool_of(c)),
    "notify_up": lambda d, c: d.ch.set(notify_up=script_of(c)),
    "notify_down": lambda d, c: d.ch.set(notify_down=script_of(c)),
    "alpha": lambda d, c: d.ch.set(alpha=bool_of(c)),
    "retry": lambda d, c: d.ch.set(retry=int_of(c)),
    "delay_before_retry": lambda d, c: d.ch.set(delay_before_retry_us=int_of(c)),
    "warmup": lambda d, c: d.ch.set(warmup_us=int_of(c)),
    "connect_timeout": lambda d, c: d.ch.set(connect_timeout_us=int_of(c)),
    "delay_loop": lambda d, c: d.ch.set(delay_loop_us=int_of(c)),
    "smtp_alert": lambda d, c: d.ch.set(smtp_alert=bool_of(c)),
    "virtualhost": lambda d, c: d.ch.set(virtualhost=str_of(c)),
    "snmp_name": lambda d, c: d.ch.set(snmp_name=str_of(c)),
}


def _rs(n: Node, vs: VirtualServer, rep: Reporter) -> RealServer | None:
    assert isinstance(n.value, tuple)
    a = parse_ip(n.value[0])
    if a is None:
        rep.error(n.loc, f"Invalid real server ip address/port {n.value[0]} - skipping")
        return None
    port = parse_int(n.value[1], 0, 65535, n.loc, rep) if len(n.value) > 1 else None
    d = _RsDraft(rep)
    d.ch.set(weight=vs.weight, loc=n.loc)
    opts: list[tuple[str, object]] = []
    for c in n.children:
        if c.kw in CHECKER_CLASSES:
            continue  # read once the real server is made
        handler = _RS_KW.get(c.kw)
        if handler is None:
            opts.append((c.kw, c.value if not c.children else (c.value, options(c, set()))))
        else:
            handler(d, c)
    d.ch.set(lvs_method=d.lvs_method, options=tuple(opts))
    rs = d.ch.make(a, port)
    checkers = [ck for c in n.children if c.kw in CHECKER_CLASSES
                if (ck := _checker(c, rs, vs, rep)) is not None]
    return dataclasses.replace(rs, checkers=tuple(checkers))


def _checker(c: Node, rs: RealServer, vs: VirtualServer, rep: Reporter) -> Checker | None:
    cls = CHECKER_CLASSES[c.kw]
    f: dict[str, Any] = {"kind": c.kw, "loc": c.loc}
    rest = fill(cls, c, f, {"url"})
    _checker_checks(c, rep)
    kind = c.kw
    loop = _as_int(_first(f.get("delay_loop_us"), rs.delay_loop_us, vs.delay_loop_us))
    f["delay_loop_us"] = loop
    f["connect_timeout_us"] = _first(
        f.get("connect_timeout_us"), rs.connect_timeout_us, vs.connect_timeout_us, 5 * SEC
    )
    f["retry"] = _first(f.get("retry"), rs.retry, vs.retry, {"MISC_CHECK": 0, "DNS_CHECK": 3}.get(kind, 1))
    dbr = {"HTTP_GET": 3 * SEC, "SSL_GET": 3 * SEC, "DNS_CHECK": loop}.get(kind, SEC)
    f["delay_before_retry_us"] = _first(
        f.get("delay_before_retry_us"), rs.delay_before_retry_us, vs.delay_before_retry_us, dbr
    )
    f["warmup_us"] = _first(f.get("warmup_us"), rs.warmup_us, vs.warmup_us, loop)
    f["alpha"] = bool(_first(f.get("alpha"), rs.alpha, vs.alpha or None, False))
    if cls is HttpCheck:
        f["urls"] = tuple(_url(u) for u in c.all("url"))
    elif cls is FileCheck and isinstance(f.get("weight"), tuple):
        w = f["weight"]
        assert isinstance(w, tuple)
        wv = parse_int(w[0], -(2**31 - 1), 2**31 - 1, c.loc, rep)
        if wv is None:
            del f["weight"]
        else:
            f["weight"] = wv
            f["reverse"] = len(w) > 1 and w[1] == "reverse"
    if "hosts" in field_names(cls):
        f["hosts"] = tuple(v[1] for k, v in rest if k == "host" and isinstance(v, tuple))
    if kind == "MISC_CHECK" and f.get("misc_path") is None:
        return None
    if kind == "FILE_CHECK" and not f.get("track_file"):
        return None
    if kind == "BFD_CHECK" and not f.get("name"):
        return None
    return cls(**f)


def _url(u: Node) -> UrlSpec:
    f: dict[str, Any] = {"path": "", "loc": u.loc}
    fill(UrlSpec, u, f, {"status_code"})
    codes: list[tuple[int, int]] = []
    for sc in u.all("status_code"):
        assert isinstance(sc.value, tuple)
        for w in sc.value:
            lo, _, hi = w.partition("-")
            if is_digits(lo) and (not hi or is_digits(hi)):
                codes.append((int(lo), int(hi or lo)))
    if codes:
        f["status_code"] = tuple(codes)
    if isinstance(f.get("digest"), str):
        f["digest"] = str(f["digest"]).lower()
    if isinstance(f.get("regex"), tuple):
        f["regex"] = f["regex"][0]
    return UrlSpec(**f)


def _checker_checks(c: Node, rep: Reporter) -> None:
    for u in c.all("url"):
        for sc in u.all("status_code"):
            assert isinstance(sc.value, tuple)
            for w in sc.value:
                lo, _, hi = w.partition("-")
                ok = (
                    is_digits(lo)
                    and (not hi or is_digits(hi))
                    and 100 <= int(lo) <= 599
                    and (not hi or int(lo) <= int(hi) <= 599)
                )
                if not ok:
                    rep.error(sc.loc, f"Invalid {c.kw} status code '{w}'")
        d = u.get("digest")
        if d is not None and (
            len(str(d.value)) != 32 or any(x not in "0123456789abcdefABCDEF" for x in str(d.value))
        ):
            rep.error(d.loc, f"digest '{d.value}' is not a valid MD5 hex digest")
    if c.kw == "MISC_CHECK" and c.get("misc_path") is None:
        rep.error(c.end, "Missing misc_path for MISC_CHECK - ignoring")
    if c.kw == "FILE_CHECK" and c.get("track_file") is None:
        rep.error(c.end, "FILE_CHECK has no track_file specified - ignoring")
    if c.kw == "BFD_CHECK" and c.get("name") is None:
        rep.error(c.end, "BFD_CHECK has no name specified - ignoring")


__all__ = ["ConfigErr", "build_vs", "fill", "options"]
