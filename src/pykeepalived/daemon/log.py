"""Logging as keepalived does it (keepalived.md §3.4, §4.4).

- syslog: `ident[pid]: message`, idents `Keepalived`, `Keepalived_vrrp`, `Keepalived_healthcheckers`
  (we keep keepalived's idents so existing log filters and alerting rules keep matching);
- console (`-l` with `-n`): `<strftime %c>: message` on stderr;
- log file (`-g FILE`): `Www Mmm DD HH:MM:SS.nnnnnnnnn YYYY: message`, children writing to FILE with
  `_vrrp` / `_check` inserted before the extension.
- with `net_namespace` / `instance` (daemon/procconf.py, from the environment) idents and log file
  names get `_NS` and/or `_INSTANCE` appended (keepalived make_syslog_ident, make_file_name).

Lines that keepalived only emits with `-D` are logged at DETAIL level and dropped without it.

keepalived has no exceptions; we do. A record logged with its exception (`log.exception`, a child's
unexpected failure: `VRRP child failed`, `Healthcheck child failed`, `BFD child failed`, an internal
error while reloading or handling a packet) gets its cause on the same line, in every destination:
`VRRP child failed: OSError: [Errno 24] Too many open files (at pykeepalived/linux/x.py:12 in f)`;
when the raising frame is in a library, the innermost frame of ours follows (`, from ...`). The full
traceback is printed only on the console, after that line, with -D (`-n -l -D`: someone watching a
foreground run); syslog and the -g file keep one line per record. No line keepalived also logs ever
carries an exception, so none of keepalived's lines changes. A cause that cannot be formatted is named
by its type alone: a log call never raises.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pykeepalived.logs import DETAIL, log
from pykeepalived.options import Options
from pykeepalived.safefile import open_append

__all__ = ["DETAIL", "EXIT_PROGRAM_ERROR", "cause", "log", "run_logged", "setup_logging"]

EXIT_PROGRAM_ERROR = 70  # keepalived KEEPALIVED_EXIT_PROGRAM_ERROR: the parent respawns the child

IDENTS = {"parent": "Keepalived", "vrrp": "Keepalived_vrrp", "checker": "Keepalived_healthcheckers",
          "bfd": "Keepalived_bfd"}
FILE_SUFFIX = {"parent": "", "vrrp": "_vrrp", "checker": "_check", "bfd": "_bfd"}

_FACILITIES = {
    "daemon": logging.handlers.SysLogHandler.LOG_DAEMON,
    "user": logging.handlers.SysLogHandler.LOG_USER,
    **{f"local{i}": getattr(logging.handlers.SysLogHandler, f"LOG_LOCAL{i}") for i in range(8)},
}


def _where(frame: traceback.FrameSummary) -> str:
    """`pykeepalived/x/y.py:12 in f` (a library's path from its package, not the site's prefix)."""
    path = frame.filename.replace("\\", "/")
    for anchor in ("/site-packages/", "/dist-packages/", "/src/", "/lib/python3"):
        if anchor in path:
            path = path.rsplit(anchor, 1)[1]
            if anchor == "/lib/python3":  # the standard library: drop "11/"
                path = path.split("/", 1)[-1]
            break
    return f"{path}:{frame.lineno} in {frame.name}"


def cause(record: logging.LogRecord) -> str:
    """`: Type: text (at where)` for a record logged with its exception, "" for any other."""
    if not record.exc_info or record.exc_info[1] is None:
        return ""
    exc = record.exc_info[1]
    try:
        text = " ".join(str(exc).split())
        frames = traceback.extract_tb(exc.__traceback__)
        where = ""
        if frames:
            ours = [f for f in frames if "/pykeepalived/" in f.filename.replace("\\", "/")]
            where = f" (at {_where(frames[-1])}"
            if ours and ours[-1] is not frames[-1]:
                where += f", from {_where(ours[-1])}"
            where += ")"
        return f": {type(exc).__name__}{': ' + text if text else ''}{where}"
    except Exception:  # a broken __str__: the type alone
        return f": {type(exc).__name__}"


def _message(record: logging.LogRecord) -> str:
    return record.getMessage() + cause(record)


class _ConsoleFormatter(logging.Formatter):
    def __init__(self, tracebacks: bool = False) -> None:
        super().__init__()
        self.tracebacks = tracebacks  # -D in the foreground: the traceback after the line

    def format(self, record: logging.LogRecord) -> str:
        line = f"{time.strftime('%c', time.localtime(record.created))}: {_message(record)}"
        if self.tracebacks and record.exc_info and record.exc_info[1] is not None:
            try:
                line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            except Exception:
                pass
        return line


class _FileFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ns = time.time_ns() if record.created is None else int(record.created * 1e9)
        sec, frac = divmod(ns, 1_000_000_000)
        t = time.localtime(sec)
        return f"{time.strftime('%a %b %d %H:%M:%S', t)}.{frac:09d} {t.tm_year}: {_message(record)}"


class _SyslogFormatter(logging.Formatter):
    def __init__(self, ident: str) -> None:
        super().__init__()
        self.ident = ident

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.ident}[{os.getpid()}]: {_message(record)}"


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
        h.setFormatter(_ConsoleFormatter(tracebacks=bool(opts.log_detail)))
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


def run_logged(main: Callable[[], Coroutine[Any, Any, int]], what: str) -> int:
    """A child's main coroutine, run; an unexpected exception is logged as `what` with its cause, and
    the child exits with keepalived's program-error status (the parent respawns it)."""
    try:
        return asyncio.run(main())
    except Exception:
        log.exception("%s", what)
        return EXIT_PROGRAM_ERROR


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
