"""Measuring helpers shared by the lab benches (bench_interop.py, bench_jitter.py).

# Theory of operation
A daemon under test runs in a namespace lab (src/pykeepalived/lab/node.py Node); its processes are found from
the pid files it writes, and measured from /proc: CPU as utime + stime ticks (/proc/PID/stat) over a
window, memory as PSS summed over the processes (/proc/PID/smaps_rollup). `master_load` makes one
daemon master of N instances built by `instances` and measures it after the delayed GARP/NA burst.
`side_row` makes a bench row of both implementations' results.
Not a bench itself (bench/run.py only runs bench_*.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import STARTUP, Conf, Inst, start

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cleanup(nodes: list[Node]) -> None:
    """Kill every node, whatever state it is in."""
    for n in nodes:
        try:
            n.kill()
        except Exception:
            pass


def pids(n: Node) -> list[int]:
    """The daemon's processes: parent, VRRP and checker children, and any other child of the parent."""
    out = []
    for f in ("parent.pid", "vrrp.pid", "check.pid"):
        try:
            out.append(int((n.dir / f).read_text()))
        except (OSError, ValueError):
            pass
    # plus any other child of the parent (e.g. pykeepalived's helpers)
    if out:
        try:
            kids = Path(f"/proc/{out[0]}/task/{out[0]}/children").read_text().split()
            out += [int(k) for k in kids if int(k) not in out]
        except OSError:
            pass
    return out


def cpu_ticks(pid_list: list[int]) -> int:
    """utime + stime of the processes, in clock ticks (CLK_TCK per second)."""
    total = 0
    for p in pid_list:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def pss_kb(pid_list: list[int]) -> int:
    """Proportional set size of the processes, summed, in kB."""
    total = 0
    for p in pid_list:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def instances(count: int, advert: str) -> tuple[list[Inst], int]:
    """`count` instances; up to 254 IPv4 ones on eth0, beyond that IPv6 ones on several interfaces
    (250 VRIDs each, VIPs from 2001:db8::/32). Returns the instances and the interfaces needed."""
    v3 = advert != "1"
    if count <= 254:
        return [Inst(name=f"VI_{k}", vrid=k, prio=200, advert=advert, version=3 if v3 else None,
                     vips=(f"203.0.113.{k}/32",)) for k in range(1, count + 1)], 1
    ifaces = (count + 249) // 250
    insts = [Inst(name=f"VI_{k}", vrid=k % 250 + 1, prio=200, advert=advert, version=3,
                  iface=f"eth{k // 250}", vips=(f"2001:db8:a{k // 250}::{k % 250 + 1:x}/128",))
             for k in range(count)]
    return insts, ifaces


def master_load(impl: str, count: int, advert: str, window: float, start_slack: float,
                advert_ratio: bool) -> tuple[float, float, float | None]:
    """(CPU % of one core, PSS MB, adverts sent / adverts due or None) of a daemon (`impl` "py" or
    "ka") that is master of `count` instances, measured over `window` seconds after the delayed
    GARP/NA burst (garp_master_delay, 5 s). It must reach MASTER within STARTUP + `start_slack` +
    50 ms per instance. With `advert_ratio` the sent adverts are read from SIGUSR2 stats before and
    after the window (the dumps fall inside it: a little CPU, no adverts lost)."""
    insts, ifaces = instances(count, advert)
    nodes: list[Node] = []
    try:
        with Lab(hosts=["n1"]) as lab:
            for k in range(1, ifaces):
                extra = ("192.0.2.0/24" if k >= 3 else None)
                lab.attach(lab["n1"], lab.add_lan(ipv4=extra, ipv6=f"2001:db8:{k + 10}::/64"))
            n = start(lab, nodes, "n1", impl, Conf(insts))
            wait_for(lambda: n.logs().count("Entering MASTER STATE") >= count,
                     STARTUP + start_slack + count * 0.05, step=0.25)
            time.sleep(6.0)
            procs = pids(n)
            s0 = sum(v.get("advert_sent", 0) for v in n.stats(10).values()) if advert_ratio else 0
            c0, t0 = cpu_ticks(procs), time.monotonic()
            time.sleep(window)
            c1, t1 = cpu_ticks(procs), time.monotonic()
            s1 = sum(v.get("advert_sent", 0) for v in n.stats(10).values()) if advert_ratio else 0
            pss = pss_kb(procs)
            ratio = (s1 - s0) / (count * (t1 - t0) / float(advert)) if advert_ratio else None
            return (c1 - c0) / CLK_TCK / (t1 - t0) * 100, pss / 1024, ratio
    finally:
        cleanup(nodes)


def side_row(name: str, res: dict[str, Any], unit: str, goal: str | None,
             key: Callable[[Any], float]) -> dict[str, Any]:
    """A bench row from {"py": result, "ka": result} (a result may be the exception that stopped it,
    then noted in the row); `key` takes the figure out of a result."""
    py, ka = res["py"], res["ka"]
    row: dict[str, Any] = {
        "name": name,
        "value": None if isinstance(py, Exception) else key(py),
        "unit": unit,
        "keepalived": None if isinstance(ka, Exception) else key(ka),
        "goal": goal,
    }
    errs = [f"{i}: {r!r}" for i, r in res.items() if isinstance(r, Exception)]
    if errs:
        row["note"] = "not measured - " + "; ".join(errs)
    return row
