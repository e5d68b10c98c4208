"""The real daemon end to end: `pykeepalived -n -l -D -G -C -f CONF ...` in a director namespace with the
nftables data plane, three nginx real servers (TCP_CHECK and HTTP_GET) and a sorry server on the back
segment, a client in front (issue 7).

Checked: connections spread by weight; a killed real server is removed (keepalived's log line, notify_down,
FIFO line) and traffic avoids it; it comes back (notify_up); all down → quorum lost, quorum_down, sorry
server serves; one back → quorum gained; SIGUSR1 writes keepalived_check.data; SIGHUP applies a changed
configuration; SIGTERM removes the nftables table and the pid files. With `pykeepalived_metrics_address`
the checker child serves its real server and virtual service states on port + 1 (127.0.0.1:9651), scraped
inside the director namespace as the servers die and come back."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pykeepalived.lab import lb_lab
from pykeepalived.lab.servers import nginx

VIP = "198.51.100.10"
RS = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
SORRY = "192.0.2.20"
VS = f"[{VIP}]:tcp:80"

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


def conf_text(d: Path, servers: list[tuple[str, int]]) -> str:
    rs = []
    for i, (addr, weight) in enumerate(servers, 1):
        check = ("HTTP_GET {\n            url {\n                path /\n                status_code 200\n"
                 "            }\n        }" if i == 3 else "TCP_CHECK {\n        }")
        rs.append(f"""    real_server {addr} 80 {{
        weight {weight}
        notify_up "/usr/bin/touch {d}/up_{addr}"
        notify_down "/usr/bin/touch {d}/down_{addr}"
        {check}
    }}""")
    body = "\n".join(rs)
    return f"""global_defs {{
    router_id director
    lvs_dataplane nftables
    lvs_notify_fifo {d}/lvs.fifo
    pykeepalived_metrics_address 127.0.0.1:9650
}}
virtual_server {VIP} 80 {{
    delay_loop 1
    connect_timeout 1
    retry 1
    delay_before_retry 0.5
    warmup 0
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    quorum_up "/usr/bin/touch {d}/quorum_up"
    quorum_down "/usr/bin/touch {d}/quorum_down"
    sorry_server {SORRY} 80
{body}
}}
"""


class Daemon:
    def __init__(self, netns: str, d: Path) -> None:
        exe = shutil.which("pykeepalived", path=str(Path(sys.executable).parent)) or "pykeepalived"
        self.d = d
        self.pids = {n: d / f"{n}.pid" for n in ("keepalived", "vrrp", "checkers")}
        env = dict(os.environ, TMPDIR=str(d))
        self.lines: list[tuple[float, str]] = []
        p = self.pids
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, exe, "-n", "-l", "-D", "-G", "-C",
             "-f", str(d / "keepalived.conf"), "-p", str(p["keepalived"]), "-r", str(p["vrrp"]),
             "-c", str(p["checkers"])],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))

    def log(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for(self, text: str, timeout: float, after: float = 0.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ts, line in list(self.lines):
                if ts >= after and text in line:
                    return ts
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout}s; log:\n{self.log()}")

    def checker_pid(self) -> int:
        return int(self.pids["checkers"].read_text())


def spread(client_ns: str, n: int) -> collections.Counter[str]:
    out = subprocess.run(["ip", "netns", "exec", client_ns, sys.executable, "-c", CLIENT, str(n), VIP],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return collections.Counter(json.loads(out))


def nft_tables(netns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"], check=True,
                          capture_output=True, text=True).stdout


METRICS_URL = "http://127.0.0.1:9651/metrics"  # the checker child: the metrics port + 1


def scrape(netns: str) -> dict[str, float]:
    """The checker child's samples as {'name{labels}': value}, from inside the director namespace.

    The endpoint renders at most once a second and serves that text meanwhile (control/metrics.py):
    waiting past that second makes the figures include every change made before the call."""
    time.sleep(1.1)
    text = subprocess.run(["ip", "netns", "exec", netns, "curl", "-sf", "--max-time", "5", METRICS_URL],
                          check=True, capture_output=True, text=True, timeout=10).stdout
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def rs_up(addr: str, metric: str = "up") -> str:
    return f'pykeepalived_real_server_{metric}{{real_server="[{addr}]:tcp:80",virtual_server="{VS}"}}'


QUORUM = f'pykeepalived_virtual_server_quorum_up{{virtual_server="{VS}"}}'
ALIVE_WEIGHT = f'pykeepalived_virtual_server_alive_weight{{virtual_server="{VS}"}}'


def wait_file(p: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not p.exists():
        assert time.monotonic() < deadline, f"{p.name} not created"
        time.sleep(0.05)


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nginx") is None or shutil.which("nft") is None,
                    reason="needs root, nginx and nft")
def test_checker_daemon_nftables_end_to_end(tmp_path: Path) -> None:
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

        d = tmp_path / "run"
        d.mkdir()
        conf = d / "keepalived.conf"
        conf.write_text(conf_text(d, list(zip(RS, (1, 2, 3), strict=True))))
        daemon = None
        try:
            for i, addr in enumerate(RS, 1):
                start(addr, f"rs{i}")
            start(SORRY, "sorry")
            daemon = Daemon(lab.director.ns, d)
            daemon.wait_for("Using LVS data plane nftables", 20)
            for addr in RS:
                daemon.wait_for(f"Activating healthchecker for service [{addr}]:tcp:80 for VS {VS}", 10)
            assert "pykeepalived_lb" in nft_tables(lab.director.ns)
            daemon.wait_for("Prometheus metrics on http://127.0.0.1:9651/metrics", 5)
            m = scrape(lab.director.ns)
            assert [m[rs_up(a)] for a in RS] == [1, 1, 1], m
            assert m[QUORUM] == 1 and m[ALIVE_WEIGHT] == 6, m
            assert m[rs_up(RS[2], "weight")] == 3
            assert "process_resident_memory_bytes" in m
            fifo = os.open(d / "lvs.fifo", os.O_RDONLY | os.O_NONBLOCK)

            # connections spread by weight (smooth WRR over 6 slots: exact over whole cycles)
            assert spread(lab.client.ns, 60) == {"rs1": 10, "rs2": 20, "rs3": 30}

            # a killed real server is removed, with its notify_down and FIFO line
            t_kill = kill(RS[1])
            daemon.wait_for(f"Removing service [{RS[1]}]:tcp:80 from VS {VS}", 15, t_kill)
            wait_file(d / f"down_{RS[1]}")
            m = scrape(lab.director.ns)
            assert [m[rs_up(a)] for a in RS] == [1, 0, 1] and m[ALIVE_WEIGHT] == 4, m
            c = spread(lab.client.ns, 40)
            assert c["rs2"] == 0 and c["error"] == 0 and c["rs1"] + c["rs3"] == 40

            # it comes back when healthy
            t_up = time.monotonic()
            start(RS[1], "rs2")
            daemon.wait_for(f"Adding service [{RS[1]}]:tcp:80 to VS {VS}", 15, t_up)
            wait_file(d / f"up_{RS[1]}")
            assert spread(lab.client.ns, 60) == {"rs1": 10, "rs2": 20, "rs3": 30}

            # all down (the HTTP_GET one too): quorum lost, the sorry server serves
            t_all = time.monotonic()
            for addr in RS:
                kill(addr)
            daemon.wait_for(f"Adding sorry server [{SORRY}]:tcp:80 to VS {VS}", 20, t_all)
            daemon.wait_for(f"Lost quorum 1-0=1 > 0 for VS {VS}", 5, t_all)
            wait_file(d / "quorum_down")
            m = scrape(lab.director.ns)
            assert [m[rs_up(a)] for a in RS] == [0, 0, 0] and m[QUORUM] == 0, m
            assert spread(lab.client.ns, 10) == {"sorry": 10}

            # one back: quorum gained, the sorry server leaves
            (d / "quorum_up").unlink(missing_ok=True)  # run at start-up too (keepalived's init_service_vs)
            t_back = time.monotonic()
            start(RS[0], "rs1")
            daemon.wait_for(f"Gained quorum 1+0=1 <= 1 for VS {VS}", 15, t_back)
            wait_file(d / "quorum_up")
            m = scrape(lab.director.ns)
            assert [m[rs_up(a)] for a in RS] == [1, 0, 0] and m[QUORUM] == 1, m
            assert spread(lab.client.ns, 10) == {"rs1": 10}

            # SIGUSR1: keepalived_check.data in $TMPDIR
            os.kill(daemon.checker_pid(), signal.SIGUSR1)
            wait_file(d / "keepalived_check.data")
            data = (d / "keepalived_check.data").read_text()
            assert f"VS = {VS}" in data and f"RS = [{RS[0]}]:tcp:80, weight = 1, alive" in data
            assert f"RS = [{RS[1]}]:tcp:80, weight = 2, down" in data

            # SIGHUP: the configuration without RS 3, RS 1 weighted 4; RS 2 back
            start(RS[1], "rs2")
            conf.write_text(conf_text(d, [(RS[0], 4), (RS[1], 2)]))
            t_hup = time.monotonic()
            daemon.proc.send_signal(signal.SIGHUP)
            daemon.wait_for("Reloading", 10, t_hup)
            daemon.wait_for(f"Adding service [{RS[1]}]:tcp:80 to VS {VS}", 15, t_hup)
            deadline = time.monotonic() + 10
            while (c := spread(lab.client.ns, 6)) != {"rs1": 4, "rs2": 2}:
                assert time.monotonic() < deadline, c
                time.sleep(0.3)

            # the FIFO saw the changes, in keepalived's formats
            fifo_text = os.read(fifo, 65536).decode()
            os.close(fifo)
            assert f"RS [{RS[1]}]:tcp:80 {VS} DOWN\n" in fifo_text
            assert f"RS [{RS[1]}]:tcp:80 {VS} UP\n" in fifo_text
            assert f"VS {VS} DOWN\n" in fifo_text and f"VS {VS} UP\n" in fifo_text

            # SIGTERM: the nftables table and the pid files go away
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(20) == 0
            assert "pykeepalived_lb" not in nft_tables(lab.director.ns)
            assert not daemon.pids["checkers"].exists() and not daemon.pids["keepalived"].exists()
            assert not (d / "lvs.fifo").exists()
        finally:
            if daemon is not None and daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait()
            for cm in servers.values():
                cm.__exit__(None, None, None)  # type: ignore[attr-defined]


def test_fifo_writer_lines(tmp_path: Path) -> None:
    """The runtime's FIFO texts become keepalived's LVS FIFO lines (fwmark services included)."""
    import asyncio

    from pykeepalived.daemon.checker.checker_child import fifo_writer
    from pykeepalived.notify.fifo import FifoSet, FifoSpec

    async def go() -> str:
        fifos = FifoSet(lvs_notify_fifo=FifoSpec(str(tmp_path / "lvs.fifo")))
        await fifos.open()
        reader = os.open(tmp_path / "lvs.fifo", os.O_RDONLY | os.O_NONBLOCK)
        write = fifo_writer(fifos)
        write(f"RS [192.0.2.11]:tcp:80 {VS} DOWN")
        write("RS [192.0.2.31]:tcp:0 FWM 7 UP")
        write("VS FWM 7 DOWN")
        write(f"VS {VS} UP")
        text = os.read(reader, 4096).decode()
        os.close(reader)
        fifos.close()
        return text

    assert asyncio.run(go()).splitlines() == [
        f"RS [192.0.2.11]:tcp:80 {VS} DOWN", "RS [192.0.2.31]:tcp:0 FWM 7 UP", "VS FWM 7 DOWN", f"VS {VS} UP"]


def test_checker_metrics_address_is_port_plus_one(tmp_path: Path) -> None:
    """The checker child listens where pykeepalived_metrics_address says, port + 1; off without it."""
    from pykeepalived.config import load_config
    from pykeepalived.control.metrics import checker_listen_address

    def addr(line: str) -> tuple[str, int] | None:
        conf = tmp_path / "k.conf"
        conf.write_text(f"global_defs {{\n    router_id r\n{line}\n}}\n")
        model, diags = load_config(str(conf), None, False)
        assert not diags, [d.format() for d in diags]
        return checker_listen_address(model.global_defs.pykeepalived_metrics_address)

    assert addr("") is None
    assert addr("    pykeepalived_metrics_address") == ("127.0.0.1", 9651)
    assert addr("    pykeepalived_metrics_address [2001:db8::1]:9000") == ("2001:db8::1", 9001)


def fetch(client_ns: str, addr: str, n: int) -> collections.Counter[str]:
    out = subprocess.run(["ip", "netns", "exec", client_ns, sys.executable, "-c", CLIENT, str(n), addr],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return collections.Counter(json.loads(out))


GROUP_CONF = """global_defs {{
    router_id director
    lvs_dataplane nftables
}}
virtual_server_group G {{
    198.51.100.10-11 80
}}
virtual_server group G {{
    ha_suspend
    delay_loop 1
    connect_timeout 1
    retry 0
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {rs} 80 {{
        TCP_CHECK {{
        }}
    }}
}}
"""


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nginx") is None or shutil.which("nft") is None,
                    reason="needs root, nginx and nft")
def test_group_range_and_ha_suspend(tmp_path: Path) -> None:
    """A virtual_server_group range serves every address; with ha_suspend only the addresses configured
    on the director are served, following address events; none local → checkers suspended."""
    with lb_lab([RS[0]]) as lab:
        ns_rs = next(iter(lab.servers.values())).ns
        d = tmp_path / "run"
        d.mkdir()
        (d / "keepalived.conf").write_text(GROUP_CONF.format(rs=RS[0]))
        vs = "[G]:80"
        web = nginx(tmp_path / "rs", 'server { listen 80; location / { return 200 "rs1\\n"; } }',
                    netns=ns_rs, wait=[(RS[0], 80)])
        web.__enter__()
        daemon = None

        def ruleset() -> str:
            return subprocess.run(["ip", "netns", "exec", lab.director.ns, "nft", "list", "ruleset"],
                                  check=True, capture_output=True, text=True).stdout

        def addr(op: str, a: str) -> float:
            t = time.monotonic()  # before: the daemon may log its reaction before `ip` returns
            subprocess.run(["ip", "netns", "exec", lab.director.ns, "ip", "addr", op, f"{a}/32", "dev",
                            "eth0"], check=True)
            return t

        def served(a: str, timeout: float = 10) -> None:
            deadline = time.monotonic() + timeout
            while (c := fetch(lab.client.ns, a, 2)) != {"rs1": 2}:
                assert time.monotonic() < deadline, (a, c, ruleset())
                time.sleep(0.2)

        try:
            daemon = Daemon(lab.director.ns, d)
            daemon.wait_for("Using LVS data plane nftables", 20)
            # .10 is on the director, .11 is not: only .10 is programmed
            served("198.51.100.10")
            assert "198.51.100.11" not in ruleset()
            # the second address of the range appears: its service is programmed
            addr("add", "198.51.100.11")
            served("198.51.100.11")
            assert "198.51.100.10" in ruleset()
            # both gone: nothing programmed, the checker is suspended
            t = addr("del", "198.51.100.10")
            addr("del", "198.51.100.11")
            daemon.wait_for(f"Suspending healthchecker for service [{RS[0]}]:tcp:80 for VS {vs}", 10, t)
            deadline = time.monotonic() + 10
            while "198.51.100.1" in ruleset():
                assert time.monotonic() < deadline, ruleset()
                time.sleep(0.1)
            t = addr("add", "198.51.100.10")
            daemon.wait_for(f"Activating healthchecker for service [{RS[0]}]:tcp:80 for VS {vs}", 10, t)
            served("198.51.100.10")
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(20) == 0
        finally:
            if daemon is not None and daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait()
            web.__exit__(None, None, None)
