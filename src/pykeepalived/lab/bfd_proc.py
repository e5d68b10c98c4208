"""Run a BFD child (`python -m pykeepalived --child=bfd`) or keepalived in a lab host, with event pipes."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pykeepalived.bfd.events import ENV_CHECKER_FD, ENV_VRRP_FD, BfdEvent, decode_events
from pykeepalived.lab.netns import Host


class BfdProc:
    """One BFD process in a namespace; `events()` reads what it wrote on the VRRP event pipe."""

    def __init__(self, host: Host, conf: str, *, impl: str = "py", checker_pipe: bool = False,
                 fill_vrrp_pipe: bool = False) -> None:
        self.host = host
        self.impl = impl
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyka-bfd-{host.name}-"))
        self.conf = self.dir / "keepalived.conf"
        self.conf.write_text(conf)
        self.log = self.dir / "out.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.rfd, wfd = os.pipe()
        if fill_vrrp_pipe:  # a reader that never reads: the pipe is full before the child starts
            os.set_blocking(wfd, False)
            try:
                while True:
                    os.write(wfd, b"\n" * 4096)
            except BlockingIOError:
                pass
        self.crfd: int | None = None
        self._buf = b""
        self.seen: list[tuple[float, BfdEvent]] = []
        self.cursor: dict[str, int] = {}  # per session: events before this index are consumed
        env = dict(os.environ, TMPDIR=str(self.dir), PYTHONUNBUFFERED="1")
        fds = [wfd]
        env[ENV_VRRP_FD] = str(wfd)
        cwfd = None
        if checker_pipe:
            self.crfd, cwfd = os.pipe()
            env[ENV_CHECKER_FD] = str(cwfd)
            fds.append(cwfd)
        if impl == "py":
            argv = [sys.executable, "-m", "pykeepalived", "--child=bfd", "-f", str(self.conf), "-n", "-l",
                    "-D", "-G", "-b", str(self.dir / "bfd.pid")]
        else:  # keepalived: the whole daemon, only BFD configured (-D for detail logs)
            d = self.dir
            argv = ["keepalived", "-n", "-l", "-D", "-G", "-f", str(self.conf), "-p", str(d / "p.pid"),
                    "-b", str(d / "bfd.pid"), "-r", str(d / "v.pid"), "-c", str(d / "c.pid")]
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.proc = host.popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, pass_fds=fds)
        out.close()
        for fd in fds:
            os.close(fd)

    def pid(self) -> int | None:
        try:
            return int((self.dir / "bfd.pid").read_text())
        except (OSError, ValueError):
            return None

    def skip_events(self) -> None:
        """Consume everything read so far."""
        self.read_events(0.05)
        for _, e in self.seen:
            self.cursor[e.name] = len(self.seen)

    def read_events(self, timeout: float = 0.0) -> list[BfdEvent]:
        r, _, _ = select.select([self.rfd], [], [], timeout)
        if not r:
            return []
        data = os.read(self.rfd, 4096)
        evs, self._buf = decode_events(self._buf + data)
        now = time.monotonic()
        self.seen += [(now, e) for e in evs]
        return evs

    def wait_event(self, name: str, up: bool, timeout: float) -> float:
        """Wait for `NAME UP|DOWN` on the pipe; return the monotonic time it was read."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(self.cursor.get(name, 0), len(self.seen)):
                t, e = self.seen[i]
                if e.name == name and e.up == up:
                    self.cursor[name] = i + 1
                    return t
            if time.monotonic() >= deadline:
                break
            self.read_events(min(0.05, max(0.0, deadline - time.monotonic())))
        raise AssertionError(f"no '{name} {'UP' if up else 'DOWN'}' within {timeout} s; log:\n{self.text()}")

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        pid = self.pid()
        assert pid is not None
        os.kill(pid, sig)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def cleanup(self) -> None:
        self.stop()
        for fd in (self.rfd, self.crfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if not os.environ.get("PYKA_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)


def bfd_conf(name: str, peer: str, source: str | None = None, *lines: str) -> str:
    body = [f"    neighbor_ip {peer}"]
    if source:
        body.append(f"    source_ip {source}")
    body += [f"    {ln}" for ln in lines]
    return f"bfd_instance {name} {{\n" + "\n".join(body) + "\n}\n"
