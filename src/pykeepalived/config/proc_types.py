# Theory of operation
# -------------------
# The value types of keepalived's process-level keywords (global_parser.c: get_priority,
# get_realtime_priority, get_cpu_affinity, get_rt_rlimit, save_process_name, umask_handler,
# child_wait_handler, the net_namespace/instance handlers), with keepalived 2.2.7's messages, so
# `pykeepalived -t` reports what `keepalived -t` reports. keepalived.md §1.1, §1.2.1, §1.2.7.
"""Value types of the process-level keywords (scheduling, process names, umask)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from pykeepalived.config.diag import ConfigErr, Loc, Reporter
from pykeepalived.config.types import INVALID, MissingParameter, Script, Value, VType, is_digits, parse_int

TASK_COMM_LEN = 16  # the kernel's comm buffer: 15 characters and a NUL
RT_MIN, RT_MAX = 1, 99  # sched_get_priority_min/max(SCHED_RR) on Linux
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
UMASK_BITS = {
    "IRUSR": stat.S_IRUSR, "IWUSR": stat.S_IWUSR, "IXUSR": stat.S_IXUSR,
    "IRGRP": stat.S_IRGRP, "IWGRP": stat.S_IWGRP, "IXGRP": stat.S_IXGRP,
    "IROTH": stat.S_IROTH, "IWOTH": stat.S_IWOTH, "IXOTH": stat.S_IXOTH,
}


@dataclass(frozen=True, slots=True)
class Nice(VType):
    """`{vrrp,checker,bfd}_priority N`: a nice value -20..19."""

    proc: str

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            rep.error(loc, f"No {self.proc} process priority specified")
            return INVALID
        v = parse_int(args[0], -20, 19, loc, rep)
        if v is None:
            rep.error(loc, f"Invalid {self.proc} process priority specified")
            return INVALID
        return v


@dataclass(frozen=True, slots=True)
class RtPriority(VType):
    """`{vrrp,checker,bfd}_rt_priority N`: SCHED_RR priority, clamped to the system's range."""

    proc: str

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            rep.error(loc, f"No {self.proc} process real-time priority specified")
            return INVALID
        v = parse_int(args[0], INT_MIN, INT_MAX, loc, rep)
        if v is None:
            rep.error(loc, f"{self.proc} process real-time priority '{args[0]}' invalid")
            return INVALID
        if v < RT_MIN:
            rep.error(loc, f"{self.proc} process real-time priority {v} less than minimum {RT_MIN}"
                      " - setting to minimum")
            return RT_MIN
        if v > RT_MAX:
            rep.error(loc, f"{self.proc} process real-time priority {v} greater than maximum {RT_MAX}"
                      " - setting to maximum")
            return RT_MAX
        return v


@dataclass(frozen=True, slots=True)
class CpuAffinity(VType):
    """`{vrrp,checker,bfd}_cpu_affinity CPU...`: ids 0..(online CPUs - 1); the set is dropped at the
    first bad id."""

    proc: str

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            rep.error(loc, f"No {self.proc} cpu_id set specified")
            return INVALID
        ncpu = os.sysconf("SC_NPROCESSORS_ONLN")
        cpus: list[int] = []
        for w in args:
            v = parse_int(w, 0, ncpu - 1, loc, rep)
            if v is None:
                shown = int(w) if is_digits(w.lstrip("+-")) else 0
                rep.error(loc, f"Invalid cpu_id:{shown} specified for {self.proc} process")
                return INVALID
            cpus.append(v)
        return tuple(sorted(set(cpus)))


@dataclass(frozen=True, slots=True)
class RtLimit(VType):
    """`{vrrp,checker,bfd}_rlimit_rttime USECS` (RLIMIT_RTTIME); 1 becomes 2 (the soft limit is half)."""

    proc: str

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            raise MissingParameter()
        v = parse_int(args[0], 1, 2**32 - 1, loc, rep)
        if v is None:
            rep.error(loc, f"Invalid {self.proc} real-time limit - {args[0]}")
            return INVALID
        return max(v, 2)


