# Theory of operation
# -------------------
# Every problem found while reading keepalived.conf becomes a `Diagnostic`: a location (file, line),
# keepalived's message text and keepalived's error class (lib/parser.h config_err_t). keepalived keeps
# the *numerically highest* class seen and maps it to the `-t` exit status (main.c config_test_exit):
# classes 1..3 mean "cannot run" (exit 4), the security class exit 6, anything else exit 5. We keep
# the same ordering so that `pykeepalived -t` gives the same verdict, quirks included (a later warning
# outranks an earlier fatal error).
"""Configuration diagnostics in keepalived's `(FILE: Line N) message` form."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

# The processes of keepalived 2.2.7 that act on each top-level block (each child parses the whole
# file but registers the other blocks' keywords inactive, so it reports nothing about them); the
# top level and global_defs concern every process. Checked against keepalived -P / -C / -B.
BLOCK_PROCESSES: dict[str, frozenset[str]] = {
    **dict.fromkeys(("vrrp_instance", "vrrp_sync_group", "vrrp_script", "vrrp_track_process", "garp_group",
                     "track_group", "static_ipaddress", "static_routes", "static_rules",
                     "linkbeat_interfaces"), frozenset({"vrrp"})),
    **dict.fromkeys(("virtual_server", "virtual_server_group", "SSL"), frozenset({"checker"})),
    **dict.fromkeys(("track_file", "vrrp_track_file"), frozenset({"vrrp", "checker"})),  # FILE_CHECK too
    "bfd_instance": frozenset({"vrrp", "checker", "bfd"}),
}


READINGS = ("parent", "checker", "vrrp", "bfd")  # keepalived -t reads the file in this order (main.c)


def reading_of(top: str | None) -> str:
    """The first of keepalived -t's readings that acts on a line of this top-level block (None: a
    top-level keyword): the parent for global_defs and the top level, else the first child."""
    procs = BLOCK_PROCESSES.get(top or "")
    return "parent" if procs is None else next(p for p in READINGS if p in procs)


class ConfigErr(enum.IntEnum):
    """keepalived's config_err_t, in its order (the highest seen decides the -t exit status)."""

    OK = 0
    FILE_NOT_FOUND = 1
    BAD_IF = 2
    FATAL = 3
    MULTIPLE_FILES = 4
    UNKNOWN_KEYWORD = 5
    UNEXPECTED_BOB = 6
    MISSING_BOB = 7
    UNEXPECTED_EOB = 8
    MISSING_EOB = 9
    UNMATCHED_QUOTE = 10
    MISSING_PARAMETER = 11
    INVALID_NUMBER = 12
    GENERAL_ERROR = 13
    WARNING = 14
    DEPRECATED = 15
    SECURITY_ERROR = 16


@dataclass(frozen=True, slots=True)
class Loc:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}: Line {self.line}"


NOWHERE = Loc("", 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    loc: Loc
    message: str
    level: ConfigErr = ConfigErr.GENERAL_ERROR
    hint: str | None = None  # pykeepalived addition ("did you mean ..."), printed on its own line
    log_only: bool = False  # keepalived only logs it (log_message): not part of the -t output
    stops_vrrp: bool = False  # vrrp_complete_init fails: the VRRP child exits CONFIG (no respawn)
    # the keepalived processes that report a message without a line (None: every one); see
    # config/load.py processes_of
    procs: frozenset[str] | None = None
    stops: bool = False  # keepalived's reading process exits here (a missing parameter: exit 2)

    def format(self) -> str:
        text = f"({self.loc}) {self.message}" if self.loc.line and not self.log_only else self.message
        if self.hint:
            text += f"\n{self.hint}"
        return text


def is_broken(d: Diagnostic) -> bool:
    """A file-level or syntax error (missing file, fatal, unknown keyword, braces, quotes, numbers):
    a child refuses such a file at a reload and keeps its running configuration. General errors,
    warnings, deprecations and security notices (keepalived logs them and carries on) never do."""
    return ConfigErr.OK < d.level <= ConfigErr.INVALID_NUMBER


def skip_block(rep: Reporter, block: _Block) -> None:
    """keepalived's skip_block(): a block its handler refuses is read no further, so nothing inside
    it is reported; the messages of its lines go."""
    loc, end = block.loc, block.end
    last = end.line if end.file == loc.file and end.line else float("inf")
    rep.diags[:] = [d for d in rep.diags if not (d.loc.file == loc.file and loc.line < d.loc.line <= last)]


class _Block(Protocol):
    @property
    def loc(self) -> Loc: ...
    @property
    def end(self) -> Loc: ...


def exit_code(diags: list[Diagnostic]) -> int:
    """The `keepalived -t` exit status for these diagnostics (main.c config_test_exit)."""
    if any(d.stops for d in diags):
        return 2  # the reading process exited (KEEPALIVED_EXIT_CONFIG)
    worst = max((d.level for d in diags), default=ConfigErr.OK)
    if any(d.level == ConfigErr.FILE_NOT_FOUND and d.loc.line for d in diags):
        return 6  # a failed include check: keepalived stops after reading (KEEPALIVED_EXIT_NO_CONFIG)
    if worst == ConfigErr.OK:
        return 0
    if worst <= ConfigErr.FATAL:
        return 4
    if worst == ConfigErr.SECURITY_ERROR:
        return 6
    return 5


class Reporter:
    """Collects diagnostics; passed through the lexer, parser and builder."""

    __slots__ = ("diags", "procs")

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.procs: frozenset[str] | None = None  # set by the builder: who reports a line-less message

    def error(
        self, loc: Loc, message: str, level: ConfigErr = ConfigErr.GENERAL_ERROR, hint: str | None = None
    ) -> None:
        self.diags.append(Diagnostic(loc, message, level, hint, procs=None if loc.line else self.procs))

    def stop_vrrp(self, message: str) -> None:
        """A check of keepalived's vrrp_complete_init that fails it: its VRRP child exits with a
        permanent CONFIG error and the daemon stops (a general error for -t)."""
        self.diags.append(Diagnostic(NOWHERE, message, procs=self.procs, stops_vrrp=True))

    def warn(self, loc: Loc, message: str) -> None:
        self.diags.append(Diagnostic(loc, message, ConfigErr.WARNING))

    def log(self, loc: Loc, message: str) -> None:
        """A message keepalived logs without counting it as a configuration error (not shown by -t)."""
        self.diags.append(Diagnostic(loc, message, ConfigErr.OK, log_only=True))
