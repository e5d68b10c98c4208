# Theory of operation
# -------------------
# A throw-away network lab made of Linux network namespaces, used by the test-suite and by the demo.
#
#   * every lab has a unique name prefix (default "pk<pid>n<counter>-") so labs built in parallel by
#     pytest-xdist workers never collide; every namespace the lab creates starts with that prefix;
#   * the "switch" namespace (<prefix>sw) holds one Linux bridge per LAN (br0, br1, ...), with
#     multicast snooping off so VRRP/ND multicast is flooded like on a dumb hub;
#   * a "host" is a namespace (<prefix><name>) with one veth per LAN it is attached to (eth0, eth1, ...);
#     the other end of the veth is a port of the LAN's bridge in the switch namespace;
#   * each LAN hands out documentation addresses in attachment order: the k-th interface attached to
#     a LAN gets .k of its IPv4 network (192.0.2.0/24 for the first LAN) and ::k of its IPv6 /64
#     (2001:db8::/64), with DAD disabled so addresses are usable at once;
#   * commands run in a host with `ip netns exec` (Host.run), Python runs in a host in a thread that
#     has joined the namespace with setns(2) (Host.call / Host.run_async / Host.start_async): every
#     socket, netlink socket and /proc/sys access made from that thread belongs to the namespace;
#   * teardown deletes every namespace of the lab (context manager, plus an atexit hook for labs that
#     were never closed); cleanup_stale() removes namespaces left behind by dead processes.
"""Network-namespace lab builder for tests and the demo."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import ipaddress
import itertools
import os
import re
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
IP = "ip"

_counter = itertools.count()
_live_labs: set[Lab] = set()
_live_lock = threading.Lock()
_STALE_RE = re.compile(r"^pk(\d+)n\d+-")

DEFAULT_LANS = (
    ("192.0.2.0/24", "2001:db8::/64"),
    ("198.51.100.0/24", "2001:db8:1::/64"),
    ("203.0.113.0/24", "2001:db8:2::/64"),
)


class LabError(RuntimeError):
    """A lab command failed; the message carries the command and its stderr."""


def _sh(
    cmd: Sequence[str], *, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), input=input, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def _batch(ns: str, lines: Iterable[str]) -> None:
    """Run many `ip` commands in one process inside namespace `ns`."""
    text = "\n".join(lines) + "\n"
    _sh([IP, "-n", ns, "-batch", "-"], input=text)


_libc = ctypes.CDLL(None, use_errno=True)


def setns(ns: str) -> None:
    """Move the *calling thread* into network namespace `ns` (a name under /run/netns)."""
    fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({ns}): {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in_netns(
    ns: str, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any
) -> T:
    """Run fn(*args, **kwargs) in a fresh thread that has joined `ns`; return its result or raise."""
    return start_in_netns(ns, fn, *args, **kwargs).result(timeout)


def start_in_netns(ns: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
    """Like call_in_netns but returns at once with a Future."""
    fut: concurrent.futures.Future[T] = concurrent.futures.Future()

    def body() -> None:
        try:
            setns(ns)
            result = fn(*args, **kwargs)
        except BaseException as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    threading.Thread(target=body, name=f"netns:{ns}", daemon=True).start()
    return fut


def start_async_in_netns(
    ns: str, coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
) -> concurrent.futures.Future[T]:
    """Run asyncio.run(coro_fn(*args, **kwargs)) in a thread inside `ns`; return a Future of its result."""
    return start_in_netns(ns, lambda: asyncio.run(coro_fn(*args, **kwargs)))


def list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def delete_netns(ns: str) -> None:
    """Delete a namespace, ignoring one that is already gone."""
    proc = _sh([IP, "netns", "del", ns], check=False)
    if proc.returncode != 0 and os.path.exists(os.path.join(NETNS_DIR, ns)):
        # a leftover file without a mount (e.g. an interrupted `ip netns add`)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(NETNS_DIR, ns))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str | None = None) -> list[str]:
    """Delete leftover lab namespaces.

    With `prefix`, every namespace starting with it is deleted (the demo uses a fixed prefix). Without,
    namespaces named by the default scheme ("pk<pid>n<k>-...") whose creating process is dead go.
    Returns the deleted names.
    """
    gone = []
    for ns in list_netns():
        if prefix is not None:
            if not ns.startswith(prefix):
                continue
        else:
            m = _STALE_RE.match(ns)
            if m is None or _pid_alive(int(m.group(1))):
                continue
        delete_netns(ns)
        gone.append(ns)
    return gone


def unique_prefix() -> str:
    return f"pk{os.getpid()}n{next(_counter)}-"


@dataclass
class Lan:
    name: str
    bridge: str  # bridge name in the switch namespace
    ipv4: ipaddress.IPv4Network
    ipv6: ipaddress.IPv6Network
    _next: int = 1
    _used: set[int] = field(default_factory=set)

    def take(self, ipv4: str | None = None) -> tuple[ipaddress.IPv4Interface, ipaddress.IPv6Interface]:
        """The next free host number's addresses, or those of host number of `ipv4` when given (its
        IPv6 address has the same host number in the LAN's /64)."""
        if ipv4 is not None:
            k = int(ipaddress.IPv4Address(ipv4)) - int(self.ipv4.network_address)
            if not 0 < k < self.ipv4.num_addresses - 1 or k in self._used:
                raise LabError(f"{ipv4} is not a free address of {self.ipv4}")
        else:
            while self._next in self._used:
                self._next += 1
            k = self._next
            self._next += 1
        self._used.add(k)
        v4 = ipaddress.IPv4Interface(f"{self.ipv4.network_address + k}/{self.ipv4.prefixlen}")
        v6 = ipaddress.IPv6Interface(f"{self.ipv6.network_address + k}/{self.ipv6.prefixlen}")
        return v4, v6


