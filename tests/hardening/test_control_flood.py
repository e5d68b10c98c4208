"""No client of the metrics endpoint or the control socket can stall a master's adverts (issue 20 item 4).

A master (n1, VRRPv3, advert_int 0.1 s, priority 150, metrics on 127.0.0.1:9650 inside its namespace,
started with systemd's default soft limit of 1,024 descriptors) and a backup (n2, priority 100). While
n2 captures the adverts, clients in n1's namespace flood both of the master's doors at once
(control_flood.py): 400 concurrent scrapers, 1,100 idle connections (more than the descriptor limit),
slow readers and a slow writer, concurrent `status` clients, `follow` clients that never read, idle
control connections and hostile request lines (a 30,000-deep JSON array, an endless line, bad UTF-8).

The criterion is VRRP's own: the backup never takes over (no MASTER transition in its log, not one
advert from it on the wire) and the master's adverts go on through the flood and after it, all at
its priority. Besides: the VRRP child is the same process at the end (no crash, no respawn), its log
has no traceback, every hostile line got a clean error reply, and both doors answer once the flood
is over. How late adverts were and what the flood cost in memory are bench figures
(bench/bench_control_flood.py), not asserted here.
"""

from __future__ import annotations

import io
import json
import os
import time

import pytest

from pykeepalived.control import ctl
from pykeepalived.lab import Host, Lab
from pykeepalived.lab import control_flood as flood
from pykeepalived.lab.capture import Capture, vrrp_adverts
from pykeepalived.lab.node import Node, dump_logs

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

FLOOD_S = 8.0
# RFC 5798 6.1: Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time (backup priority 100)
MASTER_DOWN_S = 3 * flood.ADVERT_S + (256 - 100) * flood.ADVERT_S / 256


def _status(n: Node) -> tuple[int, str]:
    out = io.StringIO()
    code = ctl.main(["-s", str(n.dir / "pykeepalived.sock"), "--json", "status"], out)
    return code, out.getvalue()


def test_flooded_master_keeps_advertising(lab: Lab, nodes: list[Node]) -> None:
    master, backup = flood.flooded_pair(lab, nodes)
    host: Host = lab["n1"]
    vrrp_pid = master.vrrp_pid()
    takeovers = backup.logs().count("Entering MASTER STATE")
    sock = str(master.dir / "pykeepalived.sock")

    cap = Capture(lab["n2"], "ip proto 112")
    try:
        t0 = time.time()
        scenarios = flood.everything(sock, FLOOD_S)
        futures = [host.start_async(fn, *args) for fn, args in scenarios]
        seen = [f.result(120) for f in futures]
        t1 = time.time()
        junk = host.run_async(flood.ctl_junk, sock)
        time.sleep(2.0)  # the master's adverts after the flood
        after = host.run_async(flood.scrape_once, flood.ADDR)
        code, status = _status(master)
    finally:
        path = cap.stop()
    adverts = vrrp_adverts(path)
    cap.cleanup()
    logs = dump_logs(master, backup)
    report = f"flood results: {seen}\n{logs}"

    # VRRP: the backup never took over, the master advertised throughout at its priority
    assert backup.logs().count("Entering MASTER STATE") == takeovers, report
    mine = [a for a in adverts if a.src == str(lab["n1"].ipv4)]
    assert [a for a in adverts if a.src != str(lab["n1"].ipv4)] == [], report
    assert {a.priority for a in mine} == {150}, report
    during = [a for a in mine if t0 <= a.t <= t1]
    # at least one advert per Master_Down_Interval on average (fewer would have let the backup in)
    assert len(during) >= (t1 - t0) / MASTER_DOWN_S, f"{len(during)} adverts in {t1 - t0:.1f} s\n{report}"
    assert [a for a in mine if a.t > t1], report
    assert master.vrrp_pid() == vrrp_pid and master.has(flood.VIP), report

    # the daemon survived what the clients sent, and said so without tracebacks
    log = master.logs()
    assert "Traceback" not in log, report
    assert log.count("Too many open files") <= 2, report
    assert all(isinstance(r, str) and r.startswith('{"ok":false,"error":') for r in junk.values()), junk
    # both doors answer again once the flood is over
    assert after.startswith(b"HTTP/1.0 200") and b"keepalived_up 1.0" in after, after[:200]
    assert code == ctl.EXIT_OK and json.loads(status)["vrrp"][0]["data"]["state"] == 2, status
