"""Advert send jitter idle and under health-check load, and CPU / memory at high advert rates (issue 6, 7).

* Jitter: pykeepalived (n1, VRID 51) and keepalived 2.2.7 (n2, VRID 52) masters of one VRRPv3
  instance in one lab, an observer (obs) capturing with tcpdump; |interval - advert_int| between
  consecutive adverts of each daemon: p50 / p99 / max, at 100 ms (20 s capture) and 10 ms (10 s).
  Each advert interval is measured idle, then "loaded": the same daemon also runs a virtual_server
  with 100 real servers x TCP_CHECK at delay_loop 0.1 s (about 1,000 checks/s) against 100
  listeners on another lab host (rs, 192.0.2.4:10001-10100), with pykeepalived's nftables data
  plane. The listeners count the accepted connections, so the check rate actually achieved is
  reported too. keepalived 2.2.7's checker child needs IPVS, which this kernel lacks: the loaded
  keepalived run is attempted and, when its log says IPVS could not be initialised, the row says so
  instead of a number.
* CPU (utime + stime of every daemon process, % of one core) and PSS (all processes) as master of 200
  VRRPv3 IPv4 instances at 10 ms and of 1,000 VRRPv3 IPv6 instances (4 interfaces x 250) at 100 ms,
  pykeepalived then keepalived (one after the other: each may need a whole core), with the advert rate
  actually sent (SIGUSR2 stats, sent adverts over the window) against the configured rate.
Measures with bench/lab_measure.py (instance builder, /proc readers), shared with bench_interop.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from lab_measure import cleanup, master_load

from pykeepalived.lab import Lab
from pykeepalived.lab.capture import Capture, vrrp_adverts
from pykeepalived.lab.node import Node
from pykeepalived.lab.peers import STARTUP, Conf, Inst, start

Row = dict[str, Any]
N_RS = 100
PORT0 = 10001
DELAY_LOOP = 0.1
CAPTURE_S = 10.0
VRIDS = {"py": 51, "ka": 52}
VIPS = {"py": "192.0.2.100", "ka": "192.0.2.101"}

LISTENERS = r"""
import selectors, socket, sys, time
addr, port0, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sel = selectors.DefaultSelector()
for p in range(port0, port0 + n):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, p)); s.listen(1024); s.setblocking(False); sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
count, last = 0, time.monotonic()
while True:
    for key, _ in sel.select(0.2):
        try:
            while True:
                c, _ = key.fileobj.accept(); c.close(); count += 1
        except BlockingIOError:
            pass
    now = time.monotonic()
    if now - last >= 1.0:
        print(f"{now:.3f} {count}", flush=True); last = now
