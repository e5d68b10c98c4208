"""Hostile clients of the metrics endpoint and the control socket (tests and bench/bench_control_flood.py).

`flooded_pair` starts the pair both use: a master (n1, VRRPv3, advert_int 0.1 s, priority 150, metrics
on 127.0.0.1:9650 inside its namespace, under systemd's default soft limit of 1,024 descriptors) and
a backup (n2, priority 100), and waits until they have settled.

Each scenario is a coroutine run on an event loop inside the daemon's namespace (Host.start_async)
and returns what it saw, counted: how many requests were answered, refused, reset, closed by the
daemon. None of them times anything; the callers look at the wire (VRRP adverts) and the logs.

  scrape_burst   `conns` workers each doing GET /metrics, reading the reply, again, until `seconds`
  hold           `conns` connections opened and left idle (never a byte sent) for `seconds`
  slow_readers   `conns` connections sending a request, then never reading the reply
  slowloris      `conns` connections sending a request one byte at a time
  ctl_burst      `conns` control-socket clients each asking `status` over and over
  ctl_follow_stuck  `conns` `follow` clients that never read their event stream
  ctl_junk       one client sending hostile lines (30,000-deep JSON, an endless line, bad UTF-8)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pykeepalived.lab.netns import Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for

GET = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
Addr = tuple[str, int]
Flood = tuple[Callable[..., Coroutine[Any, Any, Any]], tuple[Any, ...]]  # a scenario and its arguments
ADDR = ("127.0.0.1", 9650)
VIP = "192.0.2.100"
ADVERT_S = 0.1


class LimitedNode(Node):
    """A node whose daemon runs under RLIMIT_NOFILE soft 1,024 (what a unit without LimitNOFILE gets)."""

    def argv(self) -> list[str]:
        return ["prlimit", "--nofile=1024:4096", "--", *super().argv()]


def flooded_pair(lab: Lab, nodes: list[Node]) -> tuple[Node, Node]:
    """The master (n1) and the backup (n2), settled: n1 holds the VIP, n2 is BACKUP, n1 serves /metrics."""
    metrics = f"    pykeepalived_metrics_address {ADDR[0]}:{ADDR[1]}"
    conf = instance_conf(prio=150, advert=str(ADVERT_S), version=3, globals_=metrics)
    master = LimitedNode(lab["n1"], conf)
    nodes.append(master.start())
    backup = Node(lab["n2"], instance_conf(prio=100, advert=str(ADVERT_S), version=3))
    try:
        wait_for(lambda: master.has(VIP), 30, step=0.1)
        nodes.append(backup.start())
        wait_for(lambda: "Entering BACKUP STATE" in backup.logs(), 30, step=0.1)
        wait_for(lambda: lab["n1"].run_async(scrape_once, ADDR).startswith(b"HTTP/1.0 200"), 10, step=0.2)
    except AssertionError:
        raise AssertionError(f"the pair did not settle\n{dump_logs(master, backup)}") from None
    time.sleep(1.0)
    return master, backup


def _kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"errno{exc.errno}"
    return type(exc).__name__


async def _workers(conns: int, seconds: float,
                   one: Callable[[Counter[str]], Awaitable[None]]) -> dict[str, int]:
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(one(seen), 10)
            except Exception as exc:  # counted, the flood goes on
                seen[_kind(exc)] += 1
                await asyncio.sleep(0.01)

    await asyncio.gather(*(worker() for _ in range(conns)))
    return dict(seen)


async def scrape_burst(addr: Addr, conns: int, seconds: float) -> dict[str, int]:
    """GET /metrics as fast as `conns` concurrent clients can; `ok` counts complete 200 replies."""

    async def one(seen: Counter[str]) -> None:
        reader, writer = await asyncio.open_connection(*addr)
        try:
            writer.write(GET)
            data = await reader.read()
        finally:
            writer.close()
        if data.startswith(b"HTTP/1.0 200") and b"keepalived_up" in data:
            seen["ok"] += 1
        elif data.startswith(b"HTTP/1.0 503"):
            seen["busy"] += 1
        elif not data:
            seen["closed"] += 1
        else:
            seen["other"] += 1

    return await _workers(conns, seconds, one)


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open_many(connect: Callable[[], Awaitable[Streams]], conns: int,
                     seen: Counter[str]) -> list[Streams]:
    """`conns` connections, opened 100 at a time (faster than the daemon times idle ones out)."""
    held = []

    async def one() -> None:
        try:
            held.append(await asyncio.wait_for(connect(), 5))
            seen["opened"] += 1
        except Exception as exc:
            seen[_kind(exc)] += 1

    for i in range(0, conns, 100):
        await asyncio.gather(*(one() for _ in range(min(100, conns - i))))
    return held


async def _hold(held: list[Streams], seconds: float,
                seen: Counter[str]) -> None:
    """Keep the connections for `seconds`; count those the daemon closed meanwhile."""

    async def watch(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(65536):
                pass
            seen["closed_by_daemon"] += 1

    tasks = [asyncio.ensure_future(watch(r)) for r, _ in held]
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    for _, w in held:
        w.close()


async def hold(addr: Addr, conns: int, seconds: float) -> dict[str, int]:
    """Idle connections: opened, never a byte sent, held for `seconds`."""
    seen: Counter[str] = Counter()
    held = await _open_many(lambda: asyncio.open_connection(*addr), conns, seen)
    await _hold(held, seconds, seen)
    return dict(seen)


async def _never_read(family: socket.AddressFamily, addr: Addr | str, request: bytes, conns: int,
                      seconds: float) -> dict[str, int]:
    """`conns` connections that send `request`, then never read (a 1 KiB receive buffer, so that the
    reply stays in flight), held for `seconds`."""
    seen: Counter[str] = Counter()
    held = []
    for _ in range(conns):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, addr), 5)
            s.send(request)
            held.append(s)
            seen["opened"] += 1
        except Exception as exc:
            s.close()
            seen[_kind(exc)] += 1
    await asyncio.sleep(seconds)
    for s in held:
        s.close()
    return dict(seen)


async def slow_readers(addr: Addr, conns: int, seconds: float) -> dict[str, int]:
    """A scrape each, then the reply is never read."""
    return await _never_read(socket.AF_INET, addr, GET, conns, seconds)


async def slowloris(addr: Addr, conns: int, seconds: float) -> dict[str, int]:
    """A request dribbled one byte per second on each connection (never completed in time)."""
    seen: Counter[str] = Counter()
    held = await _open_many(lambda: asyncio.open_connection(*addr), conns, seen)
    deadline = time.monotonic() + seconds
    req = GET.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * 4096 + b"\r\n\r\n")
    i = 0
    while time.monotonic() < deadline and i < len(req):
        for _, w in held:
            with contextlib.suppress(Exception):
                w.write(req[i:i + 1])
        i += 1
        await asyncio.sleep(1)
    await _hold(held, max(0.0, deadline - time.monotonic()), seen)
    return dict(seen)


async def ctl_burst(path: str, conns: int, seconds: float) -> dict[str, int]:
    """`status` requests, 20 per connection, from `conns` concurrent clients."""

    async def one(seen: Counter[str]) -> None:
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
        try:
            for _ in range(20):
                writer.write(b'{"cmd": "status"}\n')
                line = await reader.readline()
                if not line:
                    seen["closed"] += 1
                    return
                seen["ok" if line.startswith(b'{"ok":true') else "error"] += 1
        finally:
            writer.close()

    return await _workers(conns, seconds, one)


async def ctl_hold(path: str, conns: int, seconds: float) -> dict[str, int]:
    seen: Counter[str] = Counter()
    held = await _open_many(lambda: asyncio.open_unix_connection(path), conns, seen)
    await _hold(held, seconds, seen)
    return dict(seen)


async def ctl_follow_stuck(path: str, conns: int, seconds: float) -> dict[str, int]:
    """`follow` clients that never read their events."""
    return await _never_read(socket.AF_UNIX, path, b'{"cmd": "follow"}\n', conns, seconds)


def everything(sock: str, seconds: float) -> list[Flood]:
    """Both doors at once: 400 scrapers, 1,100 idle connections (beyond the 1,024 descriptors), slow
    readers and a slow writer on the metrics endpoint; status clients, stuck `follow` readers and idle
    connections on the control socket `sock`."""
    return [
        (scrape_burst, (ADDR, 400, seconds)),
        (hold, (ADDR, 1100, seconds)),
        (slow_readers, (ADDR, 100, seconds)),
        (slowloris, (ADDR, 50, seconds)),
        (ctl_burst, (sock, 100, seconds)),
        (ctl_follow_stuck, (sock, 100, seconds)),
        (ctl_hold, (sock, 300, seconds)),
    ]


JUNK: tuple[tuple[str, bytes], ...] = (
    ("deep_array", b'{"cmd": "status", "x": ' + b"[" * 30000 + b"]" * 30000 + b"}\n"),
    ("deep_object", b'{"cmd": "status", "x": ' + b'{"a": ' * 20000 + b"1" + b"}" * 20000 + b"}\n"),
    ("bare_deep_array", b"[" * 30000 + b"]" * 30000 + b"\n"),
    ("bad_utf8", b"\xff\xfe status\n"),
    ("not_object", b'["status"]\n'),
    ("huge_number", b'{"cmd": "status", "n": ' + b"9" * 20000 + b"}\n"),
    ("nul", b"\x00\n"),
    ("long_line", b"x" * 300_000 + b"\n"),
)


async def ctl_junk(path: str, rounds: int = 3) -> dict[str, Any]:
    """Each hostile line on a fresh connection; what came back (first 60 bytes) per kind."""
    replies: dict[str, Any] = {}
    for _ in range(rounds):
        for name, line in JUNK:
            try:
                reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
                writer.write(line)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                reply = await asyncio.wait_for(reader.readline(), 10)
                writer.close()
                replies[name] = reply[:60].decode(errors="replace")
            except Exception as exc:
                replies[name] = _kind(exc)
    return replies


async def scrape_once(addr: Addr) -> bytes:
    reader, writer = await asyncio.open_connection(*addr)
    writer.write(GET)
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data
