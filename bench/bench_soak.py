"""Soak: three-node VRRP clusters under random faults, pykeepalived beside keepalived 2.2.7 (issue 6).

Three clusters run at once, each in its own lab (3 hosts on one LAN, one VRRPv3 instance, VRID 51,
VIP 192.0.2.100, base priorities 100/110/120 plus a `track_file` value x weight 1, preempt on):
pykeepalived x3, keepalived x3 and a mixed one (pykeepalived, keepalived, pykeepalived). Each cluster
gets the same fault schedule from its own `random.Random(seed)` (seed printed; PYKA_SOAK_SEED to
replay): every 0.5-4 s a node that is not already faulted gets one of

* kill: SIGKILL of the VRRP child and the parent, the node's addresses flushed (a crash: a power-cut
  machine does not keep answering ARP for the VIP), restarted 1-6 s later;
* stop: SIGTERM (priority-0 advert), restarted 1-6 s later;
* unplug: the host's bridge port down (carrier loss -> FAULT state), up again 1-6 s later;
* drop: an nftables bridge rule in the switch drops every frame to/from the host's port (carrier
  stays up: the node is partitioned and becomes master of its own island), removed 1-6 s later;
* priority: a new value (-40..40) written into the node's track_file (immediate, no heal),
with at most two nodes faulted at once.

Which nodes hold the VIP is followed exactly (not sampled): a netlink socket per namespace subscribed
to RTMGRP_IPV4_IFADDR timestamps every RTM_NEWADDR / RTM_DELADDR of the VIP. With the fault
timeline this gives, over the soak:
* two-master moments: >= 2 running, connected (not unplugged/dropped) nodes hold the VIP;
* no-VIP moments: no running connected node holds it while a healthy node (running, reached a VRRP
  state since its start, connected) exists;
each counted when it lasts beyond the protocol bound, Master_Down_Interval of the lowest possible
priority (RFC 5798 6.1: 3 x advert + skew) + 50 ms of measurement slack. Goal: zero of both.

PYKA_SOAK_SECONDS (default 600), PYKA_SOAK_ADVERT (default 0.1), PYKA_SOAK_CLUSTERS (default
"py,ka,mixed"). A JSON report of every fault and every moment beyond the bound goes to
bench/results/soak-<cluster>.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pykeepalived.lab import Lab, LabError
from pykeepalived.lab.node import Node

ROOT = Path(__file__).resolve().parent.parent

VIP = "192.0.2.100"
BASE_PRIO = (100, 110, 120)
TRACK_RANGE = 40
SLACK = 0.05
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_LOCAL = 2
STATE_WORDS = ("Entering BACKUP STATE", "Entering MASTER STATE", "Entering FAULT STATE")
Row = dict[str, Any]


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# ------------------------------------------------------------------------------ netlink VIP watch
def _nl_socket() -> socket.socket:
    """An rtnetlink socket subscribed to IPv4 address events (call inside the namespace)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((0, RTMGRP_IPV4_IFADDR))
    return s


def _addr_events(buf: bytes) -> list[tuple[int, str]]:
    """(RTM_NEWADDR | RTM_DELADDR, IPv4 address) for each ifaddrmsg in a netlink datagram."""
    out, off = [], 0
    while off + 16 <= len(buf):
        ln, typ = struct.unpack_from("=IH", buf, off)
        if ln < 16:
            break
        if typ in (RTM_NEWADDR, RTM_DELADDR):
            body = buf[off + 16 : off + ln]
            if len(body) >= 8 and body[0] == socket.AF_INET:
                a = 8
                while a + 4 <= len(body):
                    alen, atype = struct.unpack_from("=HH", body, a)
                    if alen < 4:
                        break
                    if atype == IFA_LOCAL and alen >= 8:
                        out.append((typ, socket.inet_ntoa(body[a + 4 : a + 8])))
                    a += (alen + 3) & ~3
        off += (ln + 3) & ~3
    return out


# ------------------------------------------------------------------------------ one cluster
@dataclass
class Member:
    node: Node
    track: Path
    prio: int
    log_off: int = 0
    ready: bool = False
    faulted: str | None = None


