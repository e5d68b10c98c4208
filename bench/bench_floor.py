"""The memory floor under pykeepalived (issue 15): what a CPython process costs before a line of
the daemon runs, so the footprint figures of bench_footprint.py can be read against what is
reachable at all.

# Theory of operation
Each row runs a fresh interpreter (this venv's, the package byte-compiled by bench/run.py) that
imports one set of modules and reports its PSS (/proc/self/smaps_rollup), then forks once and
reports the PSS of the pair after the child has idled: the parent's heap shared copy-on-write, as
the daemon's parent and VRRP child share it (daemon/parent/forkchild.py). The sets, each adding to
the one before:
* nothing (the interpreter alone);
* asyncio (the event loop of every child; it imports ssl, whose libraries are file pages);
* + logging and pyroute2's rtnetlink client (pykeepalived.linux.rtnl): the libraries the VRRP
  child cannot do without;
* + the VRRP child's modules (what the parent preloads for a vrrp-only configuration).
A figure of the last row near the "parent + VRRP child" PSS of bench_footprint means the daemon's
own data (instances, sockets, buffers) is small beside its code; the third row is the floor that
issue 15's 20 MB goal would have to fit under with the libraries the project uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

Row = dict[str, Any]

PROBE = r"""
import gc, json, os, sys, time
for name in sys.argv[1:]:
    __import__(name)
gc.collect()
gc.freeze()

def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("Pss:")) / 1024

alone = pss(os.getpid())
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    time.sleep(0.5)
    os.write(w, b"x")
    time.sleep(5)
    os._exit(0)
os.close(w)
os.read(r, 1)
pair = pss(os.getpid()) + pss(pid)
os.kill(pid, 9)
os.waitpid(pid, 0)
print(json.dumps({"alone": alone, "pair": pair, "modules": len(sys.modules)}))
"""

SETS: list[tuple[str, list[str]]] = [
    ("interpreter alone", []),
    ("+ asyncio", ["asyncio"]),
    ("+ logging, pyroute2 rtnetlink client", ["asyncio", "logging", "pykeepalived.linux.rtnl"]),
    ("+ the VRRP child's modules", ["asyncio", "logging", "pykeepalived.linux.rtnl", "pykeepalived.config",
                                    "pykeepalived.daemon.trackers", "pykeepalived.daemon.vrrp.vrrp_child"]),
]


def probe(modules: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> list[Row]:
    rows: list[Row] = []
    for label, modules in SETS:
        runs = sorted((probe(modules) for _ in range(3)), key=lambda r: r["pair"])
        mid = runs[1]
        rows.append({"name": f"floor PSS, one process: {label}", "value": round(mid["alone"], 1),
                     "unit": "MB"})
        rows.append({"name": f"floor PSS, process + forked child: {label}", "value": round(mid["pair"], 1),
                     "unit": "MB", "goal": "<= 20 (issue 15, whole daemon)"})
        rows.append({"name": f"floor modules: {label}", "value": int(mid["modules"]), "unit": ""})
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