"""


def _vs_block(rs_addr: str) -> str:
    rss = "".join(
        f"    real_server {rs_addr} {p} {{\n        TCP_CHECK {{\n            connect_timeout 1\n"
        f"        }}\n    }}\n" for p in range(PORT0, PORT0 + N_RS))
    return (f"virtual_server 203.0.113.10 80 {{\n    delay_loop {DELAY_LOOP:g}\n    lb_algo rr\n"
            f"    lb_kind NAT\n    protocol TCP\n{rss}}}\n")


def _conf(impl: str, advert: str, rs_addr: str | None) -> str:
    g = ("lvs_dataplane nftables",) if impl == "py" and rs_addr else ()
    text = Conf([Inst(vrid=VRIDS[impl], prio=200, advert=advert, version=3, vips=(f"{VIPS[impl]}/24",))],
                globals_=g, router_id=f"jitter_{impl}").render()
    return text + (_vs_block(rs_addr) if rs_addr else "")


def _stats(dev: list[float]) -> tuple[float, float, float, int]:
    dev = sorted(dev)
    return statistics.median(dev), dev[min(len(dev) - 1, int(len(dev) * 0.99))], dev[-1], len(dev)


def jitter_phase(lab: Lab, advert: str, loaded: bool) -> tuple[dict[str, Any], float | None]:
    """Both daemons in `lab`; returns ({impl: (p50, p99, max, n) ms | Exception}, checks/s or None)."""
    nodes: list[Node] = []
    out: dict[str, Any] = {}
    listener = None
    rate: float | None = None
    rs = lab["rs"]
    try:
        if loaded:
            listener = rs.popen([sys.executable, "-c", LISTENERS, str(rs.ipv4), str(PORT0), str(N_RS)],
                                stdout=subprocess.PIPE, text=True)
            assert listener.stdout is not None
            if listener.stdout.readline().strip() != "ready":
                raise RuntimeError("listeners did not start")
            os.set_blocking(listener.stdout.fileno(), False)
        rs_addr = str(rs.ipv4) if loaded else None
        daemons = {impl: start(lab, nodes, host, impl, _conf(impl, advert, rs_addr))
                   for impl, host in (("py", "n1"), ("ka", "n2"))}
        deadline = time.monotonic() + STARTUP + 5
        while time.monotonic() < deadline:
            done = all(d.has(VIPS[i]) or (d.proc is not None and d.proc.poll() is not None)
                       for i, d in daemons.items())
            if done:
                break
            time.sleep(0.1)
        time.sleep(2.0)  # past the checkers' warmup spread
        live = {}
        for impl, d in daemons.items():
            logs = d.logs()
            if not d.has(VIPS[impl]):
                if "Can't initialize ipvs" in logs:
                    out[impl] = RuntimeError("keepalived 2.2.7's checker child needs IPVS, absent from this "
                                             "kernel ('IPVS: Can't initialize ipvs'; keepalived terminates)")
                else:
                    out[impl] = RuntimeError(f"{impl} never became master: {logs[-300:]!r}")
            else:
                live[impl] = d
        if listener is not None and listener.stdout is not None:
            listener.stdout.read()  # drop the counts so far
        cap = Capture(lab["obs"], "ip proto 112")
        try:
            time.sleep(CAPTURE_S * (2 if advert == "0.1" else 1))  # >= 200 intervals for a p99
            seen = vrrp_adverts(cap.stop())
        finally:
            cap.cleanup()
        if listener is not None and listener.stdout is not None:
            pts = [tuple(map(float, ln.split())) for ln in (listener.stdout.read() or "").splitlines() if ln]
            if len(pts) >= 2:
                rate = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
        adv = float(advert)
        for impl in live:
            ts = [s.t for s in seen if s.vrid == VRIDS[impl] and s.priority > 0]
            dev = [abs((b - a) - adv) * 1000 for a, b in itertools.pairwise(ts)]
            if len(dev) < 20:
                out[impl] = RuntimeError(f"only {len(dev) + 1} adverts captured")
            else:
                out[impl] = _stats(dev)
        for impl, d in daemons.items():
            if impl in live and "Traceback" in d.logs():
                out[impl] = RuntimeError(f"{impl} logged a traceback")
    finally:
        cleanup(nodes)
        if listener is not None:
            listener.kill()
            listener.wait()
    return out, rate


def _row(name: str, res: dict[str, Any], idx: int, goal: str | None) -> Row:
    def v(r: Any) -> float | None:
        return None if isinstance(r, Exception) or r is None else round(r[idx], 3)

    row: Row = {"name": name, "value": v(res.get("py")), "unit": "ms", "keepalived": v(res.get("ka")),
                "goal": goal}
    notes = [f"{i}: {r}" for i, r in res.items() if isinstance(r, Exception)]
    if notes:
        row["note"] = "not measured - " + "; ".join(notes)
    return row


def jitter_rows() -> list[Row]:
    rows: list[Row] = []
    with Lab(hosts=["n1", "n2", "obs", "rs"]) as lab:
        for advert, label in (("0.1", "100 ms"), ("0.01", "10 ms")):
            idle = None
            for loaded in (False, True):
                try:
                    res, rate = jitter_phase(lab, advert, loaded)
                except Exception as exc:
                    res, rate = {"py": exc, "ka": exc}, None
                what = "while the checker runs ~1,000 TCP checks/s" if loaded else "idle"
                goal99 = ("< 1 ms" if advert == "0.1" else None) if not loaded else "unchanged from idle"
                rows.append(_row(f"advert send jitter @ {label}, {what}: p50", res, 0, None))
                rows.append(_row(f"advert send jitter @ {label}, {what}: p99", res, 1, goal99))
                rows.append(_row(f"advert send jitter @ {label}, {what}: max", res, 2, None))
                if loaded:
                    py = res.get("py")
                    if idle is not None and not isinstance(py, Exception) and py and idle[1]:
                        rows.append({"name": f"advert p99 jitter @ {label}: loaded / idle (pykeepalived)",
                                     "value": round(py[1] / idle[1], 2), "unit": "ratio", "keepalived": None,
                                     "goal": "~1"})
                    rate_row: Row = {"name": f"TCP checks/s achieved, {label} loaded run (pykeepalived)",
                                     "value": None if rate is None else round(rate), "unit": "checks/s",
                                     "keepalived": None, "goal": f"~{N_RS / DELAY_LOOP:.0f}"}
                    if rate is None:
                        rate_row["note"] = "not measured - listener counts missing"
                    rows.append(rate_row)
                else:
                    py = res.get("py")
                    idle = None if isinstance(py, Exception) else py
    return rows


# ---------------------------------------------------------------------------------------- CPU / memory
def load(impl: str, count: int, advert: str, window: float = 6.0) -> tuple[float, float, float]:
    """(CPU % of one core, PSS MB, adverts sent / adverts due) of a daemon that is master of `count`
    instances, measured after the delayed GARP/NA burst (garp_master_delay, 5 s)."""
    cpu, pss, ratio = master_load(impl, count, advert, window, start_slack=10, advert_ratio=True)
    assert ratio is not None
    return cpu, pss, ratio


def load_rows() -> list[Row]:
    rows: list[Row] = []
    for count, advert, label in ((200, "0.01", "v3 10 ms"), (1000, "0.1", "v3 IPv6 100 ms")):
        res: dict[str, Any] = {}
        for impl in ("py", "ka"):
            try:
                res[impl] = load(impl, count, advert)
            except Exception as exc:  # reported in the row
                res[impl] = exc

        def mk(name: str, unit: str, goal: str | None, idx: int, nd: int,
               res: dict[str, Any] = res) -> Row:
            py, ka = res["py"], res["ka"]
            row: Row = {"name": name, "value": None if isinstance(py, Exception) else round(py[idx], nd),
                        "unit": unit, "keepalived": None if isinstance(ka, Exception) else round(ka[idx], nd),
                        "goal": goal}
            errs = [f"{i}: {r!r}" for i, r in res.items() if isinstance(r, Exception)]
            if errs:
                row["note"] = "not measured - " + "; ".join(errs)
            return row

        rows.append(mk(f"CPU as master of {count} @ {label}", "% core", "<= keepalived", 0, 2))
        rows.append(mk(f"memory (PSS, all processes) as master of {count} @ {label}", "MB", None, 1, 1))
        rows.append(mk(f"adverts sent / due as master of {count} @ {label}", "ratio", "1", 2, 3))
    return rows


def main() -> list[Row]:
    if os.geteuid() != 0:
        return [{"name": "jitter bench", "value": None, "unit": "", "keepalived": None, "goal": None,
                 "note": "not measured: needs root for network namespaces"}]
    t0 = time.monotonic()
    rows = jitter_rows()
    if os.environ.get("PYKA_JITTER_SKIP_LOAD") != "1":
        rows += load_rows()
    rows.append({"name": "bench_jitter wall time", "value": round(time.monotonic() - t0, 1), "unit": "s",
                 "keepalived": None, "goal": None})
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