@dataclass
class HostIf:
    ifname: str
    lan: Lan
    port: str  # bridge port in the switch namespace
    ipv4: ipaddress.IPv4Interface
    ipv6: ipaddress.IPv6Interface


@dataclass
class Host:
    name: str
    ns: str
    lab: Lab
    ifaces: list[HostIf] = field(default_factory=list)

    # -- addressing shortcuts (first interface) --
    @property
    def ipv4(self) -> ipaddress.IPv4Address:
        return self.ifaces[0].ipv4.ip

    @property
    def ipv6(self) -> ipaddress.IPv6Address:
        return self.ifaces[0].ipv6.ip

    @property
    def ifname(self) -> str:
        return self.ifaces[0].ifname

    def iface(self, lan: Lan | str) -> HostIf:
        name = lan if isinstance(lan, str) else lan.name
        for hif in self.ifaces:
            if hif.lan.name == name:
                return hif
        raise KeyError(f"{self.name} is not on {name}")

    # -- running things inside the namespace --
    def run(self, cmd: Sequence[str] | str, *, check: bool = True, timeout: float = 30) -> str:
        """Run a command (argv list, or a shell string) in the host; return its stdout."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        proc = subprocess.run(
            [IP, "netns", "exec", self.ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise LabError(f"[{self.name}] {' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def popen(self, cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a long-running process in the host (caller terminates it)."""
        return subprocess.Popen([IP, "netns", "exec", self.ns, *cmd], **kwargs)

    def ip(self, *args: str) -> str:
        return _sh([IP, "-n", self.ns, *args]).stdout

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = 60, **kwargs: Any) -> T:
        """Run fn(*args, **kwargs) in a thread inside the host's namespace and return its result."""
        return call_in_netns(self.ns, fn, *args, timeout=timeout, **kwargs)

    def start_async(
        self, coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Run a coroutine function on its own event loop in a thread inside the host's namespace."""
        return start_async_in_netns(self.ns, coro_fn, *args, **kwargs)

    def run_async(
        self,
        coro_fn: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
        timeout: float | None = 60,
        **kwargs: Any,
    ) -> T:
        return self.start_async(coro_fn, *args, **kwargs).result(timeout)

    def sysctl(self, key: str, value: str | int | None = None) -> str:
        """Read (or write, then read back) a sysctl such as 'net/ipv4/ip_forward' inside the host."""
        path = "/proc/sys/" + key.replace(".", "/") if "/" not in key else "/proc/sys/" + key

        def go() -> str:
            if value is not None:
                with open(path, "w") as f:
                    f.write(str(value))
            with open(path) as f:
                return f.read().strip()

        return self.call(go)


class Lab:
    """A set of hosts (namespaces) attached to LANs (bridges in a switch namespace).

    >>> with Lab(hosts=2) as lab:            # h1 192.0.2.1, h2 192.0.2.2 on lan0
    ...     lab["h1"].run(["ping", "-c1", str(lab["h2"].ipv4)])
    """

    def __init__(
        self, hosts: int | Sequence[str] = 0, *, prefix: str | None = None, ipv6: bool = True
    ) -> None:
        self.prefix = prefix if prefix is not None else unique_prefix()
        self.switch_ns = f"{self.prefix}sw"
        self.ipv6 = ipv6
        self.lans: list[Lan] = []
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._ports = itertools.count()
        self._closed = False
        with _live_lock:
            _live_labs.add(self)
        try:
            self._add_ns(
                self.switch_ns, {"net/ipv6/conf/all/disable_ipv6": 1, "net/ipv6/conf/default/disable_ipv6": 1}
            )
            names = [f"h{i + 1}" for i in range(hosts)] if isinstance(hosts, int) else list(hosts)
            if names:
                lan = self.add_lan()
                for name in names:
                    self.add_host(name, [lan])
        except BaseException:
            self.close()
            raise

    # -- building --
    def _add_ns(self, ns: str, sysctls: dict[str, int]) -> None:
        if os.path.exists(os.path.join(NETNS_DIR, ns)):
            delete_netns(ns)
        _sh([IP, "netns", "add", ns])
        self._namespaces.append(ns)

        def tune() -> None:
            for key, val in sysctls.items():
                with open(f"/proc/sys/{key}", "w") as f:
                    f.write(str(val))

        call_in_netns(ns, tune, timeout=30)
        _sh([IP, "-n", ns, "link", "set", "lo", "up"])

    def add_lan(self, name: str | None = None, ipv4: str | None = None, ipv6: str | None = None) -> Lan:
        idx = len(self.lans)
        d4, d6 = DEFAULT_LANS[idx % len(DEFAULT_LANS)]
        lan = Lan(
            name=name or f"lan{idx}",
            bridge=f"br{idx}",
            ipv4=ipaddress.IPv4Network(ipv4 or d4),
            ipv6=ipaddress.IPv6Network(ipv6 or d6),
        )
        _batch(
            self.switch_ns,
            [
                f"link add {lan.bridge} type bridge forward_delay 0 mcast_snooping 0 stp_state 0",
                f"link set {lan.bridge} up",
            ],
        )
        self.lans.append(lan)
        return lan

    def add_host(self, name: str, lans: Sequence[Lan] | None = None, *, forwarding: bool = False,
                 addrs: Sequence[str | None] | None = None) -> Host:
        """Create a host attached to `lans` (default: the first LAN); `forwarding` makes it a router;
        `addrs` chooses its IPv4 address on each LAN (None: the next free one)."""
        if name in self.hosts:
            raise LabError(f"host {name} exists")
        if lans is None:
            lans = [self.lans[0] if self.lans else self.add_lan()]
        host = Host(name=name, ns=f"{self.prefix}{name}", lab=self)
        fwd = 1 if forwarding else 0
        self._add_ns(
            host.ns,
            {
                "net/ipv6/conf/all/accept_dad": 0,
                "net/ipv6/conf/default/accept_dad": 0,
                "net/ipv6/conf/all/disable_ipv6": 0 if self.ipv6 else 1,
                "net/ipv6/conf/default/disable_ipv6": 0 if self.ipv6 else 1,
                "net/ipv6/conf/default/accept_ra": 0,
                "net/ipv4/ip_forward": fwd,
                "net/ipv6/conf/all/forwarding": fwd if self.ipv6 else 0,
            },
        )
        self.hosts[name] = host
        for i, lan in enumerate(lans):
            self.attach(host, lan, addrs[i] if addrs else None)
        return host

    def attach(self, host: Host, lan: Lan, ipv4: str | None = None) -> HostIf:
        ifname = f"eth{len(host.ifaces)}"
        port = f"p{next(self._ports)}"
        v4, v6 = lan.take(ipv4)
        _batch(
            self.switch_ns,
            [
                f"link add {port} type veth peer name {ifname} netns {host.ns}",
                f"link set {port} master {lan.bridge} up",
            ],
        )
        lines = [f"addr add {v4} dev {ifname}"]
        if self.ipv6:
            lines.append(f"addr add {v6} dev {ifname} nodad")
        lines.append(f"link set {ifname} up")
        _batch(host.ns, lines)
        hif = HostIf(ifname=ifname, lan=lan, port=port, ipv4=v4, ipv6=v6)
        host.ifaces.append(hif)
        return hif

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def set_port(self, host: Host, lan: Lan, up: bool) -> None:
        """Unplug/replug a host's cable by setting its bridge port down/up (carrier changes in the host)."""
        _sh([IP, "-n", self.switch_ns, "link", "set", host.iface(lan).port, "up" if up else "down"])

    # -- teardown --
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # hosts first (their veths die with them), then the switch
        for ns in reversed(self._namespaces):
            delete_netns(ns)
        with _live_lock:
            _live_labs.discard(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LbLab:
    """A load-balancing lab: `client` on the front LAN, `director` (VIP on its front interface eth0)
    between the front and the back LAN, `servers` (address -> host) on the back LAN and, with
    `router`, a second router between the LANs that the real servers use as their gateway (DR / TUN:
    replies go to the client without crossing the director)."""

    lab: Lab
    client: Host
    director: Host
    servers: dict[str, Host]
    vip: str
    router: Host | None = None


FRONT_NET = "198.51.100.0/24"
BACK_NET = "192.0.2.0/24"


@contextlib.contextmanager
def lb_lab(rs_addrs: Sequence[str], vip: str = "198.51.100.10", *, router: bool = False,
           prefix: str | None = None) -> Iterator[LbLab]:
    """client 198.51.100.2 -- director 198.51.100.1 (+ vip) / 192.0.2.1 -- real servers (rs_addrs);
    with `router`, router 198.51.100.254 / 192.0.2.254 is the real servers' default gateway (else the
    director is). Every namespace is deleted on exit."""
    lab = Lab(prefix=prefix)
    try:
        front = lab.add_lan("front", ipv4=FRONT_NET, ipv6="2001:db8:1::/64")
        back = lab.add_lan("back", ipv4=BACK_NET, ipv6="2001:db8::/64")
        director = lab.add_host("director", [front, back], forwarding=True,
                                addrs=["198.51.100.1", "192.0.2.1"])
        client = lab.add_host("client", [front], addrs=["198.51.100.2"])
        rtr = None
        if router:
            rtr = lab.add_host("router", [front, back], forwarding=True,
                               addrs=["198.51.100.254", "192.0.2.254"])
        director.ip("addr", "add", f"{vip}/32", "dev", "eth0")
        client.ip("route", "add", "default", "via", "198.51.100.1")
        client.ip("-6", "route", "add", "default", "via", "2001:db8:1::1")
        gw4, gw6 = ("192.0.2.254", "2001:db8::fe") if router else ("192.0.2.1", "2001:db8::1")
        servers = {}
        for i, addr in enumerate(rs_addrs, 1):
            h = lab.add_host(f"rs{i}", [back], addrs=[addr])
            h.ip("route", "add", "default", "via", gw4)
            h.ip("-6", "route", "add", "default", "via", gw6)
            servers[addr] = h
        yield LbLab(lab, client, director, servers, vip, rtr)
    finally:
        lab.close()


@atexit.register
def _close_all() -> None:
    with _live_lock:
        labs = list(_live_labs)
    for lab in labs:
        with contextlib.suppress(Exception):
            lab.close()
