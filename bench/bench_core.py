"""VRRP core cost per advert sent / received, and simulator wall time for 100 nodes x 1 hour."""

from __future__ import annotations

import time
from ipaddress import ip_address

from pykeepalived.sim.scenario import Simulation, params
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import Advertisement, RxPacket, build_ipv4_datagram, encode_advert
from pykeepalived.vrrp.params import SEC, InstanceParams


def _params(prio: int) -> InstanceParams:
    return params(priority=prio, src="192.0.2.1")


def bench_send(n: int = 50_000) -> float:
    """µs per periodic advert in MASTER (handle_timer → Transmit effect)."""
    inst = VrrpInstance(_params(200))
    inst.start(0)
    t = inst.next_deadline() or 0
    inst.handle_timer(t)
    start = time.perf_counter()
    for _ in range(n):
        t += SEC
        inst.handle_timer(t)
    return (time.perf_counter() - start) / n * 1e6


def bench_receive(n: int = 50_000) -> float:
    """µs per valid advert received in BACKUP (receive checks + state machine)."""
    inst = VrrpInstance(_params(100))
    inst.start(0)
    src, dst = ip_address("192.0.2.2"), ip_address("224.0.0.18")
    adv = Advertisement(2, 51, 150, 1, (ip_address("192.0.2.100"),), 0, bytes(8))
    data = build_ipv4_datagram(encode_advert(adv, src=src, dst=dst), src=src, dst=dst, ttl=255, ident=1)
    rx = RxPacket(0, 4, src, dst, 255, data)
    start = time.perf_counter()
    for i in range(n):
        inst.on_packet(rx, i * 1000)
    return (time.perf_counter() - start) / n * 1e6


def bench_sim(nodes: int = 100, virtual_s: int = 3600, measured_s: int = 3600) -> tuple[float, int]:
    """Wall seconds for `nodes` nodes x `virtual_s` at 1 s adverts (extrapolated from `measured_s`)."""
    sim = Simulation(seed=1, delay_us=100, check_sync=False)
    for i in range(nodes):
        sim.add_node(f"n{i}", params(priority=1 + i * 2, src=f"192.0.2.{i + 1}"))
    sim.start_all()
    start = time.perf_counter()
    sim.run_until(measured_s * SEC)
    wall = time.perf_counter() - start
    assert len(sim.masters()) == 1
    return wall * virtual_s / measured_s, measured_s


def main() -> list[dict[str, object]]:
    send = bench_send()
    recv = bench_receive()
    sim_wall, measured = bench_sim()
    return [
        {
            "name": "core cost per advert sent",
            "value": round(send, 2),
            "unit": "us",
            "keepalived": None,
            "goal": None,
        },
        {
            "name": "core cost per advert received (checks + FSM)",
            "value": round(recv, 2),
            "unit": "us",
            "keepalived": None,
            "goal": None,
        },
        {
            "name": f"simulator 100 nodes x 1 h virtual @1 s adverts (measured {measured} s virtual)",
            "value": round(sim_wall, 1),
            "unit": "s wall",
            "keepalived": None,
            "goal": None,
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
