"""Run pykeepalived (or keepalived) as a real daemon inside a lab host, and look at it from outside."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pykeepalived.lab.netns import Host, LabError

PYKEEPALIVED = [sys.executable, "-m", "pykeepalived"]


class Node:
    """One daemon in one namespace, with its own config, pid files and log file in a temp dir."""

    def __init__(self, host: Host, config: str, *, impl: str = "py", extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.host = host
        self.env = env or {}  # e.g. DBUS_SYSTEM_BUS_ADDRESS of a test's own bus
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
            "-c", str(self.dir / "check.pid"), "-b", str(self.dir / "bfd.pid"), "-i", self.host.name,
            *self.extra,
        ]

    def start(self) -> Node:
        env = dict(os.environ, TMPDIR=str(self.dir), **self.env)
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
        """Hard kill of the whole daemon: the VRRP child first (so it cannot send a priority-0
        advert on its parent's death, as keepalived's child does on PDEATHSIG), then the parent."""
        if self.proc is None:
            return
        child = self.vrrp_pid()
        if child:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def stats(self, timeout: float = 15) -> dict[str, dict[str, int]]:
        """SIGUSR2 the VRRP child and parse $TMPDIR/keepalived.stats: {instance: {counter: n}}."""
        path = self.dir / "keepalived.stats"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        wait_for(lambda: self.vrrp_pid() is not None, 15)
        pid = self.vrrp_pid()
        assert pid, "no VRRP child"
        os.kill(pid, signal.SIGUSR2)
        def written() -> bool:
            return path.exists() and path.read_text().rstrip().endswith(tuple("0123456789"))

        try:
            wait_for(written, timeout)
        except AssertionError as e:
            raise AssertionError(f"no stats file from VRRP child {pid}\n{self.logs()}") from e
        time.sleep(0.05)
        return parse_stats(path.read_text())

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
        try:
            data = json.loads(self.host.run(["ip", "-j", "addr", "show", "dev", dev]))
        except LabError:  # no such device (yet)
            return set()
        return {a["local"] for link in data for a in link.get("addr_info", [])}

    def has(self, vip: str, dev: str = "eth0") -> bool:
        return vip in self.addresses(dev)


_STAT_KEYS = {
    ("Advertisements", "Received"): "advert_rcvd", ("Advertisements", "Sent"): "advert_sent",
    ("", "Became master"): "become_master", ("", "Released master"): "release_master",
    ("Packet Errors", "Length"): "packet_len_err", ("Packet Errors", "TTL"): "ip_ttl_err",
    ("Packet Errors", "Invalid Type"): "invalid_type_rcvd",
    ("Packet Errors", "Advertisement Interval"): "advert_interval_err",
    ("Packet Errors", "Address List"): "addr_list_err",
    ("Authentication Errors", "Invalid Type"): "invalid_authtype",
    ("Authentication Errors", "Type Mismatch"): "authtype_mismatch",
    ("Authentication Errors", "Failure"): "auth_failure",
    ("Priority Zero", "Received"): "pri_zero_rcvd", ("Priority Zero", "Sent"): "pri_zero_sent",
}


def parse_stats(text: str) -> dict[str, dict[str, int]]:
    """keepalived.stats (keepalived's SIGUSR2 dump) as {instance: {keepalived counter name: value}}."""
    out: dict[str, dict[str, int]] = {}
    cur: dict[str, int] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("VRRP Instance:"):
            cur = out.setdefault(line.split(":", 1)[1].strip(), {})
            section = ""
            continue
        key, _, val = line.strip().partition(":")
        if not val.strip():
            section = key
            continue
        indent = len(line) - len(line.lstrip())
        sect = section if indent > 2 else ""
        name = _STAT_KEYS.get((sect, key))
        if name is not None:
            cur[name] = int(val)
    return out


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


def log_lines(n: Node, wanted: re.Pattern[str]) -> list[str]:
    """The node's log lines that match `wanted`, without their time stamps (to compare with keepalived)."""
    return [line.split(": ", 1)[1] for line in n.logs().splitlines() if wanted.search(line)]


def run_to_exit(pair: Sequence[Node], wanted: re.Pattern[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Start both daemons of a `differential` pair that must stop on their own: their exit statuses
    and their log lines matching `wanted` (pids and temp dirs masked), by implementation."""
    for n in pair:
        n.start()
    codes = {}
    for n in pair:
        assert n.proc is not None
        codes[n.impl] = n.proc.wait(20)
    lines = {n.impl: [re.sub(r"pid \d+", "pid N", x).replace(str(n.dir), "DIR") for x in log_lines(n, wanted)]
             for n in pair}
    return codes, lines


@contextlib.contextmanager
def differential(hosts: Sequence[Host], conf: str) -> Iterator[list[Node]]:
    """keepalived 2.2.7 ("ka") and pykeepalived ("py") with one configuration on the oracle_lab hosts:
    an assertion failure carries both logs, and both daemons are killed and their temp dirs removed
    at the end (kept with PYKA_KEEP_LOGS=1)."""
    pair = [Node(h, conf, impl=i) for h, i in zip(hosts, ("ka", "py"), strict=True)]
    try:
        yield pair
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{dump_logs(*pair)}") from exc
    finally:
        discard(*pair)


def discard(*nodes: Node) -> None:
    """Hard-kill the nodes and remove their temp dirs (kept with PYKA_KEEP_LOGS=1)."""
    for n in nodes:
        with contextlib.suppress(Exception):
            n.kill()
        if not os.environ.get("PYKA_KEEP_LOGS"):
            shutil.rmtree(n.dir, ignore_errors=True)


def dump_logs(*nodes: Node) -> str:
    """Log files of the nodes, for assertion messages."""
    return "\n".join(f"--- {n.host.name}\n" + "\n".join(
        line for line in n.logs().splitlines() if "gratuitous" not in line)[-3000:] for n in nodes)
