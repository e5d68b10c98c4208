"""Connection rate through pykeepalived's nftables data plane against connecting to a real server
directly (issue 7; goal: at least 0.9).

Lab (pykeepalived.lab.lb_lab with a router): client 198.51.100.2 -- director 198.51.100.1 + VIP
198.51.100.10 | back LAN 192.0.2.1 -- nginx real servers 192.0.2.11-15 (one worker each), router
192.0.2.254. The real servers answer from their own address through the director (NAT, and the direct
baseline) and from the VIP (held on lo, arp_ignore) through the router (DR). The director runs
`pykeepalived -C` with `lvs_dataplane nftables`, a virtual_server on the VIP port 80 (rr, NAT, TCP_CHECK).
The client runs wrk (one thread, 16 connections, `Connection: close`, so every request is a new TCP
connection) for a few seconds at a time, in turn against the VIP, against a second virtual service
(VIP port 8080) whose only real server is 192.0.2.15 (the DNAT cost alone), and directly against an
identical nginx, 192.0.2.14, in no virtual service (routed through the same director namespace,
without DNAT), and against a DR virtual service (VIP port 8000, the three real servers, lb_kind DR:
the director only routes the client's packets to the real servers' MACs, the replies bypass it),
three rounds each; the medians are compared. Each target has servers of its own: with
one client address, a connection to a server that another path also reaches can clash with the
reply tuple of an earlier DNATed connection still in conntrack's TIME_WAIT; the kernel drops that
SYN (retransmitted a second later), which would measure the clash, not the data plane.
Everything stays on lab addresses inside the lab's namespaces.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pykeepalived.lab import lb_lab
from pykeepalived.lab.servers import nginx

Row = dict[str, Any]
VIP = "198.51.100.10"
RS = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
DIRECT = "192.0.2.14"  # same nginx, in no virtual service: the baseline
SINGLE = "192.0.2.15"  # the only real server of the second virtual service
ROUND_S = 4
ROUNDS = 3
CONNS = 16
DR_PORT = 8000


def _conf() -> str:
    dr = "".join(f"    real_server {a} {DR_PORT} {{\n        TCP_CHECK {{\n            connect_timeout 1\n"
                 f"        }}\n    }}\n" for a in RS)
    rss = "".join(f"    real_server {a} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n"
                  f"        }}\n    }}\n" for a in RS)
    return f"""global_defs {{
    router_id lbbench
    lvs_dataplane nftables
}}
virtual_server {VIP} 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
{rss}}}
virtual_server {VIP} 8080 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {SINGLE} 80 {{
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
virtual_server {VIP} {DR_PORT} {{
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
{dr}}}
"""


def wrk(ns: str, url: str, seconds: int = ROUND_S) -> tuple[float, int]:
    """(requests = connections per second, socket errors + non-2xx) of one wrk run in `ns`."""
    out = subprocess.run(["ip", "netns", "exec", ns, "wrk", "-t1", f"-c{CONNS}", f"-d{seconds}s",
                          "--timeout", "2s", "-H", "Connection: close", url],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"no rate in wrk output: {out!r}")
    errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)), errs + (int(non2xx.group(1)) if non2xx else 0)


def measure() -> dict[str, Any]:
    with (lb_lab([*RS, DIRECT, SINGLE], vip=VIP, router=True) as lb,
          tempfile.TemporaryDirectory(prefix="pyka-lb-") as tmp):
        d = Path(tmp)
        client, director = lb.client.ns, lb.director.ns
        lb.client.run(["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000", "net.ipv4.tcp_tw_reuse=1"])
        for addr, h in lb.servers.items():
            h.run("sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2")
            h.ip("addr", "add", f"{VIP}/32", "dev", "lo")  # DR: the VIP, not answering ARP
            h.ip("rule", "add", "from", addr, "table", "100")  # NAT / direct replies: via the director
            h.ip("route", "add", "default", "via", "192.0.2.1", "table", "100")
        names = {addr: h.ns for addr, h in lb.servers.items()}
        cms = []
        daemon = None
        try:
            for i, addr in enumerate([*RS, DIRECT, SINGLE], 1):
                cm = nginx(d / addr, f'server {{ listen 80; listen {DR_PORT}; location / '
                                     f'{{ return 200 "rs{i}\\n"; }} }}',
                           netns=names[addr], wait=[(addr, 80)])
                cm.__enter__()
                cms.append(cm)
            direct_url, vip_url = f"http://{DIRECT}/", f"http://{VIP}/"
            wrk(client, direct_url, 1)  # warm up
            (d / "keepalived.conf").write_text(_conf())
            exe = [sys.executable, "-m", "pykeepalived"]
            log: list[str] = []
            daemon = subprocess.Popen(
                ["ip", "netns", "exec", director, *exe, "-n", "-l", "-D", "-G", "-C",
                 "-f", str(d / "keepalived.conf"), "-p", str(d / "k.pid"), "-r", str(d / "v.pid"),
                 "-c", str(d / "c.pid")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, TMPDIR=tmp))

            def read() -> None:
                assert daemon is not None and daemon.stdout is not None
                for line in daemon.stdout:
                    log.append(line)

            threading.Thread(target=read, daemon=True).start()
            deadline = time.monotonic() + 30
            while sum("Activating healthchecker" in ln for ln in log) < 2 * len(RS) + 1:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError("director did not start its checkers: " + "".join(log)[-500:])
                time.sleep(0.1)
            probe = subprocess.run(["ip", "netns", "exec", client, "curl", "-s", "-m", "2", vip_url],
                                   capture_output=True, text=True)
            if not probe.stdout.startswith("rs"):
                raise RuntimeError(f"VIP not served: {probe.stdout!r} {probe.stderr!r}")
            wrk(client, vip_url, 1)  # warm up
            urls = {"vip": vip_url, "one": f"http://{VIP}:8080/", "direct": direct_url,
                    "dr": f"http://{VIP}:{DR_PORT}/"}
            rates: dict[str, list[float]] = {k: [] for k in urls}
            errors = 0
            for _ in range(ROUNDS):
                for k, url in urls.items():
                    r, e = wrk(client, url)
                    rates[k].append(r)
                    errors += e
            return {**{k: statistics.median(v) for k, v in rates.items()}, "errors": errors,
                    **{f"{k}_all": v for k, v in rates.items()}}
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.terminate()
                try:
                    daemon.wait(20)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            for cm in cms:
                cm.__exit__(None, None, None)


def main() -> list[Row]:
    base: Row = {"unit": "", "keepalived": None, "goal": None}
    if os.geteuid() != 0:
        return [{**base, "name": "nftables data plane bench", "value": None,
                 "note": "not measured: needs root for network namespaces"}]
    missing = [t for t in ("wrk", "nginx", "nft") if shutil.which(t) is None]
    if missing:
        return [{**base, "name": "connection rate via nftables data plane / direct", "value": None,
                 "note": f"not measured: {', '.join(missing)} not installed"}]
    try:
        r = measure()
    except Exception as exc:
        return [{**base, "name": "connection rate via nftables data plane / direct", "value": None,
                 "note": f"not measured - {exc!r}"}]
    note = {"note": "keepalived 2.2.7 needs IPVS for its data plane (absent from this kernel): "
                    "no side by side"}
    return [
        {"name": "connection rate via nftables data plane (3 nginx) / direct to one nginx",
         "value": round(r["vip"] / r["direct"], 3), "unit": "ratio", "keepalived": None, "goal": ">= 0.9",
         **note},
        {"name": "connection rate via nftables data plane, 1 real server / direct to a like server",
         "value": round(r["one"] / r["direct"], 3), "unit": "ratio", "keepalived": None, "goal": ">= 0.9"},
        {"name": "connection rate via nftables data plane, lb_kind DR (3 nginx) / direct to one nginx",
         "value": round(r["dr"] / r["direct"], 3), "unit": "ratio", "keepalived": None, "goal": ">= 0.9"},
        {"name": "connections/s through the VIP (wrk, Connection: close, median of 3)",
         "value": round(r["vip"]), "unit": "conn/s", "keepalived": None, "goal": None,
         "runs": r["vip_all"]},
        {"name": "connections/s direct to one real server (median of 3)", "value": round(r["direct"]),
         "unit": "conn/s", "keepalived": None, "goal": None, "runs": r["direct_all"]},
        {"name": "failed connections / non-2xx during the LB runs", "value": r["errors"], "unit": "count",
         "keepalived": None, "goal": "0"},
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
