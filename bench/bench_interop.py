"""pykeepalived side by side with keepalived 2.2.7, same run, same lab (issue 6).

* takeover delay over the protocol bound (Master_Down_Interval for a hard kill, Skew_Time for a
  graceful stop with its priority-0 advert), measured on the wire by an observer host's capture,
  homogeneous pairs (pykeepalived -> pykeepalived and keepalived -> keepalived, both pairs at once in
  one lab, distinct VRIDs, one capture): v2 at 1 s (one run), v3 at 100 ms and 10 ms (median of 3);
* CPU (utime + stime of every daemon process over a measured window, % of one core) and memory (PSS
  summed over the processes, /proc/PID/smaps_rollup) as master of 1 and 200 instances at 1 s (v2) and
  100 ms (v3), and of 1,000 IPv6 instances (4 interfaces x 250 VRIDs) at 1 s;
* advert send jitter at 100 ms (|interval - 100 ms| between consecutive adverts in a capture taken
  on another host, both implementations in one lab: p50 / p99 / max).
CPU and memory use a lab per implementation (run concurrently): with hundreds of VRIDs each, two
daemons on one LAN would take part in each other's elections.
"""

from __future__ import annotations

import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from lab_measure import cleanup, master_load
from lab_measure import side_row as _row

from pykeepalived.lab import Lab
from pykeepalived.lab.capture import Capture, vrrp_adverts
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import STARTUP, Conf, Inst, measure_takeover, start

Row = dict[str, Any]


