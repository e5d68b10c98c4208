# Theory of operation
# -------------------
# virtual_server / real_server / checker keyword trees -> the typed LVS model (model_lvs.py), with
# keepalived's defaults and end-of-block checks (check_parser.c and the check_*.c files):
#   * keywords map to dataclass fields by name (`fill`): the grammar has validated every value;
#   * real servers default their weight, method and inhibit_on_failure to the virtual server's;
#   * checker timing/connection values resolve checker -> real server -> virtual server -> the
#     per-checker built-in default (retry 1, MISC 0, DNS 3; delay_before_retry 1 s, HTTP/SSL 3 s,
#     DNS = delay_loop; warmup = delay_loop; connect_timeout 5 s), keepalived.md §1.12.5.
"""Keyword tree -> VirtualServer / RealServer / checkers."""

from __future__ import annotations

import dataclasses
from typing import Any

from pykeepalived.config.diag import NOWHERE, ConfigErr, Reporter, skip_block
from pykeepalived.config.model_lvs import (
    CHECKER_CLASSES,
    SEC,
    Checker,
    FileCheck,
    HttpCheck,
    Options,
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


def options(node: Node, skip: set[str]) -> Options:
    """Keywords kept generically, as (keyword, value) pairs in file order."""
    out: list[tuple[str, object]] = []
    for c in node.children:
        if c.kw in skip:
            continue
        if c.items or (c.value is None and not c.children):
            out.append((c.kw, tuple(i.words for i in c.items)))
        elif c.children:
            out.append((c.kw, (c.value, options(c, set()))))
        else:
            out.append((c.kw, c.value))
    return tuple(out)


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


def vs_name(f: dict[str, object]) -> str:
    if f["kind"] == "fwmark":
        return f"FWM {f['fwmark']}"
    if f["kind"] == "group":
        return f"[{f['group']}]"
    proto = str(f.get("protocol", "TCP")).lower()
    return f"[{f['address']}]:{proto}:{f['port']}"


def build_vs(n: Node, rep: Reporter) -> VirtualServer | None:
    assert isinstance(n.value, tuple)
    args = n.value
    f: dict[str, Any] = {"loc": n.loc}
    if args[0] == "fwmark":
        if len(args) < 2 or not is_digits(args[1]):
            rep.error(n.loc, "virtual server fwmark missing or invalid - skipping")
            return None
        f.update(kind="fwmark", fwmark=int(args[1]))
    elif args[0] == "group":
        if len(args) < 2:
            rep.error(n.loc, "virtual server group name missing - skipping")
            return None
        f.update(kind="group", group=args[1])
    else:
        a = parse_ip(args[0])
        if a is None:
            skip_block(rep, n)
            port = args[1] if len(args) > 1 and args[1].strip("0") else ""  # a port 0 is no port
            rep.error(n.loc, f"Invalid virtual server IP address{'/port' if port else ''} {args[0]}"
                             f"{'/' + port if port else ''} - skipping")
            return None
        port = parse_int(args[1], 0, 65535, n.loc, rep) if len(args) > 1 else 0
        f.update(kind="ip", address=a, port=port)
    opts = fill(VirtualServer, n, f, {"real_server"})
    for c in n.all("lb_kind"):
        assert isinstance(c.value, tuple)
        if c.value[0] not in ("NAT", "DR", "TUN"):
            rep.error(c.loc, f"PARSER : unknown [{c.value[0]}] routing method for virtual server.")
            if f.get("lb_kind") == c.value:
                del f["lb_kind"]
    if f["kind"] == "fwmark" and "protocol" in f:
        rep.error(
            NOWHERE,
            f"Warning: Virtual server {vs_name(f)}: protocol specified for fwmark - protocol will be ignored",
        )
    if f["kind"] == "ip" and "protocol" not in f:
        rep.error(
            NOWHERE,
            f"Virtual server {vs_name(dict(f, protocol='none'))}: no protocol set - defaulting to UDP",
        )
        f["protocol"] = "UDP"
    if "lb_algo" not in f:  # after the protocol's default, which it names
        rep.error(NOWHERE, f"Virtual server {vs_name(f)}: no scheduler set, setting default 'wlc'")
    f["options"] = tuple(opts)
    f["sched_flags"] = tuple(dict.fromkeys(k for k, _ in opts if k in SCHED_FLAGS))
    vs = VirtualServer(**f)
    rss = [rs for c in n.all("real_server") if (rs := _rs(c, vs, rep)) is not None]
    if "lb_kind" not in f and (any(rs.lvs_method is None for rs in rss) or vs.sorry_server is not None):
        rep.error(NOWHERE, f"Virtual server {vs_name(f)}: no forwarding method set, setting default NAT")
    return dataclasses.replace(vs, real_servers=tuple(rss))


def _rs(n: Node, vs: VirtualServer, rep: Reporter) -> RealServer | None:
    assert isinstance(n.value, tuple)
    a = parse_ip(n.value[0])
    if a is None:
        rep.error(n.loc, f"Invalid real server ip address/port {n.value[0]} - skipping")
        return None
    port = parse_int(n.value[1], 0, 65535, n.loc, rep) if len(n.value) > 1 else None
    f: dict[str, Any] = {"address": a, "port": port, "weight": vs.weight, "loc": n.loc}
    checker_nodes = [c for c in n.children if c.kw in CHECKER_CLASSES]
    opts = fill(RealServer, n, f, set(CHECKER_CLASSES))
    for c in n.all("lvs_method"):
        assert isinstance(c.value, tuple)
        if c.value[0] not in ("NAT", "DR", "TUN"):
            rep.error(c.loc, f"PARSER : unknown [{c.value[0]}] routing method for real server.")
            if f.get("lvs_method") == c.value:
                del f["lvs_method"]
    f["options"] = tuple(opts)
    rs = RealServer(**f)
    checkers = [ck for c in checker_nodes if (ck := _checker(c, rs, vs, rep)) is not None]
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


__all__ = ["ConfigErr", "build_vs", "fill", "options", "vs_name"]
