"""keepalived's command line (keepalived/core/main.c parse_cmdline), as a typed value.

Parsing follows getopt_long as keepalived calls it: the same short and long options, the same
messages for unknown options and missing arguments, and exit status 1 for both.
"""

from __future__ import annotations

import getopt
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


class UsageError(Exception):
    """A bad command line; the message is printed as keepalived prints it, exit status 1."""


@dataclass(slots=True)
class Options:
    conf_file: str = DEFAULT_CONFIG
    vrrp_only: bool = False  # -P
    check_only: bool = False  # -C
    no_bfd: bool = False  # -B
    all_children: bool = False  # --all
    log_console: bool = False  # -l
    log_detail: int = 0  # -D (may be given twice)
    log_facility: str = "daemon"  # -S
    log_file: str | None = None  # -g
    flush_log_file: bool = False
    no_syslog: bool = False  # -G
    umask: int | None = None  # -u
    release_vips: bool = False  # -X
    dont_release_vrrp: bool = False  # -V
    dont_release_ipvs: bool = False  # -I
    dont_respawn: bool = False  # -R
    dont_fork: bool = False  # -n
    dump_conf: bool = False  # -d
    pid_file: str | None = None  # -p
    vrrp_pid_file: str | None = None  # -r
    checkers_pid_file: str | None = None  # -c
    bfd_pid_file: str | None = None  # -b
    address_monitoring: bool = False  # -a
    namespace: str | None = None  # -s
    all_config: bool = False  # -e
    config_id: str | None = None  # -i
    config_test: bool = False  # -t
    config_test_file: str | None = None  # -t FILE
    ignore_sigint: bool = False
    snmp: bool = False  # -x: every SNMP MIB on (enable_snmp_vrrp/checker/rfcv2/rfcv3)
    snmp_socket: str | None = None  # -A: the AgentX master's socket, over global_defs snmp_socket
    signum: str | None = None
    version: bool = False
    help: bool = False
    # pykeepalived extensions
    dump_conf_syntax: bool = False  # --dump-conf-syntax: print the effective config in keepalived syntax
    child: str | None = None  # --child=vrrp|checker (internal: one child run alone)
    unexpected: list[str] = field(default_factory=list)


_SHORT = "f:PCBlDS:Gu:XVIRndp:r:c:b:as:ei:xA:mvhL"
_LONG = [
    "use-file=", "vrrp", "check", "no_bfd", "all", "log-console", "log-detail", "log-facility=",
    "log-file-name=", "flush-log-file", "no-syslog", "umask=", "release-vips", "dont-release-vrrp",
    "dont-release-ipvs", "dont-respawn", "dont-fork", "dump-conf", "pid=", "vrrp_pid=", "checkers_pid=",
    "bfd_pid=", "address-monitoring", "namespace=", "all-config", "config-id=", "snmp",
    "snmp-agent-socket=", "core-dump", "core-dump-pattern-value=", "config-test-file=", "config-test",
    "signum=",
    "ignore-sigint", "version", "help", "log-file", "core-dump-pattern", "config-fd=", "no-mem-check",
    "mem-check-log", "perf=", "perf", "debug=", "debug", "dump-conf-syntax", "child=",
]

# keepalived's SIGFUNC names (--signum); RT signals resolved as glibc numbers them.
SIGFUNCS: dict[str, int] = {
    "STOP": int(signal.SIGTERM),
    "RELOAD": int(signal.SIGHUP),
    "DATA": int(signal.SIGUSR1),
    "STATS": int(signal.SIGUSR2),
    "STATS_CLEAR": int(signal.SIGRTMAX) - 1,
    "JSON": int(signal.SIGRTMIN) + 2,
}
# the signals a child process handles (daemon/serve.py); the parent starts children with them blocked
CHILD_SIGNALS: tuple[int, ...] = (int(signal.SIGINT), *SIGFUNCS.values())


def program_name(argv0: str | None = None) -> str:
    """The program's name as keepalived prints it in its usage: argv[0] as the caller typed it.

    A script's interpreter only sees the path the shell found on PATH (`keepalived` typed becomes
    `/usr/sbin/keepalived`), so a path that is where PATH leads for its own basename is shown as the
    basename; any other path (`./keepalived`, a path off PATH) as it is; `python -m PKG`: PKG."""
    arg0 = sys.argv[0] if argv0 is None else argv0
    base = os.path.basename(arg0)
    if base == "__main__.py":  # python -m pykeepalived
        return os.path.basename(os.path.dirname(arg0))
    if os.sep in arg0 and base and shutil.which(base) == arg0:
        return base
    return arg0 or "keepalived"


def _facility(value: str) -> str:
    if value.isdigit() and 0 <= int(value) <= 7:
        return f"local{value}"
    if value in {f"local{i}" for i in range(8)} | {"user", "daemon"}:
        return value
    raise UsageError(f"Invalid log facility '{value}'")