def _both(fn: Callable[[str], Any]) -> dict[str, Any]:
    """Run fn("py") and fn("ka") concurrently (separate labs); return {impl: result or exception}."""
    out: dict[str, Any] = {}

    def run(impl: str) -> None:
        try:
            out[impl] = fn(impl)
        except Exception as exc:  # reported in the row
            out[impl] = exc

    ts = [threading.Thread(target=run, args=(i,)) for i in ("py", "ka")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def _num(v: Any) -> float | None:
    return None if isinstance(v, Exception) else float(v)


# ---------------------------------------------------------------------------------------- takeover
def _same_lab(fn: Callable[[Lab, list[Node], str, int], Any], hosts: list[str]) -> dict[str, Any]:
    """One lab, two pairs measured at once: pykeepalived on n1/n2 (VRID 51), keepalived on n3/n4
    (VRID 52), one observer capturing both; {impl: result or exception}."""
    nodes: list[Node] = []
    try:
        with Lab(hosts=hosts) as lab:
            out: dict[str, Any] = {}

            def run(impl: str, k: int) -> None:
                try:
                    out[impl] = fn(lab, nodes, impl, k)
                except Exception as exc:  # reported in the row
                    out[impl] = exc

            ts = [threading.Thread(target=run, args=a) for a in (("py", 0), ("ka", 1))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return out
    finally:
        cleanup(nodes)


def _median_takeover(results: list[Any]) -> Any:
    ok = sorted((r for r in results if not isinstance(r, Exception)), key=lambda t: t.delay)
    return ok[len(ok) // 2] if ok else results[0]


def takeover_rows() -> list[Row]:
    rows = []
    for version, advert, label in ((2, "1", "v2 1 s"), (3, "0.1", "v3 100 ms"), (3, "0.01", "v3 10 ms")):
        for kind in ("hard", "graceful"):
            def one(lab: Lab, nodes: list[Node], impl: str, k: int, v: int = version, a: str = advert,
                    kd: str = kind) -> Any:
                return measure_takeover(lab, nodes, impl, impl, version=v, advert=a, kind=kd,
                                        hosts=(f"n{2 * k + 1}", f"n{2 * k + 2}"), vrid=51 + k,
                                        vip=f"192.0.2.{100 + k}")

            # the fast cases are cheap: median of 3 runs against one-off scheduling hiccups
            runs = [_same_lab(one, ["n1", "n2", "n3", "n4", "obs"]) for _ in range(1 if version == 2 else 3)]
            res = {impl: _median_takeover([r[impl] for r in runs]) for impl in ("py", "ka")}
            rows.append(_row(f"takeover {kind} {label}: delay / protocol bound", res, "ratio",
                             "bound + 2 ms", lambda t: round(t.ratio, 4)))
            rows.append(_row(f"takeover {kind} {label}: delay", res, "ms", None,
                             lambda t: round(t.delay * 1000, 2)))
    # mixed pairs: the backup's reaction alone, the stopping master being the other implementation
    def mixed(lab: Lab, nodes: list[Node], impl: str, k: int) -> Any:
        master = "ka" if impl == "py" else "py"
        return measure_takeover(lab, nodes, master, impl, version=3, advert="0.1", kind="graceful",
                                hosts=(f"n{2 * k + 1}", f"n{2 * k + 2}"), vrid=51 + k,
                                vip=f"192.0.2.{100 + k}")

    runs = [_same_lab(mixed, ["n1", "n2", "n3", "n4", "obs"]) for _ in range(3)]
    res = {impl: _median_takeover([r[impl] for r in runs]) for impl in ("py", "ka")}
    rows.append(_row("takeover graceful v3 100 ms, backup behind the other implementation's master: "
                     "delay / bound", res, "ratio", "bound + 2 ms", lambda t: round(t.ratio, 4)))
    return rows


# ---------------------------------------------------------------------------------------- CPU / memory
def load(impl: str, count: int, advert: str, window: float = 6.0) -> tuple[float, float]:
    """(CPU % of one core, PSS MB) of a daemon that is master of `count` instances, measured after
    the delayed GARP/NA burst (garp_master_delay, 5 s)."""
    cpu, pss, _ = master_load(impl, count, advert, window, start_slack=4, advert_ratio=False)
    return cpu, pss


def load_rows() -> list[Row]:
    rows = []
    for count, advert, label in ((1, "1", "v2 1 s"), (1, "0.1", "v3 100 ms"), (200, "1", "v2 1 s"),
                                 (200, "0.1", "v3 100 ms"), (1000, "1", "v3 IPv6 1 s")):
        res = _both(lambda impl, c=count, a=advert: load(impl, c, a))  # type: ignore[misc]
        rows.append(_row(f"CPU as master of {count} @ {label}", res, "% core", "<= keepalived",
                         lambda r: round(r[0], 2)))
        rows.append(_row(f"memory (PSS, all processes) as master of {count} @ {label}", res, "MB", None,
                         lambda r: round(r[1], 1)))
    return rows


# ---------------------------------------------------------------------------------------- jitter
def jitter(seconds: float = 10.0) -> dict[str, Any]:
    """Both implementations master of one v3 100 ms instance in one lab (n1: pykeepalived VRID 51,
    n2: keepalived VRID 52), one capture on the observer: |interval - 100 ms| p50 / p99 / max."""
    nodes: list[Node] = []
    try:
        with Lab(hosts=["n1", "n2", "obs"]) as lab:
            py = start(lab, nodes, "n1", "py", Conf([Inst(vrid=51, prio=200, advert="0.1", version=3)]))
            ka = start(lab, nodes, "n2", "ka", Conf([Inst(vrid=52, prio=200, advert="0.1", version=3,
                                                          vips=("192.0.2.101/24",))]))
            wait_for(lambda: py.has("192.0.2.100") and ka.has("192.0.2.101"), STARTUP)
            time.sleep(0.5)
            cap = Capture(lab["obs"], "ip proto 112")
            try:
                time.sleep(seconds)
                seen = vrrp_adverts(cap.stop())
            finally:
                cap.cleanup()
    finally:
        cleanup(nodes)
    out: dict[str, Any] = {}
    for impl, vrid in (("py", 51), ("ka", 52)):
        ts = [s.t for s in seen if s.vrid == vrid]
        dev = sorted(abs((b - a) - 0.1) * 1000 for a, b in itertools.pairwise(ts))
        if len(dev) < 20:
            out[impl] = RuntimeError(f"only {len(dev) + 1} adverts captured")
            continue
        p99 = dev[min(len(dev) - 1, int(len(dev) * 0.99))]
        out[impl] = (statistics.median(dev), p99, dev[-1], len(dev))
    return out


def jitter_rows() -> list[Row]:
    res = jitter()
    return [
        _row("advert send jitter @ 100 ms: p50", res, "ms", None, lambda r: round(r[0], 3)),
        _row("advert send jitter @ 100 ms: p99", res, "ms", "< 1 ms", lambda r: round(r[1], 3)),
        _row("advert send jitter @ 100 ms: max", res, "ms", None, lambda r: round(r[2], 3)),
    ]


def main() -> list[Row]:
    if os.geteuid() != 0:
        return [{"name": "interop bench", "value": None, "unit": "", "keepalived": None, "goal": None,
                 "note": "not measured: needs root for network namespaces"}]
    t0 = time.monotonic()
    rows = jitter_rows() + load_rows() + takeover_rows()
    rows.append({"name": "bench_interop wall time", "value": round(time.monotonic() - t0, 1), "unit": "s",
                 "keepalived": None, "goal": None})
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
