"""Pid files as keepalived writes them (keepalived.md §3.3): 0644, write-locked while we run."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable

RUN_DIR = "/run"
DEFAULTS = {"parent": "keepalived.pid", "vrrp": "vrrp.pid", "checker": "checkers.pid", "bfd": "bfd.pid"}


class AlreadyRunning(Exception):
    pass


class PidFile:
    """Create, lock and write a pid file; `remove()` at exit. A locked file means 'already running'."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, pid: int | None = None) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AlreadyRunning(self.path) from None
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


def default_path(role: str) -> str:
    return os.path.join(RUN_DIR, DEFAULTS[role])


def run_with_pid_file(path: str, body: Callable[[], int]) -> int:
    """Hold the pid file while `body` runs (keepalived: a locked pid file means already running, exit 1)."""
    pid = PidFile(path)
    try:
        pid.acquire()
    except AlreadyRunning:
        logging.getLogger("pykeepalived").error("daemon is already running")
        return 1
    try:
        return body()
    finally:
        pid.remove()
