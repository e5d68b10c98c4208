"""A private system bus for the DBus tests: Debian's dbus-daemon with a system-bus-like configuration
of the test's own (the policy pykeepalived ships included), on a socket in a temp dir. The daemons
under test reach it through DBUS_SYSTEM_BUS_ADDRESS; the host's bus is never used."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

POLICY = resources.files("pykeepalived").joinpath("data", "dbus", "org.keepalived.Vrrp1.conf")
SERVICE = "org.keepalived.Vrrp1"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={socket}</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>{policy}</include>
{extra}</busconfig>
"""


class PrivateBus:
    """`names`: other bus names root may own and be called on (dbus_service_name)."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pyka-bus-"))
        os.chmod(self.dir, 0o755)  # a non-root client reaches the socket too
        self._monitors: list[subprocess.Popen[bytes]] = []
        conf = self.dir / "bus.conf"
        extra = "".join(f'  <policy user="root"><allow own="{n}"/><allow send_destination="{n}"/></policy>\n'
                        for n in names)
        conf.write_text(_CONF.format(socket=self.dir / "bus.sock", policy=POLICY, extra=extra))
        self.proc = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.address = self.proc.stdout.readline().strip()
        if not self.address.startswith("unix:"):
            self.close()
            raise AssertionError("dbus-daemon did not start")
        self.env = {"DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def busctl(self, *args: str, user: list[str] | None = None, check: bool = True) -> str:
        r = subprocess.run([*(user or []), "busctl", f"--address={self.address}", *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode:
            raise AssertionError(f"busctl {' '.join(args)}: {r.stderr}")
        return r.stdout + r.stderr

    def gdbus(self, *args: str) -> str:
        r = subprocess.run(["gdbus", *args, "--system"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, **self.env))
        return r.stdout + r.stderr

    def send(self, path: str, method: str, *args: str) -> str:
        """dbus-send --print-reply to the service: the reply, or the error's name and text."""
        argv = ["dbus-send", f"--bus={self.address}", "--print-reply", f"--dest={SERVICE}", path, method]
        r = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=30)
        if r.returncode:
            return r.stderr.strip()
        return re.sub(r"time=\S+ sender=\S+ -> destination=\S+ serial=\d+ reply_serial=\d+", "",
                      r.stdout).strip()

    def owner(self) -> bool:
        return "org.keepalived.Vrrp1" in self.busctl("list", "--acquired", "--no-legend", check=False)

    def monitor(self) -> Path:
        """dbus-monitor of the service's signals into a file (read with `signals`)."""
        out = self.dir / f"monitor{len(self._monitors)}.txt"
        f = open(out, "wb")  # noqa: SIM115 - owned by the process
        self._monitors.append(subprocess.Popen(
            ["stdbuf", "-oL", "dbus-monitor", "--address", self.address,
             "type='signal',path_namespace='/org/keepalived'"], stdout=f, stderr=subprocess.DEVNULL))
        f.close()
        deadline = time.monotonic() + 10
        while "NameLost" not in out.read_text():  # the monitor is in place
            assert time.monotonic() < deadline, "dbus-monitor did not start"
            time.sleep(0.02)
        return out

    def close(self) -> None:
        procs: list[subprocess.Popen[bytes] | subprocess.Popen[str]] = [*self._monitors, self.proc]
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if not os.environ.get("PYKA_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)


_HEAD = re.compile(r"^signal .* path=(\S+); interface=(\S+); member=(\S+)$")


def signals(monitor: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """The service's signals in a monitor file: (path, member, arguments as dbus-monitor prints them)."""
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for line in monitor.read_text().splitlines():
        m = _HEAD.match(line)
        if m:
            out.append((m.group(1), m.group(3), ()))
        elif line.startswith("   ") and out and not _HEAD.match(line):
            path, member, args = out[-1]
            out[-1] = (path, member, (*args, line.strip()))
    return [s for s in out if s[0].startswith("/org/keepalived/")]


def wait_signals(monitor: Path, member: str, after: int = 0,
                 timeout: float = 10) -> list[tuple[str, str, tuple[str, ...]]]:
    """The monitor file's signals once `member` is there, followed by `after` more. dbus-monitor
    prints what the bus relays a moment after it was sent: under load, after the sender has logged
    its next step or exited; a one-shot read then misses the last signals."""
    deadline = time.monotonic() + timeout
    while True:
        got = signals(monitor)
        members = [m for _, m, _ in got]
        if member in members and len(members) - members.index(member) > after:
            return got
        assert time.monotonic() < deadline, f"no {member} (+{after}) within {timeout} s in {monitor}: {got}"
        time.sleep(0.02)


def by_path(sigs: list[tuple[str, str, tuple[str, ...]]]) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Each object's signals in order, a repeat of the one before dropped (keepalived's first
    BACKUP signal comes once or twice, as its bus thread is quicker or slower than the instances)."""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for path, member, args in sigs:
        seq = out.setdefault(path, [])
        if not seq or seq[-1] != (member, args):
            seq.append((member, args))
    return out
