"""VRRP advert jitter while SNMP walks keep the subagent busy (issue 16), pykeepalived beside keepalived.

A daemon is master of 200 VRRPv3 IPv4 instances (advert_int 0.1 s: 2,000 adverts/s) with
enable_snmp_vrrp/rfcv2/rfcv3 against a private snmpd in its namespace (src/pykeepalived/lab/snmpd.py); an
observer host captures the adverts. For CAPTURE_S seconds, `idle` (no SNMP request) then `walk`
(snmpbulkwalk of KEEPALIVED-MIB vrrp, VRRP-MIB and VRRPV3-MIB in a loop, one after the other, as
fast as they are answered: ~20,000 objects each round). Per phase and implementation:
|interval - advert_int| between consecutive adverts of each VRID, p50 / p99 / max in ms, and the
walk rounds completed per second. pykeepalived then keepalived, one after the other (each may need
a whole core).

`python bench/bench_snmp.py`
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from lab_measure import cleanup, instances

from pykeepalived.lab import Lab
from pykeepalived.lab.capture import Capture, vrrp_adverts
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import STARTUP, Conf, start
from pykeepalived.lab.snmpd import SNMP_PORT, PrivateSnmpd

Row = dict[str, Any]
COUNT = 200
ADVERT = "0.1"
CAPTURE_S = 10.0
SUBTREES = (".1.3.6.1.4.1.9586.100.5.2", ".1.3.6.1.2.1.68", ".1.3.6.1.2.1.207")


def _walker(host: Any, snmpd: PrivateSnmpd, stop: threading.Event, done: list[int]) -> None:
    while not stop.is_set():
        for oid in SUBTREES:
            subprocess.run(["ip", "netns", "exec", host.ns, "snmpbulkwalk", "-v2c", "-c", "public", "-On",
                            "-t", "5", "-r", "0", f"127.0.0.1:{SNMP_PORT}", oid],
                           env=snmpd.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        done[0] += 1


def _jitter(path: Path, t0: float, t1: float) -> tuple[float, float, float, int]:
    by_vrid: dict[int, list[float]] = {}
    for s in vrrp_adverts(path):
        if t0 <= s.t <= t1 and s.priority > 0:
            by_vrid.setdefault(s.vrid, []).append(s.t)
    adv = float(ADVERT)
    dev = sorted(abs((b - a) - adv) * 1000 for ts in by_vrid.values() for a, b in itertools.pairwise(ts))
    if len(dev) < 100:
        raise RuntimeError(f"only {len(dev)} intervals captured")
    return statistics.median(dev), dev[int(len(dev) * 0.99)], dev[-1], len(dev)


def run(impl: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nodes: list[Node] = []
    with Lab(hosts=["n1", "obs"], prefix=f"p16s{os.getpid() % 10000}{impl}-") as lab:
        h = lab["n1"]
        snmpd = PrivateSnmpd(h).start()
        try:
            insts, _ = instances(COUNT, ADVERT)
            conf = Conf(insts, globals_=("enable_snmp_vrrp", "enable_snmp_rfcv2", "enable_snmp_rfcv3",
                                         f"snmp_socket unix:{snmpd.socket}"))
            n = start(lab, nodes, "n1", impl, conf)
            wait_for(lambda: n.logs().count("Entering MASTER STATE") >= COUNT,
                     STARTUP + 10 + COUNT * 0.05, step=0.25)
            time.sleep(6.0)  # past the delayed GARP burst
            objects = sum(len(snmpd.walk(oid, bulk=True)) for oid in SUBTREES)
            for phase in ("idle", "walk"):
                stop, done = threading.Event(), [0]
                walker = threading.Thread(target=_walker, args=(h, snmpd, stop, done))
                cap = Capture(lab["obs"], "ip proto 112")
                try:
                    t0 = time.time()
                    if phase == "walk":
                        walker.start()
                    time.sleep(CAPTURE_S)
                    t1 = time.time()
                    stop.set()
                    if phase == "walk":
                        walker.join()
                    path = cap.stop()
                    out[phase] = (*_jitter(path, t0, t1), done[0] / (t1 - t0))
                finally:
                    cap.cleanup()
            out["objects"] = objects
            out["tracebacks"] = n.logs().count("Traceback")
        finally:
            cleanup(nodes)
            snmpd.close()
    return out


def main() -> list[Row]:
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/snmpd"):
        return []
    res: dict[str, Any] = {}
    for impl in ("py", "ka"):
        try:
            res[impl] = run(impl)
        except Exception as exc:  # reported in the rows
            res[impl] = exc
    print(res, flush=True)
    rows: list[Row] = []

    def val(impl: str, phase: str, idx: int) -> float | None:
        r = res[impl]
        return None if isinstance(r, Exception) else round(r[phase][idx], 3)

    for phase in ("idle", "walk"):
        label = "no SNMP requests" if phase == "idle" else "snmpbulkwalk loop"
        for idx, stat in ((0, "p50"), (1, "p99"), (2, "max")):
            rows.append({"name": f"snmp {COUNT} x v3 @ 0.1 s, {label}: advert jitter {stat}",
                         "value": val("py", phase, idx), "unit": "ms", "keepalived": val("ka", phase, idx),
                         "goal": "walk p99 <= 3 x idle p99" if phase == "walk" and idx == 1 else None})
    rows.append({"name": "snmp: bulk-walk rounds of the three subtrees", "value": val("py", "walk", 4),
                 "unit": "/s", "keepalived": val("ka", "walk", 4), "goal": None})
    py = res["py"]
    rows.append({"name": "snmp: objects in one round", "value": None if isinstance(py, Exception)
                 else py["objects"], "unit": "", "keepalived": None if isinstance(res["ka"], Exception)
                 else res["ka"]["objects"], "goal": "equal"})
    rows.append({"name": "snmp: tracebacks in the log", "value": None if isinstance(py, Exception)
                 else py["tracebacks"], "unit": "", "keepalived": None, "goal": "0"})
    errs = [f"{i}: {r!r}" for i, r in res.items() if isinstance(r, Exception)]
    if errs:
        for row in rows:
            row["note"] = "not measured - " + "; ".join(errs)
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
