"""bgp_announce across a routed fabric (issue 19, docs/bgp.md), measured as the client sees it.

Lab: src/pykeepalived/lab/bgp_fabric.py (a router with FRR bgpd, ECMP and BFD at 100 ms x 3; nodes with
their own FRR; nginx on the nodes answering their name; a client behind the router). A prober in the client's
namespace opens a new TCP connection every 10 ms (200 ms timeout) and records who answered.

* failover, master mode with backup_anchor (the backup already announces, with a worse MED and a
  prepended AS path): time from the master's death to the client's first answer from the backup,
  for a kill -9 of the master's daemon and for a cut of its link (bridge port down), VRRP at
  advert_int 1 (its own failover takes ~3.6 s);
* the same two events with VRRP alone on the shared segment (the VIP in the router's LAN, moved by
  VRRP and gratuitous ARP), pykeepalived and keepalived 2.2.7, same timers;
* anycast, three nodes: the spread of 300 new connections over the nodes (smallest share / largest
  share), the time from a node's tracker failing (track_file written) to the last new connection it
  receives (0: none after), the client's failed connections meanwhile (flows hashed to the node
  between the address leaving its anchor and the router's route update), and from a kill -9 of one
  node's daemon to the client's last failed connection.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab_measure import cleanup

from pykeepalived.lab import start_in_netns
from pykeepalived.lab.bgp_fabric import VIP4, Fabric, fabric, web, why_not
from pykeepalived.lab.node import Node, wait_for

Row = dict[str, Any]
SEGMENT_VIP = "198.51.100.100"


def ask(vip: str, timeout: float = 0.2) -> str:
    """One new connection to http://vip/: the answering node's name, "" on failure."""
    try:
        with socket.create_connection((vip, 80), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        return data.split(b"\r\n\r\n", 1)[-1].strip().decode()
    except OSError:
        return ""


class Prober:
    """New connections every `interval` from the client's namespace, (monotonic time, answer)."""

    def __init__(self, f: Fabric, vip: str, interval: float = 0.01) -> None:
        self.stop = threading.Event()
        self.seen: list[tuple[float, str]] = []
        self.fut = start_in_netns(f.client.ns, self._loop, vip, interval)

    def _loop(self, vip: str, interval: float) -> None:
        while not self.stop.is_set():
            t = time.monotonic()
            self.seen.append((t, ask(vip)))
            time.sleep(interval)

    def close(self) -> list[tuple[float, str]]:
        self.stop.set()
        self.fut.result(10)
        return self.seen


def conf(prio: int, *, bgp: bool, extra: str = "", track: str = "", mode: str = "master") -> str:
    if bgp:
        vips = "no_virtual_ipaddress"
        block = (f"bgp_announce {{\n        mode {mode}\n        backup_anchor pka-bgpb\n"
                 f"        addresses {{\n            {VIP4}\n        }}\n    }}")
    else:
        vips, block = f"virtual_ipaddress {{\n        {SEGMENT_VIP}/24\n    }}", ""
    return f"""
{extra}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 19
    advert_int 1
    priority {prio}
    {vips}
    {track}
    {block}
}}
"""


def failover(event: str, *, bgp: bool, impl: str = "py") -> float:
    """Seconds from the master's death (`kill` or `cut`) to the client's first answer from n2."""
    vip = VIP4 if bgp else SEGMENT_VIP
    with fabric(2, prefix=f"p19b{impl[0]}") as f, web(f.nodes, Path(tempfile.mkdtemp(prefix="p19bench-"))):
        nodes = [Node(f.nodes[0], conf(150, bgp=bgp), impl=impl).start(),
                 Node(f.nodes[1], conf(100, bgp=bgp), impl=impl).start()]
        try:
            def ready() -> bool:
                if bgp and "Paths: (2 available" not in f.bgp("r", f"show bgp ipv4 unicast {VIP4}/32"):
                    return False
                return f.fetch(vip) == "n1"
            wait_for(ready, 60, 0.1)
            time.sleep(1.5)  # the master's GARP burst over
            p = Prober(f, vip)
            time.sleep(0.3)
            t0 = time.monotonic()
            if event == "kill":
                nodes[0].kill()
            else:
                f.lab.set_port(f.nodes[0], f.nodes[0].ifaces[0].lan, False)
            wait_for(lambda: any(t > t0 and who == "n2" for t, who in p.seen), 30, 0.01)
            seen = p.close()
            return min(t for t, who in seen if t > t0 and who == "n2") - t0
        finally:
            cleanup(nodes)


def anycast() -> dict[str, float]:
    d = Path(tempfile.mkdtemp(prefix="p19bench-"))
    with fabric(3, prefix="p19ba") as f, web(f.nodes, d):
        nodes = []
        for h in f.nodes:
            (d / f"{h.name}.health").write_text("0\n")
            extra = f"vrrp_track_file health {{\n    file {d / h.name}.health\n    weight 0\n}}"
            nodes.append(Node(h, conf(100, bgp=True, extra=extra, mode="anycast",
                                      track="track_file {\n        health\n    }")).start())
        try:
            wait_for(lambda: f.serving() == {"n1", "n2", "n3"}, 60, 0.1)
            spread = Counter(f.client.call(lambda: [ask(VIP4, 1) for _ in range(300)]))
            shares = [spread[n] / 300 for n in ("n1", "n2", "n3")]
            p = Prober(f, VIP4)
            time.sleep(0.5)
            t0 = time.monotonic()
            (d / "n2.health").write_text("1\n")
            wait_for(lambda: f.serving() == {"n1", "n3"}, 30, 0.01)
            time.sleep(1)
            t1 = time.monotonic()
            nodes[2].kill()  # n3's daemon dies: its anchor goes with it
            wait_for(lambda: f.serving() == {"n1"}, 30, 0.01)
            time.sleep(1)
            seen = p.close()
            last_n2 = max((t for t, who in seen if who == "n2"), default=t0)
            failed = [t for t, who in seen if t > t1 and who == ""]
            # 0: no new connection reached the node after its tracker failed (prober: every 10 ms)
            return {"min": min(shares), "max": max(shares), "fail": max(0.0, last_n2 - t0),
                    "kill": (max(failed) - t1) if failed else 0.0,
                    "errors": float(sum(1 for t, who in seen if t0 < t < t1 and who == ""))}
        finally:
            cleanup(nodes)


def _row(name: str, fn: Callable[[], float], unit: str = "s", goal: str | None = None,
         ka: Callable[[], float] | None = None) -> Row:
    row: Row = {"name": name, "unit": unit, "goal": goal}
    try:
        row["value"] = round(fn(), 3)
    except Exception as exc:
        row["value"], row["note"] = None, repr(exc)
    if ka is not None:
        try:
            row["keepalived"] = round(ka(), 3)
        except Exception as exc:
            row["note"] = f"{row.get('note', '')} keepalived: {exc!r}".strip()
    return row


def main() -> list[Row]:
    why = why_not()
    if why is not None:
        return [{"name": "bgp: skipped", "value": None, "unit": "", "note": why}]
    rows = [
        _row("bgp failover, master kill -9 -> client on backup", lambda: failover("kill", bgp=True),
             goal="< 0.5"),
        _row("bgp failover, master link cut -> client on backup (BFD)", lambda: failover("cut", bgp=True),
             goal="< 1"),
        _row("vrrp segment failover, master kill -9 -> client on backup",
             lambda: failover("kill", bgp=False), ka=lambda: failover("kill", bgp=False, impl="ka")),
        _row("vrrp segment failover, master link cut -> client on backup",
             lambda: failover("cut", bgp=False), ka=lambda: failover("cut", bgp=False, impl="ka")),
    ]
    try:
        a = anycast()
        rows += [
            {"name": "bgp anycast spread, smallest share of 3 nodes", "value": round(a["min"], 3), "unit": "",
             "goal": "~0.33"},
            {"name": "bgp anycast spread, largest share of 3 nodes", "value": round(a["max"], 3), "unit": "",
             "goal": "~0.33"},
            {"name": "bgp anycast tracker fails -> last new conn to node", "value": round(a["fail"], 3),
             "unit": "s", "goal": "< 0.5"},
            {"name": "bgp anycast failed conns while a node withdrew", "value": a["errors"], "unit": "conn",
             "goal": "0"},
            {"name": "bgp anycast kill -9 -> last failed new conn", "value": round(a["kill"], 3), "unit": "s",
             "goal": "< 0.5"},
        ]
    except Exception as exc:
        rows.append({"name": "bgp anycast", "value": None, "unit": "", "note": repr(exc)})
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
