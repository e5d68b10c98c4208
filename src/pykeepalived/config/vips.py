# Theory of operation
# -------------------
# One `virtual_ipaddress` / `virtual_ipaddress_excluded` / `static_ipaddress` line (keepalived.md §1.4,
# keepalived 2.2.7 vrrp_ipaddress.c alloc_ipaddress) parsed once, here, into a typed VipSpec: the
# runtime (daemon/addrmap.py) only converts it to its netlink form and reads no word. The words after
# the address are walked left to right through two tables, keywords taking a value (_WITH_ARG) and
# flags (_FLAGS), each entry a small handler filling a draft; a word in neither is reported and skipped.
# Where a value is invalid, or missing at the end of the line, keepalived's message is given; a
# keyword given twice keeps its last value, except `dev` and `track_group` whose first is kept.
"""Address lines -> typed VipSpec values."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from pykeepalived.config.diag import NOWHERE, Loc, Reporter
from pykeepalived.config.routes import parse_ipaddress, read_unsigned, rt_lookup
from pykeepalived.config.types import IPAddr


class AddrFlag(enum.Flag):
    """The IFA_F_* flags an address line can ask for (daemon/addrmap.py maps them to the kernel's)."""

    NONE = 0
    HOME = enum.auto()  # home
    NODAD = enum.auto()  # -nodad
    MNGTMPADDR = enum.auto()  # mngtmpaddr
    NOPREFIXROUTE = enum.auto()  # noprefixroute
    AUTOJOIN = enum.auto()  # autojoin


@dataclass(frozen=True, slots=True)
class VipSpec:
    address: IPAddr
    prefix: int
    dev: str | None = None  # None: the instance's interface (its VMAC), or default_interface (static)
    broadcast: ipaddress.IPv4Address | None = None
    broadcast_sign: str | None = None  # `brd +` / `brd -`: from the address and prefix
    scope: int = 0
    label: str | None = None
    peer: IPAddr | None = None
    flags: AddrFlag = AddrFlag.NONE
    preferred_lft: int | None = None  # None: not given, or `forever`
    no_track: bool = False
    use_vmac: bool = False  # the address gets a VMAC of its own
    track_group: str | None = None  # static addresses
    words: tuple[str, ...] = field(default=(), compare=False)  # the words after the address, for the dump
    loc: Loc = field(default=NOWHERE, compare=False)

    @property
    def text(self) -> str:
        """The address as keepalived's ipaddresstos prints it (no prefix for a host address)."""
        a = self.address
        return str(a) if self.prefix == a.max_prefixlen else f"{a}/{self.prefix}"


@dataclass(slots=True)
class _Draft:
    word: str  # the address as written, for messages
    loc: Loc
    rep: Reporter
    dev: str | None = None
    broadcast: ipaddress.IPv4Address | None = None
    broadcast_sign: str | None = None
    scope: int = 0
    label: str | None = None
    peer: IPAddr | None = None
    flags: AddrFlag = AddrFlag.NONE
    preferred_lft: int | None = None
    no_track: bool = False
    use_vmac: bool = False
    track_group: str | None = None
    dropped: bool = False


Report = Callable[[str], None]


def _dev(d: _Draft, v: str, report: Report) -> None:
    if d.dev is None:
        d.dev = v


def _broadcast(d: _Draft, v: str, report: Report) -> None:
    if v in ("+", "-"):
        d.broadcast, d.broadcast_sign = None, v
        return
    try:
        d.broadcast, d.broadcast_sign = ipaddress.IPv4Address(v), None
    except ValueError:
        report(f"VRRP is trying to assign invalid broadcast {v}. skipping VIP...")
        d.dropped = True


def _scope(d: _Draft, v: str, report: Report) -> None:
    scope = rt_lookup("rt_scopes", v)
    if scope is None:
        report(f"Invalid scope '{v}' specified for {d.word} - ignoring")
    else:
        d.scope = scope


def _label(d: _Draft, v: str, report: Report) -> None:
    d.label = v


def _peer(d: _Draft, v: str, report: Report) -> None:
    peer = parse_ipaddress(v, False, d.loc, d.rep)
    if peer is None:
        report(f"Invalid peer address {v}")
    else:
        d.peer = peer[0]


def _preferred_lft(d: _Draft, v: str, report: Report) -> None:
    if v == "forever":
        d.preferred_lft = None
        return
    n = read_unsigned(v, 0, 2**32 - 1, d.loc, d.rep)
    if n is None:
        report(f"preferred_lft {v} is invalid")
    else:
        d.preferred_lft = n


def _track_group(d: _Draft, v: str, report: Report) -> None:
    if d.track_group is None:
        d.track_group = v


def _flag(flag: AddrFlag) -> Callable[[_Draft], None]:
    def set_flag(d: _Draft) -> None:
        d.flags |= flag

    return set_flag


def _no_track(d: _Draft) -> None:
    d.no_track = True


def _use_vmac(d: _Draft) -> None:
    d.use_vmac = True


def _ignored(d: _Draft) -> None:
    """`nodad` (without the dash): accepted, no effect."""


_WITH_ARG: dict[str, Callable[[_Draft, str, Report], None]] = {
    "dev": _dev,
    "brd": _broadcast,
    "broadcast": _broadcast,
    "scope": _scope,
    "label": _label,
    "peer": _peer,
    "preferred_lft": _preferred_lft,
    "track_group": _track_group,
}
_FLAGS: dict[str, Callable[[_Draft], None]] = {
    "home": _flag(AddrFlag.HOME),
    "-nodad": _flag(AddrFlag.NODAD),
    "nodad": _ignored,
    "mngtmpaddr": _flag(AddrFlag.MNGTMPADDR),
    "noprefixroute": _flag(AddrFlag.NOPREFIXROUTE),
    "autojoin": _flag(AddrFlag.AUTOJOIN),
    "no_track": _no_track,
    "use_vmac": _use_vmac,
}


def parse_vip(words: tuple[str, ...], loc: Loc, rep: Reporter) -> VipSpec | None:
    """One address line; None (after keepalived's message) when it is dropped."""
    parsed = parse_ipaddress(words[0], True, loc, rep)
    if parsed is None:
        return None
    a, prefix = parsed
    d = _Draft(words[0], loc, rep)

    def report(msg: str) -> None:
        rep.error(loc, msg)

    kept: list[str] = []
    i = 1
    while i < len(words):
        w = words[i]
        with_arg = _WITH_ARG.get(w)
        if with_arg is not None:
            if i + 1 == len(words):
                report(f"No {w} parameter specified for {words[0]}")
                return None
            with_arg(d, words[i + 1], report)
            kept += [w, words[i + 1]]
            i += 2
            continue
        flag = _FLAGS.get(w)
        if flag is not None:
            flag(d)
            kept.append(w)
        else:
            report(f"Unknown configuration entry '{w}' for ip address - ignoring")
        i += 1
    if d.dropped:
        return None
    return VipSpec(a, prefix, d.dev, d.broadcast, d.broadcast_sign, d.scope, d.label, d.peer, d.flags,
                   d.preferred_lft, d.no_track, d.use_vmac, d.track_group, tuple(kept), loc)
