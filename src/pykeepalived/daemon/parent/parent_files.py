# Theory of operation
# -------------------
# The parent's own files (keepalived.md §3.2/3.3), computed from keepalived.conf in a fork
# (daemon/forkread.py: the parent never imports the config layer):
# * keepalived_parent.data on SIGUSR1, placed as the children's data files (daemon/dumpfiles.py);
#   the fork that reads the configuration writes it.
# * At start the settings come from the one read of the configuration that also decides which
#   children run (daemon/procconf.py parent_setup, as keepalived's parent reads its file once);
#   only a configuration whose read has effects of its own here (a failed include check to report,
#   config_save_dir, tmp_config_directory) is read again by ParentFiles.start, where they happen.
# * `reload_file [PATH]`: created (0644) while the parent reads the configuration at start and at a
#   reload, removed after; bare keyword: /run/keepalived.reload (keepalived_INSTANCE.reload in
#   /run/keepalived/ with `instance`, /run/keepalived/keepalived.reload with `use_pid_dir`).
# * `reload_time_file PATH` [`reload_repeat`]: keepalived's reload monitor (reload_monitor.c). The
#   file holds `HH:MM:SS`, `YY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, local time, UTC with a
#   trailing `Z`. A time of day already past means tomorrow; a past date is ignored. At the time the
#   parent reloads itself (SIGHUP) and deletes the file, unless `reload_repeat` and no date was
#   given (then the next day's reload follows). The file is re-read when it changes (keepalived
#   watches IN_CLOSE_WRITE with inotify; here its identity and mtime are compared once a second and
#   right before a reload is due); removing it cancels the reload. Log texts are keepalived's.
"""Parent-side files: keepalived_parent.data, reload_file, reload_time_file."""

from __future__ import annotations

import calendar
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykeepalived.daemon.forkread import in_fork
from pykeepalived.safefile import replace

if TYPE_CHECKING:
    from pykeepalived.config.diag import Diagnostic
    from pykeepalived.config.model import Model

log = logging.getLogger("pykeepalived")

RUN_DIR = "/run"
PID_DIR = "/run/keepalived"


@dataclass(frozen=True, slots=True)
class ParentConf:
    reload_time_file: str | None = None
    reload_repeat: bool = False
    reload_file: str | None = None
    config_file_error: bool = False  # an include check failed: keepalived exits 6 at start
    tmp_config_directory: str | None = None  # cannot change at a reload
    config_save_dir: bool = False  # the read writes a copy of the configuration (or creates the directory)

    def encode(self) -> str:
        repeat = "1" if self.reload_repeat else ""
        error = "1" if self.config_file_error else ""
        save = "1" if self.config_save_dir else ""
        return "\t".join((self.reload_time_file or "", repeat, self.reload_file or "", error,
                          self.tmp_config_directory or "", save))

    @classmethod
    def decode(cls, line: str) -> ParentConf:
        p = [*line.split("\t"), "", "", "", "", "", ""][:6]
        return cls(p[0] or None, p[1] == "1", p[2] or None, p[3] == "1", p[4] or None, p[5] == "1")

    def read_has_effects(self) -> bool:
        """Reading the configuration logs lines or writes files in the parent (_conf_now)."""
        return self.config_file_error or self.config_save_dir or self.tmp_config_directory is not None


def parent_conf(model: Model, diags: Sequence[Diagnostic]) -> ParentConf:
    """The parent's settings from a loaded configuration (no effects: _conf_now has them)."""
    from pykeepalived.config.diag import ConfigErr

    file_error = any(d.level == ConfigErr.FILE_NOT_FOUND and d.loc.line for d in diags)
    g, r = model.global_defs.reload, model.root
    reload_file = None
    if (words := g.reload_file) is not None:
        if words:
            reload_file = str(words[0])
        elif r.instance:
            reload_file = f"{PID_DIR}/keepalived_{r.instance}.reload"
        elif r.use_pid_dir:
            reload_file = f"{PID_DIR}/keepalived.reload"
        else:
            reload_file = f"{RUN_DIR}/keepalived.reload"
    tmp_dir = g.tmp_config_directory
    return ParentConf(g.reload_time_file, g.reload_repeat, reload_file, file_error,
                      str(tmp_dir) if tmp_dir else None, bool(model.global_defs.config_save_dir))


