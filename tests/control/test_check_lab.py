"""Both children's control sockets, pykeepalivedctl and the metrics endpoints on a real daemon in
namespaces: a director running a VRRP instance and a virtual server (nftables data plane) in front of
two nginx real servers (pykeepalived.lab.lb_lab). Checked: `pykeepalivedctl status` shows the instance
and the virtual server with its real servers, `follow` reports real server and quorum changes, the
exit status follows the lost quorum, `reload` moves both metrics listeners (the new address serves,
the old one refuses), and the LVS traffic counters exported after traffic through the VIP."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.control import ctl
from pykeepalived.lab import lb_lab
from pykeepalived.lab.node import wait_for
from pykeepalived.lab.servers import nginx

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nginx") or not shutil.which("nft"),
                                 reason="needs root, nginx and nft")]

VIP = "198.51.100.10"
VRRP_VIP = "198.51.100.20"
RS = ["192.0.2.11", "192.0.2.12"]
VS = f"[{VIP}]:tcp:80"


def conf_text(d: Path, port: int, sock: str = "ctl.sock") -> str:
    rs = "\n".join(f"""    real_server {a} 80 {{
        TCP_CHECK {{
        }}
    }}""" for a in RS)
    return f"""global_defs {{
    router_id director
    lvs_dataplane nftables
    pykeepalived_metrics_address 127.0.0.1:{port}
    pykeepalived_control_socket {d}/{sock}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        {VRRP_VIP}/24
    }}
}}
virtual_server {VIP} 80 {{
    delay_loop 1
    connect_timeout 1
    retry 0
    warmup 0
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 1
{rs}
}}
"""


class Daemon:
    """`pykeepalived -n -l -D` (both children) in the director namespace, its log lines collected."""

    def __init__(self, netns: str, d: Path) -> None:
        exe = shutil.which("pykeepalived", path=str(Path(sys.executable).parent)) or "pykeepalived"
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, exe, "-n", "-l", "-D", "-f", str(d / "keepalived.conf"),
             "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid"), "-c", str(d / "checkers.pid")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, TMPDIR=str(d)))
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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def curl(netns: str, url: str) -> tuple[int, str]:
    p = subprocess.run(["ip", "netns", "exec", netns, "curl", "-sf", "--max-time", "5", url],
                       capture_output=True, text=True, timeout=15)
    return p.returncode, p.stdout


def scrape(netns: str, port: int) -> dict[str, float]:
    """{'name{label="value",...}': value} as exposed (raw text: the exporter's LVS counters have no
    `_total`, which prometheus_client's parser would add), from inside the director namespace."""
    code, text = curl(netns, f"http://127.0.0.1:{port}/metrics")
    assert code == 0, f"scrape of port {port}: curl exit {code}"
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def run_ctl(d: Path, *args: str, sock: str = "ctl.sock") -> tuple[int, str]:
    out = io.StringIO()
    return ctl.main(["-s", str(d / sock), *args], out), out.getvalue()


@pytest.fixture
def director(tmp_path: Path) -> Iterator[tuple[str, str, Path, Daemon, dict[str, object]]]:
    with lb_lab(RS) as lab:
        names = {addr: h.ns for addr, h in lab.servers.items()}
        servers: dict[str, object] = {}
        daemon = None
        try:
            for i, addr in enumerate(RS, 1):
                site = f'server {{ listen 80; location / {{ return 200 "rs{i}\\n"; }} }}'
                cm = nginx(tmp_path / addr, site, netns=names[addr], wait=[(addr, 80)])
                cm.__enter__()
                servers[addr] = cm
            d = tmp_path / "run"
            d.mkdir()
            (d / "keepalived.conf").write_text(conf_text(d, 9650))
            daemon = Daemon(lab.director.ns, d)
            daemon.wait_for("Prometheus metrics on http://127.0.0.1:9651/metrics", 30)
            daemon.wait_for("(VI_1) Entering MASTER STATE", 20)
            for addr in RS:
                daemon.wait_for(f"TCP connection to [{addr}]:tcp:80 success", 10)
            yield lab.director.ns, lab.client.ns, d, daemon, servers
        finally:
            if daemon is not None:
                daemon.stop()
            for cm in servers.values():
                cm.__exit__(None, None, None)  # type: ignore[attr-defined]


def test_ctl_both_children_follow_and_metrics_and_sockets_move_on_reload(
        director: tuple[str, str, Path, Daemon, dict[str, object]]) -> None:
    ns, _, d, daemon, servers = director
    assert (d / "ctl_check.sock").exists()  # beside pykeepalived_control_socket PATH
    code, text = run_ctl(d, "--json", "status")
    assert code == ctl.EXIT_OK, text
    reply = json.loads(text)
    assert reply["children"]["vrrp"]["ok"] and reply["children"]["checker"]["ok"]
    assert reply["vrrp"][0]["data"]["iname"] == "VI_1" and reply["dataplane"] == "nftables"
    (vs,) = reply["virtual_servers"]
    assert vs["virtual_server"] == VS and vs["quorum_up"] and vs["alive_weight"] == 2
    assert [r["real_server"] for r in vs["real_servers"]] == [f"[{a}]:tcp:80" for a in RS]
    code, table = run_ctl(d, "status", "--expect", "VI_1=MASTER", "--expect", f"{RS[0]}:80=UP")
    assert code == ctl.EXIT_OK, table
    assert "VI_1" in table and "MASTER" in table and f"  -> [{RS[1]}]:tcp:80" in table, table
    assert run_ctl(d, "status", "--expect", f"{RS[0]}=DOWN")[0] == ctl.EXIT_UNEXPECTED

    # pykeepalivedctl follow in a thread of this process: subscribed within milliseconds (a fresh
    # interpreter could miss the first events on a loaded machine)
    follow_out = io.StringIO()
    result: list[int] = []
    follower = threading.Thread(target=lambda: result.append(ctl.main(
        ["-s", str(d / "ctl.sock"), "--json", "follow", "--count", "3"], follow_out)), daemon=True)
    follower.start()
    time.sleep(1.0)
    for addr in RS:
        servers.pop(addr).__exit__(None, None, None)  # type: ignore[attr-defined]
    follower.join(20)
    out = follow_out.getvalue()
    assert result == [ctl.EXIT_OK], out
    events = [json.loads(line) for line in out.splitlines()]
    rs_events = [(e["real_server"], e["state"]) for e in events if e["event"] == "real_server"]
    assert sorted(rs_events) == [(f"[{a}]:tcp:80", "DOWN") for a in RS], events
    assert all(e["reason"] for e in events if e["event"] == "real_server"), events
    assert {"event": "quorum", "virtual_server": VS, "state": "DOWN"}.items() <= events[-1].items(), events
    code, table = run_ctl(d, "status", "--checkers")
    assert code == ctl.EXIT_QUORUM and "QUORUM LOST" in table and "last failure" in table, table

    # reload with another metrics address and control socket: both children move their listeners
    m_old = (scrape(ns, 9650), scrape(ns, 9651))
    assert m_old[0]["keepalived_up"] == 1
    assert m_old[1][f'pykeepalived_virtual_server_quorum_up{{virtual_server="{VS}"}}'] == 0
    (d / "keepalived.conf").write_text(conf_text(d, 9660, "ctl2.sock"))
    t = time.monotonic()
    out = io.StringIO()  # through the checker child's socket alone (its parent reloads both children)
    code = ctl.main(["-s", str(d / "nothing.sock"), "--check-socket", str(d / "ctl_check.sock"), "reload"],
                    out)
    assert code == ctl.EXIT_OK and "reload requested" in out.getvalue(), out.getvalue()
    daemon.wait_for("Metrics address changed: closing http://127.0.0.1:9650/metrics", 15, t)
    daemon.wait_for("Metrics address changed: closing http://127.0.0.1:9651/metrics", 15, t)
    daemon.wait_for("Prometheus metrics on http://127.0.0.1:9660/metrics", 5, t)
    daemon.wait_for("Prometheus metrics on http://127.0.0.1:9661/metrics", 5, t)
    m_vrrp, m_check = scrape(ns, 9660), scrape(ns, 9661)
    assert m_vrrp["keepalived_up"] == 1
    rs_up = f'pykeepalived_real_server_up{{real_server="[{RS[0]}]:tcp:80",virtual_server="{VS}"}}'
    assert m_check[rs_up] == 0
    assert curl(ns, "http://127.0.0.1:9650/metrics")[0] == 7  # connection refused
    assert curl(ns, "http://127.0.0.1:9651/metrics")[0] == 7
    wait_for(lambda: (d / "ctl2.sock").exists() and (d / "ctl2_check.sock").exists(), 5)
    assert not (d / "ctl.sock").exists() and not (d / "ctl_check.sock").exists()
    assert run_ctl(d, "status")[0] == ctl.EXIT_UNREACHABLE
    assert run_ctl(d, "status", "--expect", "VI_1=MASTER", sock="ctl2.sock")[0] == ctl.EXIT_QUORUM  # running


def test_lvs_counters_after_traffic(director: tuple[str, str, Path, Daemon, dict[str, object]]) -> None:
    ns, client, d, _, _ = director
    for _ in range(6):
        code, body = curl(client, f"http://{VIP}/")
        assert code == 0 and body.strip() in ("rs1", "rs2"), (code, body)
    m = scrape(ns, 9651)
    vip = f'addr="{VIP}:80",proto="6"'
    assert m[f"keepalived_lvs_vip_conn{{{vip}}}"] >= 6, m
    assert m[f"keepalived_lvs_vip_in_packets{{{vip}}}"] > 0 and m[f"keepalived_lvs_vip_in_bytes{{{vip}}}"] > 0
    for a in RS:
        assert m[f'keepalived_lvs_rs_conn{{addr="{a}:80",proto="6"}}'] > 0, m
    code, text = run_ctl(d, "--json", "stats")
    assert code == ctl.EXIT_OK, text
    (svc,) = json.loads(text)["checker"]["services"]
    assert svc["virtual_server"] == VS and svc["conns"] >= 6
    assert sorted(r["real_server"] for r in svc["real_servers"]) == [f"[{a}]:tcp:80" for a in RS]
