# Theory of operation
# -------------------
# The LVS keywords of global_defs that are not per virtual server (keepalived.md §1.2.6):
#   lvs_timeouts [tcp S] [tcpfin S] [udp S]      IPVS connection timeouts, 0 = leave unchanged
#   lvs_flush_on_stop [VS]                        at stop flush everything, or remove our services
#   lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group MCAST]
#   vrrp_instance { lvs_sync_daemon_interface IF }   (deprecated per-instance form)
# Parsed with keepalived's messages (global_parser.c lvs_timeouts / lvs_syncd_handler /
# lvs_flush_on_stop_handler); the builder reports them at -t with file and line, the checker and
# VRRP children re-read the stored words (their reporter is silent) to act on them.
"""lvs_timeouts, lvs_flush_on_stop and lvs_sync_daemon: parsing with keepalived's diagnostics."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.config.model import Model
from pykeepalived.config.types import is_digits
from pykeepalived.lvs.globals import LvsTimeouts, SyncdConfig

Report = Callable[[str], None]
LVS_MAX_TIMEOUT = 86400 * 31  # keepalived LVS_MAX_TIMEOUT: 31 days
IP_VS_IFNAME_MAXLEN = 16
DEFAULT_SYNC_PORT = 8848  # the kernel's default (IP_VS_SYNC_PORT)
DEFAULT_SYNC_GROUP = "224.0.0.81"  # the kernel's default (IP_VS_SYNC_GROUP)


def _quiet(_msg: str) -> None:
    return None


def _number(words: tuple[str, ...], i: int, lo: int, hi: int, report: Report) -> int | None:
    w = words[i]
    if not is_digits(w):
        report(f"invalid number '{w}'")
        return None
    v = int(w)
    if not lo <= v <= hi:
        report(f"number '{w}' outside range [{lo}, {hi}]")
        return None
    return v


def parse_lvs_timeouts(words: tuple[str, ...], report: Report = _quiet,
                       base: LvsTimeouts = LvsTimeouts()) -> LvsTimeouts:
    """`lvs_timeouts` words after the keyword; successive lines update `base`."""
    if len(words) < 2:
        report("lvs_timeouts requires at least one option")
        return base
    vals = {"tcp": base.tcp, "tcpfin": base.tcpfin, "udp": base.udp}
    i = 0
    while i < len(words):
        kw = words[i]
        if kw in vals:
            if i == len(words) - 1:
                report(f"No value specified for lvs_timeout {kw} - ignoring")
                i += 1
                continue
            v = _number(words, i + 1, 0, LVS_MAX_TIMEOUT, report)
            if v is None:
                report(f"Invalid lvs_timeout {kw} ({words[i + 1]}) - ignoring")
            else:
                vals[kw] = v
            i += 2
            continue
        report(f"Unknown option {kw} specified for lvs_timeouts")
        i += 1
    return LvsTimeouts(**vals)


def parse_flush_on_stop(words: tuple[str, ...], report: Report = _quiet) -> str | None:
    """"full", "VS", or None (unknown type: keyword ignored)."""
    if not words:
        return "full"
    if words[0] == "VS":
        return "VS"
    report(f"Unknown lvs_flush_on_stop type {words[0]}")
    return None


def _group(word: str, report: Report) -> str | None:
    try:
        addr = ipaddress.ip_address(word)
    except ValueError:
        report(f"Invalid lvs_sync_daemon group ({word}) - ignoring")
        return None
    if not addr.is_multicast:
        report(f"lvs_sync_daemon group address {word} is not multicast - ignoring")
        return None
    return str(addr)


def parse_lvs_sync_daemon(words: tuple[str, ...], report: Report = _quiet) -> SyncdConfig | None:
    """`lvs_sync_daemon` words after the keyword (also the old `IF INSTANCE [SYNCID]` form)."""
    if not words:
        report("lvs_sync_daemon requires interface")
        return None
    if len(words[0]) >= IP_VS_IFNAME_MAXLEN:
        report(f"lvs_sync_daemon interface name '{words[0]}' too long - ignoring")
        return None
    f: dict[str, Any] = {"ifname": words[0]}
    limits = {"maxlen": (1, 65535 - 20 - 8), "port": (1, 65535), "ttl": (1, 255)}
    i = 1
    while i < len(words):
        kw = words[i]
        pos = i + 1  # keepalived's strvec index of this word
        if kw == "inst" and i + 1 < len(words):
            if "instance" in f:
                report("lvs_sync_daemon vrrp instance has already been specified as "
                       f"{f['instance']} - ignoring")
            else:
                f["instance"] = words[i + 1]
            i += 2
            continue
        if kw == "id":
            if i == len(words) - 1:
                report("No value specified for lvs_sync_daemon id, defaulting to vrid")
                i += 1
                continue
            v = _number(words, i + 1, 0, 255, report)
            if v is None:
                report(f"Invalid syncid ({words[i + 1]}) - defaulting to vrid")
            else:
                f["syncid"] = v
            i += 2
            continue
        if kw in limits or kw == "group":
            if i == len(words) - 1:
                report(f"No value specified for lvs_sync_daemon {kw} - ignoring")
                i += 1
                continue
            if kw == "group":
                g = _group(words[i + 1], report)
                if g is not None:
                    f["group"] = g
            else:
                lo, hi = limits[kw]
                v = _number(words, i + 1, lo, hi, report)
                if v is None:
                    report(f"Invalid lvs_sync_daemon {kw} ({words[i + 1]}) - ignoring")
                else:
                    f[kw] = v
            i += 2
            continue
        if pos == 2:  # old form: lvs_sync_daemon IF VRRP_INSTANCE [SYNCID]
            f["instance"] = kw
        elif pos == 3:
            v = _number(words, i, 0, 255, report)
            if v is None:
                report(f"Invalid syncid ({kw}) - defaulting to vrid")
            else:
                report('Please use keyword "id" before lvs_sync_daemon SYNCID')
                f["syncid"] = v
        else:
            report(f"Unknown option {kw} specified for lvs_sync_daemon")
        i += 1
    return SyncdConfig(**f)


@dataclass(frozen=True, slots=True)
class LvsGlobals:
    timeouts: LvsTimeouts = field(default_factory=LvsTimeouts)
    flush: bool = False
    flush_on_stop: str | None = None  # None | "full" | "VS"
    syncd: SyncdConfig | None = None


def _words(v: object) -> tuple[str, ...]:
    if isinstance(v, tuple):
        return tuple(str(w) for w in v)
    if v is None or isinstance(v, bool):
        return ()
    return tuple(str(v).split())


def lvs_globals(model: Model) -> LvsGlobals:
    """The effective settings (silently: the diagnostics were reported when the file was built).
    The first `lvs_sync_daemon` wins; without one, the first instance's deprecated
    `lvs_sync_daemon_interface` (tied to that instance)."""
    timeouts = LvsTimeouts()
    flush = False
    on_stop: str | None = None
    syncd: SyncdConfig | None = None
    for kw, v in model.global_defs.options:
        if kw == "lvs_timeouts":
            timeouts = parse_lvs_timeouts(_words(v), base=timeouts)
        elif kw == "lvs_flush":
            flush = v is not False
        elif kw in ("lvs_flush_on_stop", "lvs_flush_onstop"):
            on_stop = parse_flush_on_stop(_words(v)) or on_stop
        elif kw == "lvs_sync_daemon" and syncd is None:
            syncd = parse_lvs_sync_daemon(_words(v))
    if syncd is None:
        for inst in model.vrrp_instances:
            for kw, v in inst.options:
                if kw == "lvs_sync_daemon_interface" and syncd is None:
                    syncd = SyncdConfig(str(v), instance=inst.name)
    return LvsGlobals(timeouts, flush, on_stop, syncd)