@dataclass(frozen=True, slots=True)
class ProcName(VType):
    """`process_name NAME` and the per-child names: at most 15 characters (truncated)."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            raise MissingParameter()
        name = args[0]
        if len(name) >= TASK_COMM_LEN:
            rep.error(loc, f"Process name {name} more than {TASK_COMM_LEN - 1} characters, truncating")
            name = name[: TASK_COMM_LEN - 1]
        return name


@dataclass(frozen=True, slots=True)
class Umask(VType):
    """`umask NUMBER | BIT[|BIT...]` (strtol base 0, or IRUSR|IWGRP|... names)."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            rep.error(loc, "Missing parameter(s) to umask option", ConfigErr.MISSING_PARAMETER)
            return INVALID
        if is_digits(args[0][0]):
            if len(args) != 1:
                rep.error(loc, "Extra parameter(s) to umask option")
                return INVALID
            v = strtol0(args[0])
            if v is None or v < 0 or v & ~0o777:
                rep.error(loc, f"invalid umask value {args[0]}")
                return INVALID
            return v
        bits, need_or = 0, False
        for word in args:
            p = word
            while p:
                if need_or:
                    if p[0] != "|":
                        rep.error(loc, f"Invalid umask syntax {word}")
                        return INVALID
                    need_or, p = False, p[1:]
                    continue
                bit = UMASK_BITS.get(p[:5])
                if bit is None:
                    rep.error(loc, f"Unknown umask bit {p}")
                    return INVALID
                bits |= bit
                p, need_or = p[5:], True
        if not need_or:
            rep.error(loc, "umask missing bit value")
            return INVALID
        return bits

    def fmt(self, value: Value) -> str:
        assert isinstance(value, int)
        return f"0{value:o}"


def strtol0(word: str) -> int | None:
    """C strtol(word, &end, 0) that must consume the whole word: 0x hex, leading 0 octal, else decimal."""
    w = word.strip()
    try:
        if w.lower().startswith(("0x", "-0x", "+0x")):
            return int(w, 16)
        if w.lstrip("+-").startswith("0") and len(w.lstrip("+-")) > 1:
            return int(w, 8)
        return int(w, 10)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ChildWait(VType):
    """`child_wait_time SECS` (unsigned, no range message)."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            raise MissingParameter()
        w = args[0]
        if w.startswith("-") and is_digits(w[1:]):
            rep.error(loc, f"negative number '{w}'", ConfigErr.INVALID_NUMBER)
        elif parse_int(w, 0, 2**32 - 1, loc, rep) is not None:
            return int(w)
        rep.error(loc, f"Invalid child_wait_time {w}")
        return INVALID


@dataclass(frozen=True, slots=True)
class RootName(VType):
    """`net_namespace NAME` / `instance NAME` at the top level."""

    what: str

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            rep.error(loc, f"{self.what} name missing - ignoring")
            return INVALID
        return args[0]


@dataclass(frozen=True, slots=True)
class StartStopScript(VType):
    """`startup_script` / `shutdown_script SCRIPT [user [[:]group]]` (a quoted keyword)."""

    which: str  # startup | shutdown

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            rep.error(loc, f"{self.which} script missing")
            return INVALID
        inner = Reporter()
        v = SCRIPT.parse(kw, args, raw, loc, inner)
        if v is INVALID:
            rep.error(loc, f"Invalid {self.which} script")
        return v

    def fmt(self, value: Value) -> str:
        return SCRIPT.fmt(value)


SCRIPT = Script()
ROOT_UNIQUE = {"net_namespace": "net_namespace", "net_namespace_ipvs": "net_namespace_ipvs",
               "instance": "instance"}


def check_root_duplicates(root_opts: list[tuple[str, object]], kw: str, value: object, loc: Loc,
                          rep: Reporter) -> bool:
    """keepalived keeps the first `net_namespace` / `net_namespace_ipvs` / `instance`; True: keep this one."""
    if kw in ROOT_UNIQUE and any(k == kw for k, _ in root_opts):
        shown = (value[0] if value else "") if isinstance(value, tuple) else value
        rep.error(loc, f"Duplicate {kw} definition {shown} - ignoring")
        return False
    return True


def check_script_duplicate(gopts: list[tuple[str, object]], kw: str, loc: Loc, rep: Reporter) -> bool:
    """Only one startup_script / shutdown_script: the first one is kept."""
    if kw in ("startup_script", "shutdown_script") and any(k == kw for k, _ in gopts):
        rep.error(loc, f"{kw.split('_')[0]} script already specified")
        return False
    return True


def max_auto_priority(loc: Loc, v: tuple[str, ...], rep: Reporter, current: int | None) -> int | None:
    """`max_auto_priority [-1..99]` (global_parser.c max_auto_priority_handler): bare is
    sched_get_priority_max(SCHED_RR); a bad value is reported and ignored (`current` kept)."""
    if not v:
        return RT_MAX
    try:
        prio = int(v[0])
    except ValueError:
        rep.error(loc, f"invalid number '{v[0]}'")
        prio = RT_MAX + 1
    else:
        if not -1 <= prio <= RT_MAX:
            rep.error(loc, f"number '{v[0]}' outside range [-1, {RT_MAX}]")
    if not -1 <= prio <= RT_MAX:
        rep.error(loc, f"max_auto_priority '{v[0]}' must be in [0, {RT_MAX}] (or -1 to disable) - ignoring")
        return current
    return prio
