# Theory of operation
# -------------------
# SimLan is one broadcast segment. A node transmits an encoded datagram (the bytes the Linux layer
# would put on the wire, built by the real codec); the segment schedules its delivery to every
# other attached node whose link is up and that is in the sender's partition, after `delay_us` plus
# a uniformly random jitter (jitter larger than the gap between two packets reorders them). Loss
# and duplication are Bernoulli draws. All randomness comes from the simulation's seeded
# random.Random, so a run is reproducible from its seed. Unicast datagrams (non-multicast
# destination) go only to the node owning the destination address.
"""SimLan: a simulated broadcast segment with delay, jitter, loss, duplication, partitions."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from pykeepalived.sim.clock import SimClock
from pykeepalived.vrrp.packet import RxPacket
from pykeepalived.vrrp.params import IPAddress


class LanPort(Protocol):
    name: str
    alive: bool

    def owns(self, addr: IPAddress) -> bool: ...

    def deliver(self, segment: str, rx: RxPacket) -> None: ...


class SimLan:
    def __init__(
        self,
        name: str,
        clock: SimClock,
        rng: random.Random,
        *,
        delay_us: int = 100,
        jitter_us: int = 0,
        loss: float = 0.0,
        dup: float = 0.0,
    ) -> None:
        self.name = name
        self.clock = clock
        self.rng = rng
        self.delay_us = delay_us
        self.jitter_us = jitter_us
        self.loss = loss
        self.dup = dup
        self.ports: list[LanPort] = []
        self.link_up: dict[str, bool] = {}
        self.group_of: dict[str, int] = {}  # partition id per node; absent = 0
        self.sent = 0
        self.ifindex = 0  # the interface index every attached node sees for this segment
        self.delivered = 0

    def attach(self, port: LanPort) -> None:
        self.ports.append(port)
        self.link_up[port.name] = True

    def cut(self, node: str) -> None:
        self.link_up[node] = False

    def heal(self, node: str) -> None:
        self.link_up[node] = True

    def partition(self, *groups: set[str] | list[str]) -> None:
        """Split the segment: nodes in different groups no longer hear each other."""
        self.group_of = {n: i + 1 for i, g in enumerate(groups) for n in g}

    def heal_partition(self) -> None:
        self.group_of = {}

    def connected(self, a: str, b: str) -> bool:
        return (
            self.link_up.get(a, False)
            and self.link_up.get(b, False)
            and self.group_of.get(a, 0) == self.group_of.get(b, 0)
        )

    def transmit(self, sender: str, rx: RxPacket) -> None:
        self.sent += 1
        if not self.link_up.get(sender, False):
            return
        multicast = rx.dst.is_multicast
        rng = self.rng
        for port in self.ports:
            if port.name == sender or not port.alive or not self.connected(sender, port.name):
                continue
            if not multicast and not port.owns(rx.dst):
                continue
            if self.loss and rng.random() < self.loss:
                continue
            copies = 2 if self.dup and rng.random() < self.dup else 1
            for _ in range(copies):
                d = self.delay_us + (rng.randint(0, self.jitter_us) if self.jitter_us else 0)
                self.clock.call_later(d, _delivery(self, port, rx))


def _delivery(lan: SimLan, port: LanPort, rx: RxPacket) -> Callable[[], None]:
    def run() -> None:
        # the receiver may have died or been cut off while the packet was in flight
        if port.alive and lan.link_up.get(port.name, False):
            lan.delivered += 1
            port.deliver(lan.name, rx)

    return run
