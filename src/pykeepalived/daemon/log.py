"""Logging as keepalived does it (keepalived.md §3.4, §4.4).

- syslog: `ident[pid]: message`, idents `Keepalived`, `Keepalived_vrrp`, `Keepalived_healthcheckers`
  (we keep keepalived's idents so existing log filters and alerting rules keep matching);
- console (`-l` with `-n`): `<strftime %c>: message` on stderr;
- log file (`-g FILE`): `Www Mmm DD HH:MM:SS.nnnnnnnnn YYYY: message`, children writing to FILE with
  `_vrrp` / `_check` inserted before the extension.
- with `net_namespace` / `instance` (daemon/procconf.py, from the environment) idents and log file
  names get `_NS` and/or `_INSTANCE` appended (keepalived make_syslog_ident, make_file_name).

Lines that keepalived only emits with `-D` are logged at DETAIL level and dropped without it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import resource
import sys
import time
from pathlib import Path

from pykeepalived.logs import DETAIL, log
from pykeepalived.options import Options
from pykeepalived.safefile import open_append

__all__ = ["DETAIL", "log", "setup_logging"]

IDENTS = {"parent": "Keepalived", "vrrp": "Keepalived_vrrp", "checker": "Keepalived_healthcheckers",
          "bfd": "Keepalived_bfd"}
FILE_SUFFIX = {"parent": "", "vrrp": "_vrrp", "checker": "_check", "bfd": "_bfd"}

_FACILITIES = {
    "daemon": logging.handlers.SysLogHandler.LOG_DAEMON,
    "user": logging.handlers.SysLogHandler.LOG_USER,
    **{f"local{i}": getattr(logging.handlers.SysLogHandler, f"LOG_LOCAL{i}") for i in range(8)},
}


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{time.strftime('%c', time.localtime(record.created))}: {record.getMessage()}"


class _FileFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ns = time.time_ns() if record.created is None else int(record.created * 1e9)
        sec, frac = divmod(ns, 1_000_000_000)
        t = time.localtime(sec)
        return f"{time.strftime('%a %b %d %H:%M:%S', t)}.{frac:09d} {t.tm_year}: {record.getMessage()}"


class _SyslogFormatter(logging.Formatter):
    def __init__(self, ident: str) -> None:
        super().__init__()
        self.ident = ident

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.ident}[{os.getpid()}]: {record.getMessage()}"


class _FlushingFileHandler(logging.FileHandler):
    def __init__(self, path: str, flush_each: bool) -> None:
        self._flush_each = flush_each
        super().__init__(path, encoding="utf-8", delay=False)

    def _open(self):  # type: ignore[no-untyped-def]
        """Appended to through O_NOFOLLOW: a symlink planted at the name is refused, not followed."""
        return os.fdopen(open_append(self.baseFilename, 0o666), "a", encoding="utf-8")

    def flush(self) -> None:
        if self._flush_each:
            super().flush()


def ident_suffix() -> str:
    from pykeepalived.daemon.procconf import ProcConf

    pc = ProcConf.from_env()
    return pc.suffix() if pc is not None else ""


def ident(role: str) -> str:
    return IDENTS[role] + ident_suffix()


def log_file_name(base: str, role: str, suffix: str = "") -> str:
    """keepalived's make_file_name(): insert `_vrrp`/`_check` before the extension; relative → $TMPDIR."""
    p = Path(base)
    if not p.is_absolute():
        tmp = os.environ.get("TMPDIR")
        p = Path(tmp if tmp and os.path.isdir(tmp) else "/tmp") / p
    return str(p.with_name(p.stem + FILE_SUFFIX[role] + suffix + p.suffix))


def setup_logging(opts: Options, role: str) -> logging.Logger:
    """Configure the `pykeepalived` logger for this process (parent, vrrp or checker)."""
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    log.setLevel(DETAIL if opts.log_detail else logging.INFO)
    log.propagate = False
    if opts.log_console and opts.dont_fork:
        h: logging.Handler = logging.StreamHandler(sys.stderr)
        h.setFormatter(_ConsoleFormatter())
        log.addHandler(h)
    if opts.log_file:
        fh = _FlushingFileHandler(log_file_name(opts.log_file, role, ident_suffix()), opts.flush_log_file)
        fh.setFormatter(_FileFormatter())
        log.addHandler(fh)
    if not opts.no_syslog and os.path.exists("/dev/log"):
        try:
            sh = logging.handlers.SysLogHandler("/dev/log", facility=_FACILITIES[opts.log_facility])
        except OSError:
            pass
        else:
            sh.setFormatter(_SyslogFormatter(ident(role)))
            log.addHandler(sh)
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    return log


def _tv(seconds: float) -> str:
    """A struct timeval as keepalived prints it (%ld.%6.6ld)."""
    us = round(seconds * 1_000_000)
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def log_stopping() -> None:
    """keepalived log_stopping(): with -D the child's CPU time (and its scripts' when they used any)."""
    if not log.isEnabledFor(DETAIL):
        log.info("Stopped")
        return
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    if kids.ru_utime:
        log.info("Stopped - used (self/children) %s/%s user time, %s/%s system time",
                 _tv(me.ru_utime), _tv(kids.ru_utime), _tv(me.ru_stime), _tv(kids.ru_stime))
    else:
        log.info("Stopped - used %s user time, %s system time", _tv(me.ru_utime), _tv(me.ru_stime))


def log_cpu_usage() -> None:
    """keepalived's parent at exit (with -D): its own and its children's CPU time."""
    if log.isEnabledFor(DETAIL):
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        log.info("CPU usage (self/children) user: %s/%s system: %s/%s",
                 _tv(me.ru_utime), _tv(kids.ru_utime), _tv(me.ru_stime), _tv(kids.ru_stime))