def _conf_now(conf_file: str, config_id: str | None, all_config: bool, parent: int = 0,
              conf_num: int = 0) -> ParentConf:
    from pykeepalived.config import load_config

    model, diags = load_config(conf_file, config_id, all_config)
    conf = parent_conf(model, diags)
    if conf.config_file_error:  # the children will not start: the parent reports what it read
        for d in diags:
            log.error("%s", d.format())
    save_dir = model.global_defs.config_save_dir
    if save_dir and not os.path.exists(str(save_dir)):  # the parent creates it, the children use it
        try:
            os.mkdir(str(save_dir), 0o700)
        except OSError as e:
            log.error("Unable to create config_save_dir %s (error %d - %s)", save_dir, e.errno or 0,
                      e.strerror)
    if save_dir and parent:  # keepalived copies its consolidated configuration there at each read
        from pykeepalived.config.dump import dump_model

        try:
            replace(f"{str(save_dir).rstrip('/')}/keepalived.conf.{parent}.{conf_num}", dump_model(model))
        except OSError:
            pass
    if conf.tmp_config_directory and parent:
        _write_tmp_copy(conf.tmp_config_directory, model)
    return conf


def _write_tmp_copy(directory: str, model: object) -> None:
    """tmp_config_directory: keepalived keeps its consolidated copy of the configuration in an
    unnamed file (O_TMPFILE) there instead of in memory; we write the same kind of file, so an
    unusable directory is reported as keepalived reports it."""
    from pykeepalived.config.dump import dump_model

    try:
        fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as e:
        log.error("Cannot open config directory %s for writing, errno %d - %s", directory, e.errno or 0,
                  e.strerror)
        return
    try:
        os.write(fd, dump_model(model).encode())  # type: ignore[arg-type]
    except OSError:
        log.info("Unable to config to new disk file on %s", directory)
    finally:
        os.close(fd)


def read_parent_conf(conf_file: str, config_id: str | None, all_config: bool,
                     conf_num: int = 0) -> ParentConf:
    """The parent's settings, read in a fork; keepalived's defaults if the file cannot be read."""
    parent = os.getpid()
    try:
        return ParentConf.decode(in_fork(
            lambda: _conf_now(conf_file, config_id, all_config, parent, conf_num).encode()))
    except Exception:
        return ParentConf()


def create_reload_file(path: str | None) -> None:
    if not path:
        return
    old = os.umask(0o022)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        os.close(fd)
    except OSError as e:
        log.info("Failed to create reload file (%s) %d - %s", path, e.errno or 0, e.strerror)
    finally:
        os.umask(old)