@dataclass
class Cluster:
    name: str
    impls: tuple[str, str, str]
    seed: int
    seconds: float
    advert: float
    events: list[tuple[float, int, str, object]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    t_start: float = 0.0
    t_end: float = 0.0
    error: str | None = None

    def ev(self, i: int, what: str, value: object, t: float | None = None) -> None:
        with self.lock:
            self.events.append((time.monotonic() if t is None else t, i, what, value))

    @property
    def bound(self) -> float:
        lowest = min(BASE_PRIO) - TRACK_RANGE
        return 3 * self.advert + (256 - lowest) / 256 * self.advert + SLACK

    def conf(self, i: int, track: Path) -> str:
        return f"""global_defs {{
    router_id soak{i}
}}
track_file prio {{
    file {track}
    weight 1
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {BASE_PRIO[i]}
    advert_int {self.advert:g}
    version 3
    track_file {{
        prio
    }}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"""


def _run_cluster(c: Cluster) -> None:
    try:
        _run_cluster_body(c)
    except Exception as exc:  # reported in the rows
        c.error = c.error or repr(exc)


def _run_cluster_body(c: Cluster) -> None:
    rng = random.Random(c.seed)
    members: list[Member] = []
    stop_watch = threading.Event()
    with Lab(hosts=["n1", "n2", "n3"]) as lab:
        hosts = [lab[f"n{k}"] for k in (1, 2, 3)]
        socks = [h.call(_nl_socket) for h in hosts]
        lab_sw = lab.switch_ns
        _nft(lab_sw, "add table bridge soak\nadd set bridge soak cut { type ifname; }\n"
                     "add chain bridge soak cutter { type filter hook forward priority 0; }\n"
                     "add rule bridge soak cutter iifname @cut drop\n"
                     "add rule bridge soak cutter oifname @cut drop\n")
        watch = threading.Thread(target=_watch, args=(c, socks, stop_watch), daemon=True)
        watch.start()
        try:
            for i, (h, impl) in enumerate(zip(hosts, c.impls, strict=True)):
                n = Node(h, "", impl=impl)
                track = n.dir / "prio"
                track.write_text("0\n")
                n.conf.write_text(c.conf(i, track))
                members.append(Member(n, track, BASE_PRIO[i]))
            for i, m in enumerate(members):
                _start(c, i, m)
            # converge: one holder and every node in a state
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                _poll_ready(c, members)
                if all(m.ready for m in members) and _holders(hosts) == 1:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"{c.name}: cluster did not converge in 60 s")
            time.sleep(2 * c.bound)
            c.t_start = time.monotonic()
            t_stop = c.t_start + c.seconds
            heals: list[tuple[float, int]] = []
            next_fault = c.t_start + rng.uniform(0.5, 4.0)
            while True:
                now = time.monotonic()
                if now >= t_stop:
                    break
                _poll_ready(c, members)
                for when, i in sorted(heals):
                    if when <= now:
                        heals.remove((when, i))
                        _heal(c, lab, i, members[i])
                if now >= next_fault:
                    i = rng.randrange(3)
                    kind = rng.choices(("kill", "stop", "unplug", "drop", "priority"), (3, 3, 2, 2, 3))[0]
                    down = rng.uniform(1.0, 6.0)
                    value = rng.randint(-TRACK_RANGE, TRACK_RANGE)
                    busy = sum(m.faulted is not None for m in members)
                    if members[i].faulted is None and (kind == "priority" or busy < 2):
                        _inject(c, lab, i, members[i], kind, value)
                        if kind != "priority":
                            heals.append((time.monotonic() + down, i))
                    next_fault = time.monotonic() + rng.uniform(0.5, 4.0)
                time.sleep(0.05)
            c.t_end = time.monotonic()
        except Exception as exc:
            c.error = repr(exc)
            c.t_end = c.t_end or time.monotonic()
        finally:
            stop_watch.set()
            watch.join(5)
            for m in members:
                with contextlib.suppress(Exception):
                    m.node.kill()
            for s in socks:
                s.close()


def _nft(ns: str, script: str) -> None:
    import subprocess

    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script,
                   text=True, check=True, capture_output=True)


