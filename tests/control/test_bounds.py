"""What a client of the metrics endpoint or the control socket can make the daemon do is bounded
(issue 20 item 4), on real sockets without namespaces: one rendering shared by concurrent scrapes,
connections beyond the cap closed at once with a reply saying so, hostile request lines (deep JSON,
endless lines) answered with an error, descriptors running out paused on without traceback nor busy
loop. The namespace test with live VRRP is tests/hardening/test_control_flood.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from pykeepalived.control import ctl
from pykeepalived.control.jsonlines import MAX_CLIENTS, MAX_DEPTH, MAX_LINE, TOO_MANY, JsonLinesServer
from pykeepalived.control.listener import Listener, listen
from pykeepalived.control.metrics import MAX_REQUEST, MetricsServer, VrrpCollector, make_registry
from pykeepalived.daemon.vrrp.instances import InstanceTable
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from tests.control.test_unit import http_get, params, samples


async def until(cond: Callable[[], bool]) -> None:
    while not cond():
        await asyncio.sleep(0.01)


def test_concurrent_scrapes_share_one_rendering_and_heads_are_bounded() -> None:
    engine = VrrpEngine()
    inst = engine.add_instance(VrrpInstance(params()))
    registry = make_registry(VrrpCollector(InstanceTable(engine)), process=False)

    async def go() -> tuple[list[tuple[int, str]], tuple[int, str], int]:
        server = MetricsServer(registry, "127.0.0.1", 0, interval=3600)
        await server.start()
        try:
            engine.start(0)
            first = await asyncio.gather(*(http_get(server.port, "/metrics") for _ in range(50)))
            deadline = engine.next_deadline()
            assert deadline is not None
            engine.handle_timer(deadline)  # MASTER now, but within the interval: the same text
            again = await http_get(server.port, "/metrics")
            r, w = await asyncio.open_connection("127.0.0.1", server.port)  # an endless request head
            w.write(b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * (MAX_REQUEST + 1))
            assert (await asyncio.wait_for(r.readline(), 5)).startswith(b"HTTP/1.0 431 ")
            w.close()
            return first, again, server.renders
        finally:
            await server.close()

    first, again, renders = asyncio.run(go())
    assert renders == 1
    assert {code for code, _ in first} == {200} and len({body for _, body in first}) == 1
    assert again == first[0]
    vip = (("iname", "VI_1"), ("intf", "eth9"), ("ip_address", "192.0.2.100/32"), ("vrid", "51"))
    assert samples(again[1])[("keepalived_vrrp_state", vip)] == 1 and inst.state.name == "MASTER"


def test_connections_beyond_the_cap_are_told_and_closed() -> None:
    async def go() -> tuple[bytes, bytes, int]:
        release = asyncio.Event()

        async def handler(conn: socket.socket) -> None:
            await release.wait()
            await asyncio.get_running_loop().sock_sendall(conn, b"served\n")

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        listener = Listener(listen(sock), handler, name="test", max_clients=2, reject=b"busy\n")
        port = sock.getsockname()[1]
        try:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            await asyncio.wait_for(until(lambda: len(listener.clients) == 2), 10)
            r, w = await asyncio.open_connection("127.0.0.1", port)
            over = await asyncio.wait_for(r.read(), 5)  # at once: nothing waits for the held ones
            w.close()
            release.set()
            served = await asyncio.wait_for(held[0][0].read(), 5)
            for _, hw in held:
                hw.close()
            return over, served, listener.rejected
        finally:
            listener.close()

    over, served, rejected = asyncio.run(go())
    assert (over, served, rejected) == (b"busy\n", b"served\n", 1)


def test_control_socket_answers_hostile_lines_and_caps_clients(tmp_path: Path) -> None:
    path = str(tmp_path / "ctl.sock")
    hostile = {
        "deep array": (b'{"cmd": "status", "x": ' + b"[" * 30000 + b"]" * 30000 + b"}\n",
                       f"request nested too deeply (at most {MAX_DEPTH} levels"),
        "deep, few": (b'{"cmd": "x", "y": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}\n",
                      "request nested too deeply"),
        "brackets in a string": (b'{"cmd": "nope", "s": "' + b"[" * 100 + b'"}\n', "unknown command 'nope'"),
        "endless line": (b"x" * (MAX_LINE * 4) + b"\n", "request line too long"),
        "not an object": (b"[1]\n", "unknown command '[1]'"),
        "bad utf-8": (b"\xff\xfe\n", "request is not JSON"),
    }

    async def go() -> tuple[dict[str, str], list[bytes]]:
        server = JsonLinesServer(path)
        await server.start()
        try:
            replies = {}
            for name, (line, _) in hostile.items():
                r, w = await asyncio.open_unix_connection(path, limit=1 << 20)
                w.write(line)
                await w.drain()
                replies[name] = json.loads(await asyncio.wait_for(r.readline(), 5))["error"]
                w.close()
            held = [await asyncio.open_unix_connection(path) for _ in range(MAX_CLIENTS)]
            assert server.listener is not None
            listener = server.listener
            await asyncio.wait_for(until(lambda: len(listener.clients) == MAX_CLIENTS), 10)
            r, w = await asyncio.open_unix_connection(path)
            over = [await asyncio.wait_for(r.readline(), 5), await asyncio.wait_for(r.read(), 5)]
            w.close()
            told = await asyncio.to_thread(ctl.ask, path, {"cmd": "status"}, 5)  # pykeepalivedctl says why
            assert told == {"ok": False, "error": "too many clients"}, told
            for _, hw in held:
                hw.close()
            return replies, over
        finally:
            await server.close()

    replies, over = asyncio.run(go())
    for name, (_, wanted) in hostile.items():
        assert replies[name].startswith(wanted), (name, replies[name])
    assert over == [TOO_MANY, b""]


SERVER = textwrap.dedent("""
    import asyncio, logging, resource, socket, sys
    from pykeepalived.control.listener import Listener, listen
    from pykeepalived.daemon.log import log
    logging.basicConfig(stream=sys.stdout, format="%(message)s", level=logging.INFO)
    log.propagate = True

    async def main():
        async def handler(conn):
            while await asyncio.get_running_loop().sock_recv(conn, 1024):
                pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(sys.argv[1])
        Listener(listen(sock), handler, name="test", max_clients=1000)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        import os
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 20, hard))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        print("stopping", flush=True)
    asyncio.run(main())
""")


def test_out_of_descriptors_pauses_without_traceback(tmp_path: Path) -> None:
    """More clients than the server has descriptors: one warning, no traceback, no busy loop (a few
    pauses of PAUSE_S each while the clients hold on), accepting again once they leave."""
    path = str(tmp_path / "srv.sock")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, path], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root,
                            env=dict(os.environ, PYTHONPATH=str(root / "src")))
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        clients = []
        for _ in range(60):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            clients.append(c)
        time.sleep(1.5)
        for c in clients:
            c.close()
        late = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        late.settimeout(10)
        late.connect(path)  # served again: the server sees its EOF and closes
        late.shutdown(socket.SHUT_WR)
        assert late.recv(10) == b""
        late.close()
        proc.stdin.write("\n")
        proc.stdin.flush()
        out = proc.communicate(timeout=10)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in out, out
    lines = out.splitlines()
    assert sum("cannot accept connections: Too many open files" in line for line in lines) == 1, out
    again = [line for line in lines if "accepting connections again" in line]
    assert len(again) == 1, out
    pauses = int(again[0].split("(")[1].split()[0])
    assert 1 <= pauses <= 20, out  # a busy loop would count thousands
