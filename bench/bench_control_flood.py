"""VRRP adverts while the metrics endpoint and the control socket are flooded (issue 20 item 4).

A master (n1, advert_int 0.1 s, priority 150, metrics on 127.0.0.1:9650 in its namespace, started
under a 1,024-descriptor soft limit like a unit without LimitNOFILE) and a backup (n2). n2 captures
the adverts while clients in n1's namespace (src/pykeepalived/lab/control_flood.py) flood the master:
400 and 1,000 concurrent `GET /metrics`, 1,100 idle connections (beyond the descriptor limit), slow
readers and writers, the control socket (concurrent `status`, stuck `follow` readers, 30,000-deep
JSON), and all of it at once as tests/hardening/test_control_flood.py does (`everything`). Per
scenario: the longest gap between two of the master's adverts, how often the backup took over, the
VRRP child's RSS before / after, its worst timer lateness (its own metric), tracebacks in the log.

`python bench/bench_control_flood.py [SCENARIO...]` prints the rows of the named scenarios (`idle`
is the same pair without a flood: the machine's own scheduling noise); FLOOD_KEEP_LOG=PREFIX keeps
the master's log of each scenario as PREFIX.SCENARIO.log.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pykeepalived.lab import Host, Lab
from pykeepalived.lab import control_flood as flood
from pykeepalived.lab.capture import Capture, vrrp_adverts
from pykeepalived.lab.node import Node

Row = dict[str, Any]
ADDR = flood.ADDR
FLOOD_S = 8.0


def rss_kb(pid: int | None) -> int:
    if pid is None:
        return 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _sample(text: bytes, name: bytes) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + b" "):
            return float(line.split()[1])
    return None


def cpu_s(pid: int | None) -> float:
    """utime + stime of the process so far, in seconds."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Scenario = Callable[[Host, Node], list[Any]]


def run(name: str, scenario: Scenario) -> Row:
    nodes: list[Node] = []
    try:
        with Lab(hosts=["n1", "n2"]) as lab:
            a, b = flood.flooded_pair(lab, nodes)
            takeovers0 = b.logs().count("Entering MASTER STATE")
            cap = Capture(lab["n2"], "ip proto 112")
            try:
                rss0 = rss_kb(a.vrrp_pid())
                t0 = time.time()
                results = scenario(lab["n1"], a)
                t1 = time.time()
                time.sleep(1.0)
                rss1 = rss_kb(a.vrrp_pid())
                cpu = cpu_s(a.vrrp_pid())
                after = a.host.run_async(flood.scrape_once, ADDR)
            finally:
                path = cap.stop()
            adverts = [s for s in vrrp_adverts(path) if s.src == str(lab["n1"].ipv4) and t0 <= s.t <= t1]
            backup_adverts = [s for s in vrrp_adverts(path) if s.src == str(lab["n2"].ipv4)]
            cap.cleanup()
            gaps = [y.t - x.t for x, y in itertools.pairwise(adverts)]
            log = a.logs()
            if os.environ.get("FLOOD_KEEP_LOG"):
                Path(os.environ["FLOOD_KEEP_LOG"] + f".{name}.log").write_text(log)
            return {"scenario": name, "advert_gap_max_s": max(gaps) if gaps else None,
                    "adverts": len(adverts), "due": round((t1 - t0) / 0.1),
                    "backup_takeovers": b.logs().count("Entering MASTER STATE") - takeovers0,
                    "backup_adverts": len(backup_adverts),
                    "vrrp_cpu_s": cpu, "rss_kb_before": rss0, "rss_kb_after": rss1,
                    "tracebacks": log.count("Traceback"), "emfile_lines": log.count("Too many open files"),
                    "scrape_after_ok": after.startswith(b"HTTP/1.0 200"),
                    "timer_lateness_max_s": _sample(after, b"pykeepalived_timer_lateness_max_seconds"),
                    "results": results}
    finally:
        for n in nodes:
            n.kill()


def together(host: Host, *coros: flood.Flood) -> list[Any]:
    futs = [host.start_async(fn, *args) for fn, args in coros]
    return [f.result(120) for f in futs]


def sock(n: Node) -> str:
    return str(n.dir / "pykeepalived.sock")


SCENARIOS: dict[str, Scenario] = {
    "idle": lambda h, n: together(h, (asyncio.sleep, (FLOOD_S,))),
    "burst400": lambda h, n: together(h, (flood.scrape_burst, (ADDR, 400, FLOOD_S))),
    "burst1000": lambda h, n: together(h, (flood.scrape_burst, (ADDR, 1000, FLOOD_S))),
    "hold1100": lambda h, n: together(h, (flood.hold, (ADDR, 1100, FLOOD_S))),
    "slow": lambda h, n: together(h, (flood.slow_readers, (ADDR, 300, FLOOD_S)),
                                  (flood.slowloris, (ADDR, 300, FLOOD_S))),
    "control": lambda h, n: together(h, (flood.ctl_burst, (sock(n), 200, FLOOD_S)),
                                     (flood.ctl_follow_stuck, (sock(n), 200, FLOOD_S)),
                                     (flood.ctl_hold, (sock(n), 500, FLOOD_S)),
                                     (flood.ctl_junk, (sock(n),))),
    "everything": lambda h, n: together(h, *flood.everything(sock(n), FLOOD_S)),
}


def rows(results: list[Row]) -> list[Row]:
    out: list[Row] = []
    for r in results:
        s = r["scenario"]
        out.append({"name": f"{s}: max advert gap at advert_int 0.1 s", "value": r["advert_gap_max_s"],
                    "unit": "s", "keepalived": None, "goal": "< 0.3 (3 x advert_int)"})
        out.append({"name": f"{s}: worst VRRP timer lateness (pykeepalived_timer_lateness_max_seconds)",
                    "value": r["timer_lateness_max_s"], "unit": "s", "keepalived": None, "goal": None})
        out.append({"name": f"{s}: backup takeovers", "value": r["backup_takeovers"], "unit": "",
                    "keepalived": None, "goal": "0"})
        for when in ("before", "after"):
            out.append({"name": f"{s}: VRRP child RSS {when}", "value": r[f"rss_kb_{when}"] / 1024,
                        "unit": "MB", "keepalived": None, "goal": None})
        out.append({"name": f"{s}: tracebacks in the log", "value": r["tracebacks"], "unit": "",
                    "keepalived": None, "goal": "0"})
    return out


def main(names: list[str] | None = None) -> list[Row]:
    if os.geteuid() != 0:
        return []
    results = []
    for name in names or list(SCENARIOS):
        r = run(name, SCENARIOS[name])
        print(r, flush=True)
        results.append(r)
    return rows(results)


if __name__ == "__main__":
    for row in main(sys.argv[1:]):
        print(row)