def remove_reload_file(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


_dumped = False  # the parent has written keepalived_parent.data (so looked up the default script user)


def write_parent_data(conf_file: str, config_id: str | None, all_config: bool, namespace: str | None) -> None:
    """SIGUSR1 in the parent: keepalived_parent.data (global definitions), written by a fork."""

    def write() -> str:
        from pykeepalived.config import load_config
        from pykeepalived.daemon.dump_data import (
            dump_proc,
            global_definitions,
            global_input,
            uses_default_user,
        )
        from pykeepalived.daemon.dumpfiles import paths_of

        model, _ = load_config(conf_file, config_id, all_config)
        path = paths_of(model, namespace).state("_parent")
        proc = dump_proc(model, namespace)
        # keepalived dump_global_data; the default script user is looked up (and a missing one
        # logged) at the first dump unless a startup/shutdown script needed it already
        log_user = not _dumped and not uses_default_user(model, "parent")
        lines = global_definitions(global_input(model, proc, "parent", log_user=log_user))
        try:
            replace(path, "\n".join(lines) + "\n")
        except OSError as e:
            log.info("Can't open dump file %s (%d: %s)", path, e.errno or 0, e.strerror)
        return path

    global _dumped
    log.info("Printing parent data for process(%d) on signal", os.getpid())
    try:
        in_fork(write)
        _dumped = True
    except Exception as exc:  # a broken configuration must not stop the parent
        log.error("Unable to write the parent data file: %r", exc)


# ------------------------------------------------------------------ reload_time_file
def parse_reload_time(text: str, now: float) -> tuple[float, bool] | str:
    """(epoch seconds, date given) or keepalived's reason for ignoring it."""
    s = text
    utc = s.endswith("Z")
    if utc:
        s = s[:-1]
    if len(s) not in (8, 17, 19):
        return f"Reload time {text} format is incorrect - ignoring"
    fmt = "%H:%M:%S" if len(s) == 8 else "%y-%m-%d %H:%M:%S" if len(s) == 17 else "%Y-%m-%d %H:%M:%S"
    try:
        parsed = time.strptime(s, fmt)
    except ValueError:
        return f"Reload date/time {text} invalid - ignoring"
    base = time.gmtime(now) if utc else time.localtime(now)
    if len(s) == 8:
        fields = (base.tm_year, base.tm_mon, base.tm_mday, parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    else:
        fields = (parsed.tm_year, parsed.tm_mon, parsed.tm_mday, parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    tup = (*fields, 0, 0, -1)
    t = calendar.timegm(tup) if utc else time.mktime(tup)
    if t <= now:
        if len(s) != 8:
            return "past"
        nxt = (fields[0], fields[1], fields[2] + 1, *fields[3:], 0, 0, -1)
        t = calendar.timegm(nxt) if utc else time.mktime(nxt)
    return (float(t), len(s) >= 17)


def _fmt(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class ReloadTimer:
    """`poll(now)` once a second (and when `timeout()` says so); True when the reload is due."""

    def __init__(self, path: str, repeat: bool) -> None:
        self.path = path
        self.repeat = repeat
        self.reload_time: float = 0.0
        self.date_specified = False
        self._seen: tuple[int, int, int, int] | None = None

    def _identity(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def cancel(self) -> None:
        if self.reload_time:
            log.info("Cancelling reload scheduled for %s", _fmt(self.reload_time))
        self.reload_time = 0.0

    def read(self, now: float) -> None:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                line = f.readline(20)
        except OSError:
            self.cancel()
            return
        line = line.rstrip("\n")
        if not line:
            self.cancel()
            return
        res = parse_reload_time(line, now)
        if isinstance(res, str):
            if res == "past":
                log.info("Reload time %s is in the past - ignoring", line)
                log.info("Reload date/time is in the past - ignoring")
            else:
                log.info("%s", res)
                log.info("Invalid reload time '%s' specified - ignoring", line)
            self.cancel()
            return
        t, self.date_specified = res
        if t != self.reload_time:
            if self.reload_time:
                log.info("Reload time updated from %s to %s", _fmt(self.reload_time), _fmt(t))
            else:
                log.info("Scheduling reload for %s", _fmt(t))
            self.reload_time = t

    def start(self, now: float | None = None) -> None:
        """At start and after each reload (keepalived start_reload_monitor)."""
        self.reload_time = 0.0
        self._seen = self._identity()
        if self._seen is not None:
            self.read(time.time() if now is None else now)

    def timeout(self, now: float) -> float | None:
        return max(0.0, self.reload_time - now) if self.reload_time else None

    def poll(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        ident = self._identity()
        if ident != self._seen:
            self._seen = ident
            if ident is None:
                self.cancel()
            else:
                self.read(now)
        if not self.reload_time or now < self.reload_time:
            return False
        self.reload_time = 0.0
        if not self.repeat or self.date_specified:
            remove_reload_file(self.path)
        return True


class ParentFiles:
    """What parent.py calls: start(), timeout(), tick(), reload_begin()/reload_end(), dump()."""

    def __init__(self, conf_file: str, config_id: str | None, all_config: bool,
                 namespace: str | None = None) -> None:
        self.args = (conf_file, config_id, all_config)
        self.namespace = namespace
        self.conf = ParentConf()
        self.timer: ReloadTimer | None = None
        self.conf_num = 0  # numbers the configuration copies in config_save_dir

    def start(self, read: ParentConf | None = None) -> None:
        """`read`: the settings from the parent's read at start, used unless reading has effects."""
        if read is None or read.read_has_effects():
            self.read()
        else:
            self.conf = read
            self.conf_num += 1
        self.start_timer()

    def read(self) -> None:
        self.conf = read_parent_conf(*self.args, self.conf_num)
        self.conf_num += 1

    def start_timer(self) -> None:
        self.timer = None
        if self.conf.reload_time_file:
            self.timer = ReloadTimer(self.conf.reload_time_file, self.conf.reload_repeat)
            self.timer.start()

    def timeout(self, default: float) -> float:
        if self.timer is None:
            return default
        due = self.timer.timeout(time.time())
        return default if due is None else min(default, due)

    def tick(self) -> None:
        """Once per loop turn: when the scheduled time has come, SIGHUP ourselves (queued)."""
        if self.timer is not None and self.timer.poll():
            self.timer = None  # restarted by reload_end(), as keepalived's reload monitor
            os.kill(os.getpid(), __import__("signal").SIGHUP)

    def reload_begin(self) -> bool:
        """As keepalived's parent reads the file at a reload: the reload file exists meanwhile (the
        one the running configuration names: a new name takes effect at the next reload). False:
        a setting that cannot change at a reload changed (the children are not signalled)."""
        old = self.conf
        reload_file = old.reload_file
        create_reload_file(reload_file)
        self.read()
        remove_reload_file(reload_file)
        if self.conf.tmp_config_directory != old.tmp_config_directory:
            log.info("Cannot change config_directory at a reload - please restart keepalived")
            self.conf = old
            return False
        return True

    def reload_end(self) -> None:
        self.start_timer()

    def dump(self) -> None:
        write_parent_data(*self.args, self.namespace)
