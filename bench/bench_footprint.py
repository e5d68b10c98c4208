"""Footprint and start-up, pykeepalived side by side with keepalived 2.2.7 in one run (issue 15).

For each configuration a daemon (`-n -l -D`, src/pykeepalived/lab/node.py Node) runs in its own lab host,
pykeepalived and keepalived in turn, three runs each (medians):
* start-up: from just before the daemon is started to its `(VI_1) Entering BACKUP STATE` log line
  (the log file is followed every millisecond);
* memory: PSS summed over the daemon's processes (/proc/PID/smaps_rollup, bench/lab_measure.py)
  once it is master of every instance and the delayed GARP/NA burst (5 s) is over;
* respawn: from a kill -9 of the VRRP child to the new child's `(VI_1) Entering BACKUP STATE` (the
  first death of a child is respawned at once by both; a second within 60 s would be delayed 1 s).
Configurations: 1 instance at 100 ms (v3), 200 at 100 ms, 200 at 100 ms with the checker child too
(`--all -B`: keepalived's checker cannot run a virtual_server without IPVS, absent here, so both run
the checker child without one), 1,000 IPv6 instances at 1 s (4 interfaces x 250 VRIDs).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from pathlib import Path
from typing import Any

from lab_measure import cleanup, instances, pids, pss_kb, side_row

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node
from pykeepalived.lab.peers import STARTUP, Conf, Inst

Row = dict[str, Any]
RUNS = 3
MARK = "(VI_1) Entering BACKUP STATE"


class Tail:
    """Follows a growing log file; `wait(text, n)` returns when `text` has appeared n times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pos = 0
        self.seen = ""  # the complete lines read so far
        self.partial = ""  # a line not finished yet
        self.counts: dict[str, int] = {}

    def count(self, text: str) -> int:
        if text not in self.counts:
            self.counts[text] = self.seen.count(text)
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.pos)
                new = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            new = ""
        if "\n" in new:
            done, _, self.partial = (self.partial + new).rpartition("\n")
            self.seen += done + "\n"
            for t in self.counts:
                self.counts[t] += done.count(t)
        else:
            self.partial += new
        return self.counts[text]

    def wait(self, text: str, n: int, timeout: float, step: float = 0.001) -> float:
        t0 = time.monotonic()
        while self.count(text) < n:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"{text!r} x{n} not logged in {timeout} s")
            time.sleep(step)
        return time.monotonic()


def one_run(impl: str, count: int, advert: str, extra: tuple[str, ...]) -> tuple[float, float, float]:
    """(start-up s, PSS MB, respawn s) of one daemon master of `count` instances."""
    insts, ifaces = instances(count, advert)
    if count == 1:
        insts = [Inst(name="VI_1", vrid=1, prio=200, advert=advert, version=3, vips=("203.0.113.1/32",))]
    nodes: list[Node] = []
    try:
        with Lab(hosts=["n1"]) as lab:
            for k in range(1, ifaces):
                lab.attach(lab["n1"], lab.add_lan(ipv4=("192.0.2.0/24" if k >= 3 else None),
                                                  ipv6=f"2001:db8:{k + 10}::/64"))
            n = Node(lab["n1"], Conf(insts).render(), impl=impl, extra=extra)
            nodes.append(n)
            tail = Tail(n.log)
            t0 = time.monotonic()
            n.start()
            startup = tail.wait(MARK, 1, STARTUP) - t0
            tail.wait("Entering MASTER STATE", count, STARTUP + count * 0.05, step=0.05)
            time.sleep(6.0)  # garp_master_delay 5 s: the GARP/NA burst is over
            pss = pss_kb(pids(n)) / 1024
            child = n.vrrp_pid()
            assert child, "no VRRP child"
            before = tail.count(MARK)
            t1 = time.monotonic()
            os.kill(child, signal.SIGKILL)
            respawn = tail.wait(MARK, before + 1, STARTUP) - t1
            return startup, pss, respawn
    finally:
        cleanup(nodes)


def measure(count: int, advert: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """{impl: (median start-up, median PSS, median respawn) or the exception}; runs alternate."""
    runs: dict[str, list[tuple[float, float, float]]] = {"py": [], "ka": []}
    errors: dict[str, Exception] = {}
    for _ in range(RUNS):
        for impl in ("py", "ka"):
            try:
                runs[impl].append(one_run(impl, count, advert, extra))
            except Exception as exc:  # reported in the row
                errors[impl] = exc
    out: dict[str, Any] = {}
    for impl, rs in runs.items():
        out[impl] = tuple(statistics.median(r[k] for r in rs) for k in range(3)) if rs else errors[impl]
    return out


def main() -> list[Row]:
    rows: list[Row] = []
    for count, advert, label, extra, goals in (
        (1, "0.1", "1 @ v3 100 ms", (), ("<= 0.3 s", None, "<= 0.3 s")),
        (200, "0.1", "200 @ v3 100 ms", (), (None, "<= 20 MB", "<= 0.3 s")),
        (200, "0.1", "200 @ v3 100 ms, with the checker child", ("--all", "-B"), (None, "<= 20 MB", None)),
        (1000, "1", "1000 @ v3 IPv6 1 s", (), (None, None, None)),
    ):
        res = measure(count, advert, extra)
        rows.append(side_row(f"start-up to (VI_1) Entering BACKUP STATE, {label}", res, "s", goals[0],
                             lambda r: round(r[0], 3)))
        rows.append(side_row(f"memory (PSS, all processes) as master of {label}", res, "MB", goals[1],
                             lambda r: round(r[1], 1)))
        rows.append(side_row(f"respawn: kill -9 VRRP child to new child's BACKUP, master of {label}", res,
                             "s", goals[2], lambda r: round(r[2], 3)))
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