# Options whose argument is optional (getopt's "t::"), which Python's getopt cannot express: a bare
# `-t` / `--config-test` takes no argument, `-tFILE` / `--config-test=FILE` carries one.
_OPTIONAL_ARG = {"t": "config-test", "g": "log-file", "M": "core-dump-pattern"}
_OPTIONAL_LONG_VALUE = {"config-test": "config-test-file", "log-file": "log-file-name",
                        "core-dump-pattern": "core-dump-pattern-value"}


def _rewrite_optional(argv: list[str]) -> list[str]:
    out: list[str] = []
    for arg in argv:
        if arg == "--":
            out.extend(argv[len(out):])
            break
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            if name in _OPTIONAL_LONG_VALUE:
                arg = f"--{_OPTIONAL_LONG_VALUE[name]}={value}"
        elif len(arg) >= 2 and arg[0] == "-" and arg[1] in _OPTIONAL_ARG:
            long = _OPTIONAL_ARG[arg[1]]
            arg = f"--{long}" if len(arg) == 2 else f"--{_OPTIONAL_LONG_VALUE[long]}={arg[2:]}"
        out.append(arg)
    return out


def parse_args(argv: list[str]) -> Options:
    try:
        opts, rest = getopt.gnu_getopt(_rewrite_optional(argv), _SHORT, _LONG)
    except getopt.GetoptError as e:
        opt = e.opt or ""
        prefix = "--" if len(opt) > 1 else "-"
        if "requires argument" in e.msg:
            raise UsageError(f"Missing parameter for option {prefix}{opt}") from None
        raise UsageError(f"Unknown option {prefix}{opt}") from None
    o = Options(unexpected=rest)
    for name, val in opts:
        match name:
            case "-f" | "--use-file":
                o.conf_file = val
            case "-P" | "--vrrp":
                o.vrrp_only = True
            case "-C" | "--check":
                o.check_only = True
            case "-B" | "--no_bfd":
                o.no_bfd = True
            case "--all":
                o.all_children = True
            case "-l" | "--log-console":
                o.log_console = True
            case "-D" | "--log-detail":
                o.log_detail += 1
            case "-S" | "--log-facility":
                o.log_facility = _facility(val)
            case "--log-file":
                o.log_file = "keepalived.log"
            case "--log-file-name":
                o.log_file = val
            case "--flush-log-file":
                o.flush_log_file = True
            case "-G" | "--no-syslog":
                o.no_syslog = True
            case "-u" | "--umask":
                try:
                    o.umask = _c_number(val)
                except ValueError:
                    raise UsageError(f"Invalid umask '{val}'") from None
            case "-X" | "--release-vips":
                o.release_vips = True
            case "-V" | "--dont-release-vrrp":
                o.dont_release_vrrp = True
            case "-I" | "--dont-release-ipvs":
                o.dont_release_ipvs = True
            case "-R" | "--dont-respawn":
                o.dont_respawn = True
            case "-n" | "--dont-fork":
                o.dont_fork = True
            case "-d" | "--dump-conf":
                o.dump_conf = True
            case "-p" | "--pid":
                o.pid_file = val
            case "-r" | "--vrrp_pid":
                o.vrrp_pid_file = val
            case "-c" | "--checkers_pid":
                o.checkers_pid_file = val
            case "-b" | "--bfd_pid":
                o.bfd_pid_file = val
            case "-a" | "--address-monitoring":
                o.address_monitoring = True
            case "-s" | "--namespace":
                o.namespace = val
            case "-e" | "--all-config":
                o.all_config = True
            case "-i" | "--config-id":
                o.config_id = val
            case "--config-test" | "--config-test-file":
                # -t implies -n -R -G, as in keepalived
                o.config_test = o.dont_fork = o.dont_respawn = o.no_syslog = True
                o.config_test_file = val or None
            case "--signum":
                o.signum = val
            case "--ignore-sigint":
                o.ignore_sigint = True
            case "-x" | "--snmp":
                o.snmp = True
            case "-A" | "--snmp-agent-socket":
                o.snmp_socket = val
            case "-v" | "--version":
                o.version = True
            case "-h" | "--help":
                o.help = True
            case "--dump-conf-syntax":
                o.dump_conf_syntax = True
            case "--child":
                o.child = val
            case _:
                # accepted for compatibility, no effect here (core dumps, perf, debug, mem-check)
                pass
    return o


def _c_number(text: str) -> int:
    """strtoul(text, NULL, 0): 0x.. hexadecimal, a leading 0 octal (`-u 0022`), else decimal."""
    t = text.strip()
    if t[:2].lower() == "0x":
        return int(t[2:], 16)
    if len(t) > 1 and t.startswith("0"):
        return int(t[1:], 8)
    return int(t, 10)
