"""Pid files as keepalived writes them (keepalived.md §3.3): 0644, write-locked while we run.

Names: /run/keepalived.pid, /run/vrrp.pid, /run/checkers.pid, /run/bfd.pid; with `use_pid_dir`, a
`net_namespace` or an `instance` they move to /run/keepalived/ (created 0755 by the parent, removed
at exit when empty), and `instance NAME` makes them keepalived_NAME.pid, vrrp_NAME.pid, ... The
settings come from the parent's ProcConf in the environment (daemon/procconf.py), so the children
name their files as the parent does; -p/-r/-c/-b always win.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from collections.abc import Callable

RUN_DIR = "/run"
PID_DIR = "/run/keepalived"
DEFAULTS = {"parent": "keepalived.pid", "vrrp": "vrrp.pid", "checker": "checkers.pid", "bfd": "bfd.pid"}


class AlreadyRunning(Exception):
    pass


class PidFile:
    """Create, lock and write a pid file; `remove()` at exit. A locked file means 'already running'."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, pid: int | None = None) -> None:
        """Raises AlreadyRunning, or OSError when the file cannot be opened (keepalived makes no
        directory for it either, but /run/keepalived for use_pid_dir: create_pid_dir)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AlreadyRunning(self.path) from None
        os.fchmod(fd, 0o644)  # whatever the umask (keepalived lifts it around the open)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid() if pid is None else pid}\n".encode())
        self._fd = fd

    def remove(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None


def pid_path(role: str, use_pid_dir: bool = False, instance: str | None = None) -> str:
    """keepalived's pid file name for a process (main.c, make_pidfile_name)."""
    name = DEFAULTS[role]
    if instance:
        stem, ext = os.path.splitext(name)
        return os.path.join(PID_DIR, f"{stem}_{instance}{ext}")
    return os.path.join(PID_DIR if use_pid_dir else RUN_DIR, name)


def default_path(role: str) -> str:
    from pykeepalived.daemon.procconf import ProcConf

    pc = ProcConf.from_env()
    if pc is None:
        return pid_path(role)
    return pid_path(role, pc.use_pid_dir, pc.instance)


def create_pid_dir() -> None:
    """/run/keepalived, rwxr-xr-x whatever the umask (pidfile.c create_pid_dir)."""
    try:
        os.mkdir(PID_DIR, 0o755)
    except FileExistsError:
        return
    except OSError:
        logging.getLogger("pykeepalived").info("Unable to create directory %s", PID_DIR)
        return
    os.chmod(PID_DIR, 0o755)


def remove_pid_dir() -> None:
    try:
        os.rmdir(PID_DIR)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EBUSY, errno.ENOENT):
            logging.getLogger("pykeepalived").info("unlink of %s failed - error (%d) '%s'", PID_DIR,
                                                   exc.errno, exc.strerror)


def run_with_pid_file(path: str, body: Callable[[], int], then: str | None = None) -> int:
    """Hold the pid file while `body` runs (keepalived: a locked pid file means already running, exit 1).

    A pid file that cannot be opened ends the process with status 0 after keepalived's
    pidfile_write line and `then` (the child's `... child process: cannot write pidfile`, or the
    parent's stop banner)."""
    pid = PidFile(path)
    log = logging.getLogger("pykeepalived")
    try:
        pid.acquire()
    except AlreadyRunning:
        log.error("daemon is already running")
        return 1
    except OSError:
        log.info("pidfile_write : Cannot open %s pidfile", path)
        if then:
            log.info("%s", then)
        return 0
    try:
        return body()
    finally:
        pid.remove()
