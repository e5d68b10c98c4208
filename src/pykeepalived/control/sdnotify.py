# Theory of operation
# -------------------
# systemd's readiness protocol (sd_notify(3)) without libsystemd: when the service manager starts us
# with Type=notify it puts the path of a unix datagram socket in $NOTIFY_SOCKET (a leading "@" means
# the abstract namespace); one datagram of newline-separated VAR=value assignments reports state:
# READY=1 when the daemon serves, RELOADING=1 / STOPPING=1 around reloads and stops, STATUS=text
# for `systemctl status`. Without $NOTIFY_SOCKET every call is a no-op.
#
# The parent (daemon/parent/watchdog.py) is systemd's main process. Each child writes its role on the
# pipe whose write end the parent passed it as $PYKEEPALIVED_READY_FD (ReadyPipe below) where
# keepalived's child calls notify_config_read() (configuration read and checked, before the instances
# start): the parent logs "Startup complete" once every child has; and one more line after each
# reload ("Reload complete"). The VRRP child writes "vrrp serving" once its instances and control
# socket are up: the parent's READY=1.
"""sd_notify(3) with a plain socket, and the child-to-parent readiness pipe."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable

READY_FD_ENV = "PYKEEPALIVED_READY_FD"
SERVING = "serving"  # "ROLE serving": the VRRP child serves (READY=1)


def notify(state: str, env: dict[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=...") to the service manager; False if not under systemd."""
    path = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not path:
        return False
    addr = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(addr)
            s.sendall(state.encode())
    except OSError:
        return False
    return True


_ready: tuple[int, str] | None = None  # a child's end of the pipe and its role, kept for its reloads


def child_ready(role: str) -> None:
    """In a child: tell the parent this child has read its configuration (keepalived's
    notify_config_read; no-op if no pipe was passed). The pipe stays open, not inherited by the
    commands the child runs, for `child_serving` and `child_reloaded`."""
    global _ready
    fd_text = os.environ.pop(READY_FD_ENV, None)
    if not fd_text or not fd_text.isdigit():
        return
    fd = int(fd_text)
    with contextlib.suppress(OSError):
        os.set_inheritable(fd, False)
    _ready = (fd, role)
    child_reloaded()


def child_reloaded() -> None:
    """In a child: a reload is done; the parent logs keepalived's "Reload complete" once every child
    has said so (keepalived's notify_config_read)."""
    if _ready is not None:
        with contextlib.suppress(OSError):
            os.write(_ready[0], f"{_ready[1]}\n".encode())


def child_serving() -> None:
    """In the VRRP child: its instances and control socket are up (the parent's READY=1)."""
    if _ready is not None:
        with contextlib.suppress(OSError):
            os.write(_ready[0], f"{_ready[1]} {SERVING}\n".encode())


class ReadyPipe:
    """Parent side: a pipe every child inherits; a thread reports each ready child to `on_ready`."""

    def __init__(self, on_ready: Callable[[str], None]) -> None:
        self.rfd, self.wfd = os.pipe2(os.O_CLOEXEC)
        self.on_ready = on_ready
        self.thread = threading.Thread(target=self._run, name="ready-pipe", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def child_env(self) -> dict[str, str]:
        return {READY_FD_ENV: str(self.wfd)}

    def _run(self) -> None:
        buf = b""
        while True:
            try:
                data = os.read(self.rfd, 256)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.on_ready(line.decode(errors="replace").strip())
