# Theory of operation
# -------------------
# One `virtual_ipaddress` / `virtual_ipaddress_excluded` / `static_ipaddress` line (keepalived.md §1.4,
# keepalived 2.2.7 vrrp_ipaddress.c alloc_ipaddress) parsed once, here, into a typed VipSpec: the
# runtime (daemon/addrmap.py) only converts it to its netlink form and reads no word. The words after
# the address are walked left to right through two tables, keywords taking a value (_WITH_ARG) and
# flags (_FLAGS), each entry a small handler setting the VipSpec's fields (config/changes.py: typed
# against the record, made once the line is read); a word in neither is reported and skipped.
# Where a value is invalid, or missing at the end of the line, keepalived's message is given; a
# keyword given twice keeps its last value, except `dev` and `track_group` whose first is kept.
"""Address lines -> typed VipSpec values."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from pykeepalived.config.changes import changes2
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


class _Draft:
    """An address line being read: the VipSpec's fields set so far (`ch`, typed against VipSpec:
    config/changes.py, made once the line is read) and the reader's state."""

    __slots__ = ("ch", "dev_set", "dropped", "flags", "group_set", "loc", "rep", "word")

    def __init__(self, word: str, loc: Loc, rep: Reporter) -> None:
        self.ch = changes2(VipSpec)
        self.word = word  # the address as written, for messages
        self.loc, self.rep = loc, rep
        self.flags = AddrFlag.NONE
        self.dev_set = self.group_set = False  # the first `dev` / `track_group` is kept
        self.dropped = False


Report = Callable[[str], None]


def _dev(d: _Draft, v: str, report: Report) -> None:
    if not d.dev_set:
        d.ch.set(dev=v)
        d.dev_set = True


def _broadcast(d: _Draft, v: str, report: Report) -> None:
    if v in ("+", "-"):
        d.ch.set(broadcast=None, broadcast_sign=v)
        return
    try:
        d.ch.set(broadcast=ipaddress.IPv4Address(v), broadcast_sign=None)
    except ValueError:
        report(f"VRRP is trying to assign invalid broadcast {v}. skipping VIP...")
        d.dropped = True


def _scope(d: _Draft, v: str, report: Report) -> None:
    scope = rt_lookup("rt_scopes", v)
    if scope is None:
        report(f"Invalid scope '{v}' specified for {d.word} - ignoring")
    else:
        d.ch.set(scope=scope)


def _label(d: _Draft, v: str, report: Report) -> None:
    d.ch.set(label=v)


def _peer(d: _Draft, v: str, report: Report) -> None:
    peer = parse_ipaddress(v, False, d.loc, d.rep)
    if peer is None:
        report(f"Invalid peer address {v}")
    else:
        d.ch.set(peer=peer[0])


def _preferred_lft(d: _Draft, v: str, report: Report) -> None:
    if v == "forever":
        d.ch.set(preferred_lft=None)
        return
    n = read_unsigned(v, 0, 2**32 - 1, d.loc, d.rep)
    if n is None:
        report(f"preferred_lft {v} is invalid")
    else:
        d.ch.set(preferred_lft=n)


def _track_group(d: _Draft, v: str, report: Report) -> None:
    if not d.group_set:
        d.ch.set(track_group=v)
        d.group_set = True


def _flag(flag: AddrFlag) -> Callable[[_Draft], None]:
    def set_flag(d: _Draft) -> None:
        d.flags |= flag

    return set_flag


def _no_track(d: _Draft) -> None:
    d.ch.set(no_track=True)


def _use_vmac(d: _Draft) -> None:
    d.ch.set(use_vmac=True)


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
    if len(words) == 1:  # the address alone (a ~SEQ may write a million of them)
        return VipSpec(a, prefix, loc=loc)
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
    d.ch.set(flags=d.flags, words=tuple(kept), loc=loc)
    return d.ch.make(a, prefix)