def _holders(hosts: list[Any]) -> int:
    return sum(VIP in h.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"]) for h in hosts)


def _watch(c: Cluster, socks: list[socket.socket], stop: threading.Event) -> None:
    index = {s.fileno(): i for i, s in enumerate(socks)}
    while not stop.is_set():
        ready, _, _ = select.select(socks, [], [], 0.2)
        t = time.monotonic()
        for s in ready:
            try:
                buf = s.recv(1 << 16)
            except OSError as exc:  # ENOBUFS: events lost - say so in the report
                c.ev(index[s.fileno()], "overrun", repr(exc), t)
                continue
            for typ, addr in _addr_events(buf):
                if addr == VIP:
                    c.ev(index[s.fileno()], "vip", typ == RTM_NEWADDR, t)


def _start(c: Cluster, i: int, m: Member) -> None:
    with contextlib.suppress(OSError):
        m.log_off = m.node.log.stat().st_size
    m.ready = False
    m.node.start()
    c.ev(i, "run", True)


def _poll_ready(c: Cluster, members: list[Member]) -> None:
    for i, m in enumerate(members):
        if m.ready or m.node.proc is None:
            continue
        try:
            with open(m.node.log, "rb") as f:
                f.seek(m.log_off)
                text = f.read().decode(errors="replace")
        except OSError:
            continue
        if any(w in text for w in STATE_WORDS):
            m.ready = True
            c.ev(i, "ready", True)


def _inject(c: Cluster, lab: Lab, i: int, m: Member, kind: str, value: int) -> None:
    t = time.monotonic()
    c.faults.append({"t": round(t - c.t_start, 3), "node": i, "fault": kind,
                     **({"value": value} if kind == "priority" else {})})
    host = lab[f"n{i + 1}"]
    if kind == "priority":
        m.track.write_text(f"{value}\n")
        return
    m.faulted = kind
    if kind == "kill":
        c.ev(i, "ready", False)
        c.ev(i, "run", False)
        m.node.kill()
        host.run(["ip", "addr", "flush", "dev", "eth0", "to", f"{VIP}/32"], check=False)
    elif kind == "stop":
        c.ev(i, "ready", False)
        try:
            m.node.stop(15)
        except Exception:
            pass
        m.node.proc = None
        c.ev(i, "run", False)
    elif kind == "unplug":
        c.ev(i, "cut", True)
        lab.set_port(host, lab.lans[0], False)
    elif kind == "drop":
        c.ev(i, "cut", True)
        _nft(lab.switch_ns, f"add element bridge soak cut {{ {host.iface(lab.lans[0]).port} }}")


def _heal(c: Cluster, lab: Lab, i: int, m: Member) -> None:
    host = lab[f"n{i + 1}"]
    kind, m.faulted = m.faulted, None
    c.faults.append({"t": round(time.monotonic() - c.t_start, 3), "node": i, "heal": kind})
    try:
        if kind in ("kill", "stop"):
            _start(c, i, m)
        elif kind == "unplug":
            lab.set_port(host, lab.lans[0], True)
            c.ev(i, "cut", False)
        elif kind == "drop":
            _nft(lab.switch_ns, f"delete element bridge soak cut {{ {host.iface(lab.lans[0]).port} }}")
            c.ev(i, "cut", False)
    except LabError as exc:
        c.faults.append({"error": repr(exc)})


# ------------------------------------------------------------------------------ evaluation
def evaluate(c: Cluster) -> dict[str, Any]:
    """Walk the event timeline: durations of two-master moments and of no-VIP-while-healthy moments
    within [t_start, t_end]."""
    vip, run, ready, cut = [False] * 3, [False] * 3, [False] * 3, [False] * 3
    two: list[tuple[float, float]] = []
    none: list[tuple[float, float]] = []
    a0: float | None = None
    b0: float | None = None
    overruns = 0
    with c.lock:
        events = sorted(c.events, key=lambda e: e[0])
    k = 0
    while k < len(events):
        t = events[k][0]
        while k < len(events) and events[k][0] == t:
            _, i, what, value = events[k]
            if what == "vip":
                vip[i] = bool(value)
            elif what == "run":
                run[i] = bool(value)
            elif what == "ready":
                ready[i] = bool(value)
            elif what == "cut":
                cut[i] = bool(value)
            elif what == "overrun" and c.t_start <= t <= c.t_end:
                overruns += 1
            k += 1
        holders = sum(vip[i] and run[i] and not cut[i] for i in range(3))
        healthy = any(run[i] and ready[i] and not cut[i] for i in range(3))
        a_now = holders >= 2
        b_now = holders == 0 and healthy
        if a_now and a0 is None:
            a0 = t
        elif not a_now and a0 is not None:
            two.append((a0, t))
            a0 = None
        if b_now and b0 is None:
            b0 = t
        elif not b_now and b0 is not None:
            none.append((b0, t))
            b0 = None
    for open_, lst in ((a0, two), (b0, none)):
        if open_ is not None:
            lst.append((open_, c.t_end))

    def clip(segs: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out = []
        for s, e in segs:
            s, e = max(s, c.t_start), min(e, c.t_end)
            if e > s:
                out.append((round(s - c.t_start, 3), round(e - s, 4)))
        return out

    two_c, none_c = clip(two), clip(none)

    def context(segs: list[tuple[float, float]]) -> list[dict[str, Any]]:
        """The timeline around each moment beyond the bound, for diagnosis."""
        out = []
        for s, d in segs:
            lo, hi = c.t_start + s - 3.0, c.t_start + s + d + 0.5
            out.append({"start": s, "duration": d, "events": [
                (round(t - c.t_start, 3), i, what, value) for t, i, what, value in events if lo <= t <= hi]})
        return out

    beyond_two = [x for x in two_c if x[1] > c.bound]
    beyond_none = [x for x in none_c if x[1] > c.bound]
    return {
        "context": context(beyond_two + beyond_none),
        "bound": c.bound,
        "two_masters": beyond_two,
        "no_vip": beyond_none,
        "two_max": max((d for _, d in two_c), default=0.0),
        "none_max": max((d for _, d in none_c), default=0.0),
        "two_all": len(two_c), "none_all": len(none_c),
        "faults": sum("fault" in f for f in c.faults),
        "overruns": overruns,
    }


# ------------------------------------------------------------------------------ bench entry
def soak(seconds: float, advert: float, seed: int, names: list[str]) -> dict[str, Cluster]:
    impls = {"py": ("py", "py", "py"), "ka": ("ka", "ka", "ka"), "mixed": ("py", "ka", "py")}
    clusters = {n: Cluster(n, impls[n], seed, seconds, advert) for n in names if n in impls}
    ts = [threading.Thread(target=_run_cluster, args=(c,)) for c in clusters.values()]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return clusters


def main() -> list[Row]:
    if os.geteuid() != 0:
        return [{"name": "soak", "value": None, "unit": "", "keepalived": None, "goal": None,
                 "note": "not measured: needs root for network namespaces"}]
    seconds = _env_float("PYKA_SOAK_SECONDS", 600.0)
    advert = _env_float("PYKA_SOAK_ADVERT", 0.1)
    seed = int(os.environ.get("PYKA_SOAK_SEED") or time.time_ns() % 1_000_000_007)
    names = os.environ.get("PYKA_SOAK_CLUSTERS", "py,ka,mixed").split(",")
    print(f"  soak: fault schedule seed {seed} (PYKA_SOAK_SEED={seed} replays it), {seconds:g} s, "
          f"advert {advert:g} s, clusters {','.join(names)}", flush=True)
    clusters = soak(seconds, advert, seed, names)
    res: dict[str, dict[str, Any] | Exception] = {}
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    for name, c in clusters.items():
        if c.error or not c.t_start:
            res[name] = RuntimeError(c.error or "did not run")
            continue
        r = evaluate(c)
        res[name] = r
        (out_dir / f"soak-{name}.json").write_text(json.dumps(
            {"seed": seed, "seconds": c.t_end - c.t_start, "advert": advert, "impls": c.impls, **r,
             "schedule": c.faults}, indent=1))

    def val(name: str, key: str, f: Any = None) -> Any:
        r = res.get(name)
        if not isinstance(r, dict):
            return None
        v = r[key]
        return f(v) if f else v

    def row(label: str, key: str, unit: str, goal: str | None, f: Any = None) -> list[Row]:
        out: list[Row] = [{"name": f"soak {label}", "value": val("py", key, f), "unit": unit,
                           "keepalived": val("ka", key, f), "goal": goal}]
        if "mixed" in res:
            out.append({"name": f"soak {label} (mixed py/ka/py cluster)", "value": val("mixed", key, f),
                        "unit": unit, "keepalived": None, "goal": goal})
        notes = [f"{n}: {r!r}" for n, r in res.items() if isinstance(r, Exception)]
        for o in out:
            o["seed"] = seed
            if notes:
                o["note"] = "not measured - " + "; ".join(notes)
        return out

    bound = 3 * advert + (256 - min(BASE_PRIO) + TRACK_RANGE) / 256 * advert + SLACK
    rows = []
    rows += row(f"{seconds:g} s, seed {seed}: faults injected", "faults", "faults", None)
    rows += row(f"two-master moments beyond bound ({bound * 1000:.0f} ms)", "two_masters", "moments", "0",
                len)
    rows += row(f"no-VIP-while-healthy moments beyond bound ({bound * 1000:.0f} ms)", "no_vip", "moments",
                "0", len)
    rows += row("longest two-master moment", "two_max", "ms", None, lambda v: round(v * 1000, 1))
    rows += row("longest no-VIP-while-healthy moment", "none_max", "ms", None, lambda v: round(v * 1000, 1))
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
