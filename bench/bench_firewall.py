"""Cost of the VRRP firewall (linux/vrrp_nft.py): one `nft -f -` transaction per MASTER transition.

In a scratch namespace: the first claim (checks for an old table, creates the ip and ip6 tables with
keepalived's chains and sets, adds the elements) and then the median of 20 claim/release pairs (element
add or delete only). This latency is paid by a no_accept instance before its VIPs are added. keepalived
talks netlink to nf_tables directly through libnftnl, so it has no process start-up per change.
"""

from __future__ import annotations

import statistics
import time
from ipaddress import ip_address


def main() -> list[dict]:  # type: ignore[type-arg]
    from pykeepalived.lab import Lab
    from pykeepalived.linux.vrrp_nft import FwAddress, VrrpNftables

    with Lab(hosts=["fw"]) as lab:
        host = lab["fw"]

        async def go() -> tuple[float, float]:
            # no netns argument: run nft from a thread inside the namespace, as the daemon runs
            fw = VrrpNftables()
            addrs = [FwAddress(ip_address("192.0.2.100")), FwAddress(ip_address("2001:db8::100"))]
            t0 = time.perf_counter()
            await fw.add_addresses(addrs)
            first = time.perf_counter() - t0
            laps = []
            for _ in range(20):
                t0 = time.perf_counter()
                await fw.remove_addresses(addrs)
                await fw.add_addresses(addrs)
                laps.append((time.perf_counter() - t0) / 2)
            await fw.close()
            return first, statistics.median(laps)

        first, lap = host.run_async(go)
    return [
        {"name": "firewall first claim (create tables)", "value": round(first * 1000, 2), "unit": "ms",
         "keepalived": None, "goal": None},
        {"name": "firewall claim/release (one transaction)", "value": round(lap * 1000, 2), "unit": "ms",
         "keepalived": None, "goal": "< 20 ms"},
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
