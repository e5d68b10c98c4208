"""From nginx dying on the master to the client being served by the backup (issue 5's figures).

The seeds' scenario in a namespace lab (pykeepalived.lab.webfarm): two nodes with nginx and a daemon
(priorities 101/100, check `curl http://127.0.0.1/` with weight -5, PASS auth), a client asking
http://VIP/ every 20 ms. Each run kills nginx on the master (at a random phase of the check and
advert timers), measures until the first answer from the backup, then restarts nginx and waits
for the failback. Same lab, same configuration, same runs for pykeepalived and keepalived 2.2.7.
"""

from __future__ import annotations

import os
import random
import statistics
import time

from pykeepalived.lab import Lab
from pykeepalived.lab.webfarm import (
    Daemon,
    Nginx,
    Prober,
    kill_netns_processes,
    lab_namespaces,
    nginx_ha_config,
)

VIP = "192.0.2.100"
CHECK = "/usr/bin/curl -s -f -o /dev/null -m 1 http://127.0.0.1/"
CASES = (  # label, interval, advert, fall, runs
    ("interval 2 / advert 2", 2.0, 2.0, 1, 4),
    ("interval 1 / advert 1 / fall 1", 1.0, 1.0, 1, 5),
)


def measure(
    impl: str, interval: float, advert: float, fall: int, runs: int, rng: random.Random
) -> list[float]:
    """Failover times (s) over `runs` kills of nginx on the master."""
    with Lab(hosts=["n1", "n2", "client"], ipv6=False) as lab:
        daemons: list[Daemon] = []
        prober: Prober | None = None
        try:
            nginx = {n: Nginx(lab[n]).start() for n in ("n1", "n2")}
            for name, prio in (("n1", 101), ("n2", 100)):
                conf = nginx_ha_config(priority=prio, check=CHECK, interval=interval, fall=fall,
                                       advert=advert, router_id=f"bench_{name}")
                daemons.append(Daemon(lab[name], conf, impl=impl).start())
                if name == "n1":
                    t = time.monotonic()
                    while f" {VIP}/" not in lab["n1"].ip("-4", "-o", "addr"):
                        if time.monotonic() - t > 30:
                            raise RuntimeError(f"{impl}: n1 never became master")
                        time.sleep(0.05)
            prober = Prober(lab["client"], VIP, period=0.02, timeout=0.2).start()
            prober.wait_served_by("n1", time.monotonic(), 10)
            out = []
            for _ in range(runs):
                time.sleep(1 + rng.uniform(0, 2 * max(interval, advert)))  # random timer phase
                t0 = time.monotonic()
                nginx["n1"].kill()
                out.append(prober.wait_served_by("n2", t0, 30) - t0)
                t1 = time.monotonic()
                nginx["n1"].start()
                prober.wait_served_by("n1", t1, 30)
            return out
        finally:
            if prober is not None:
                prober.stop()
            for d in daemons:
                d.kill()
            kill_netns_processes(lab_namespaces(lab))


def main() -> list[dict[str, object]]:
    if os.geteuid() != 0:
        return []
    rows: list[dict[str, object]] = []
    for label, interval, advert, fall, runs in CASES:
        res = {impl: measure(impl, interval, advert, fall, runs, random.Random(7)) for impl in ("py", "ka")}
        py, ka = res["py"], res["ka"]
        print(f"    {label}: pykeepalived {[round(x, 2) for x in py]}  "
              f"keepalived {[round(x, 2) for x in ka]}")
        rows.append({"name": f"nginx dies -> client served by backup, {label} (mean of {runs})",
                     "value": round(statistics.mean(py), 3), "unit": "s",
                     "keepalived": round(statistics.mean(ka), 3), "goal": "no slower than keepalived"})
        rows.append({"name": f"nginx dies -> client served by backup, {label} (worst)",
                     "value": round(max(py), 3), "unit": "s", "keepalived": round(max(ka), 3),
                     "goal": "no slower than keepalived"})
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
