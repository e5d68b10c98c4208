"""nftables data plane end to end in namespaces: a client, a director running the checker runtime with
NftLoadBalancer, three nginx real servers and a sorry server on a back bridge (issue 7)."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pykeepalived.lab import lb_lab
from pykeepalived.lab.servers import nginx
from pykeepalived.linux.nft_lb import slots
from pykeepalived.lvs.model import Dest

VIP = "198.51.100.10"
RS = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
SORRY = "192.0.2.20"
TIMING = {"delay_loop": 1.0, "retry": 1, "delay_before_retry": 0.5, "connect_timeout": 1.0}

CLIENT = r"""
import socket, sys, json, collections
n = int(sys.argv[1]); c = collections.Counter()
for _ in range(n):
    try:
        s = socket.create_connection((sys.argv[2], 80), timeout=2)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n"); data = b""
        while (chunk := s.recv(4096)): data += chunk
        s.close(); c[data.split(b"\r\n\r\n", 1)[1].decode().strip()] += 1
    except OSError as e:
        c["error"] += 1
print(json.dumps(c))
"""


def test_slots_weighted_and_interleaved() -> None:
    a, b, c = Dest("192.0.2.11", 80, 1), Dest("192.0.2.12", 80, 2), Dest("192.0.2.13", 80, 0)
    runs = slots("wrr", [a, b, c])
    assert [d.addr for _, _, d in runs] == ["192.0.2.12", "192.0.2.11", "192.0.2.12"]
    assert slots("rr", [a, b, c]) == [(0, 0, a), (1, 1, b)]
    assert slots("wlc", [a, b]) == [(0, 0, a), (1, 2, b)]
    assert slots("fo", [a, b]) == [(0, 0, b)]
    assert slots("sh", [c]) == []


class Driver:
    def __init__(self, netns: str, spec: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable,
                                      str(Path(__file__).with_name("lb_driver.py")), str(spec)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))  # type: ignore[arg-type]

    def wait_for(self, text: str, timeout: float, after: float = 0.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ts, line in list(self.lines):  # type: ignore[misc]
                if ts >= after and text in line:
                    return float(ts)
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} within {timeout}s; log:\n" + "\n".join(
            line for _, line in self.lines))  # type: ignore[misc]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def spread(client_ns: str, n: int) -> collections.Counter[str]:
    out = subprocess.run(["ip", "netns", "exec", client_ns, sys.executable, "-c", CLIENT, str(n), VIP],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return collections.Counter(json.loads(out))


@pytest.mark.netns
def test_nft_load_balancing_end_to_end(tmp_path: Path) -> None:
    detect_bound = TIMING["delay_loop"] * TIMING["retry"] + TIMING["connect_timeout"]
    with lb_lab([*RS, SORRY]) as lab:
        names = {addr: h.ns for addr, h in lab.servers.items()}
        servers: dict[str, object] = {}

        def start(addr: str, body: str) -> None:
            cm = nginx(tmp_path / addr, f'server {{ listen 80; location / {{ return 200 "{body}\\n"; }} }}',
                       netns=names[addr], wait=[(addr, 80)])
            cm.__enter__()
            servers[addr] = cm

        def kill(addr: str) -> float:
            servers.pop(addr).__exit__(None, None, None)  # type: ignore[attr-defined]
            return time.monotonic()

        try:
            for i, addr in enumerate(RS, 1):
                start(addr, f"rs{i}")
            start(SORRY, "sorry")
            spec = tmp_path / "spec.json"
            spec.write_text(json.dumps({"vip": VIP, "sched": "wrr", "sorry": SORRY, **TIMING,
                                        "rs": [{"addr": a, "weight": w} for a, w in zip(RS, (1, 2, 3),
                                                                                      strict=True)]}))
            drv = Driver(lab.director.ns, spec)
            try:
                drv.wait_for("READY", 20)
                # connections spread by weight (smooth WRR over 6 slots: exact over whole cycles)
                assert spread(lab.client.ns, 60) == {"rs1": 10, "rs2": 20, "rs3": 30}

                # a killed server leaves the pool within delay_loop x retry + connect_timeout (+ slack)
                t_kill = kill(RS[1])
                t_down = drv.wait_for(f"Removing service [{RS[1]}]:tcp:80", 3 * detect_bound + 5, t_kill)
                print(f"detection time {t_down - t_kill:.2f}s (bound {detect_bound}s)")
                c = spread(lab.client.ns, 40)
                assert c["rs2"] == 0 and c["error"] == 0 and c["rs1"] + c["rs3"] == 40

                # it comes back when healthy
                t_up = time.monotonic()
                start(RS[1], "rs2")
                drv.wait_for(f"Adding service [{RS[1]}]:tcp:80", 20, t_up)
                assert spread(lab.client.ns, 60)["rs2"] > 0

                # the sorry server takes over when all are down, and hands back
                t_all = time.monotonic()
                for addr in RS:
                    kill(addr)
                drv.wait_for(f"Adding sorry server [{SORRY}]:tcp:80", 30, t_all)
                assert spread(lab.client.ns, 10) == {"sorry": 10}
                t_back = time.monotonic()
                start(RS[0], "rs1")
                drv.wait_for("Gained quorum", 20, t_back)
                assert spread(lab.client.ns, 10) == {"rs1": 10}
            finally:
                drv.stop()
            assert any("Lost quorum 1-0=1 > 0 for VS [198.51.100.10]:tcp:80" in line for _, line in drv.lines)
        finally:
            for cm in servers.values():
                cm.__exit__(None, None, None)  # type: ignore[attr-defined]


def test_render_group_services_and_port_zero() -> None:
    """Each group entry is a service of its own; a port-0 (all ports) service matches any port and
    translates the address only; real servers of the other family are left out."""
    from pykeepalived.linux.nft_lb import NftLoadBalancer
    from pykeepalived.lvs.model import Protocol, Service, ServiceKey, make_entry

    k1 = ServiceKey(4, Protocol.TCP, "203.0.113.1", 80)
    k0 = ServiceKey(4, Protocol.TCP, "203.0.113.2", 0)
    dests = [Dest("192.0.2.11", 80), Dest("2001:db8::11", 80)]
    table = {k: make_entry(Service(k, "rr", persistence_timeout=360 if not k.port else 0), dests)
             for k in (k1, k0)}
    script = NftLoadBalancer().render(table, set(table))
    assert "ip daddr 203.0.113.1 meta l4proto tcp th dport 80 jump svc_1" in script
    assert "ip daddr 203.0.113.2 meta l4proto tcp jump svc_2" in script
    assert "dnat ip to numgen inc mod 1 map @svc_1_dests" in script
    assert "dnat ip to numgen inc mod 1 map @svc_2_addrs" in script
    assert "2001:db8::11" not in script
