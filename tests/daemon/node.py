"""Run pykeepalived (or keepalived) as a real daemon inside a lab host, and look at it from outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pykeepalived.lab import Host

PYKEEPALIVED = [sys.executable, "-m", "pykeepalived"]


class Node:
    """One daemon in one namespace, with its own config, pid files and log file in a temp dir."""

    def __init__(self, host: Host, config: str, *, impl: str = "py", extra: tuple[str, ...] = ()) -> None:
        self.host = host
        self.impl = impl
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyka-{host.name}-"))
        self.conf = self.dir / "keepalived.conf"
        self.conf.write_text(config)
        self.log = self.dir / "ka.log"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        base = PYKEEPALIVED if self.impl == "py" else ["keepalived"]
        return [
            *base, "-n", "-l", "-D", "-G", "-f", str(self.conf),
            "-p", str(self.dir / "parent.pid"), "-r", str(self.dir / "vrrp.pid"),
            "-c", str(self.dir / "check.pid"), "-i", self.host.name, *self.extra,
        ]

    def start(self) -> Node:
        env = dict(os.environ, TMPDIR=str(self.dir))
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.proc = self.host.popen(self.argv(), stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        return self

    def vrrp_pid(self) -> int | None:
        try:
            return int((self.dir / "vrrp.pid").read_text())
        except (OSError, ValueError):
            return None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """Hard kill of the whole daemon (parent and children)."""
        if self.proc is None:
            return
        child = self.vrrp_pid()
        self.proc.kill()
        if child:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self.proc = None

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def addresses(self, dev: str = "eth0") -> set[str]:
        data = json.loads(self.host.run(["ip", "-j", "addr", "show", "dev", dev]))
        return {a["local"] for link in data for a in link.get("addr_info", [])}

    def has(self, vip: str, dev: str = "eth0") -> bool:
        return vip in self.addresses(dev)


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Poll until cond() holds; return the time it took, raise AssertionError on timeout."""
    t0 = time.monotonic()
    while True:
        if cond():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


def instance_conf(
    name: str = "VI_1", *, prio: int = 100, state: str = "BACKUP", vrid: int = 51, advert: str = "1",
    vips: tuple[str, ...] = ("192.0.2.100/24",), extra: str = "", globals_: str = "",
    version: int | None = None, iface: str = "eth0",
) -> str:
    vip_lines = "\n".join(f"        {v}" for v in vips)
    ver = f"    version {version}\n" if version else ""
    return f"""global_defs {{
    router_id {name}_node
{globals_}
}}
vrrp_instance {name} {{
    state {state}
    interface {iface}
    virtual_router_id {vrid}
    priority {prio}
    advert_int {advert}
{ver}{extra}
    virtual_ipaddress {{
{vip_lines}
    }}
}}
"""
