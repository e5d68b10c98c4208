"""A two-node BFD wire in simulated time (integer µs) for the session/engine unit tests."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from ipaddress import ip_address

from pykeepalived.bfd.engine import BfdEngine, Received
from pykeepalived.bfd.packet import ControlPacket, decode, encode
from pykeepalived.bfd.params import BfdParams
from pykeepalived.bfd.session import Effect, Event, Log, Transmit

A = ip_address("192.0.2.1")
B = ip_address("192.0.2.2")
DELAY = 200  # one-way µs


@dataclass
class Node:
    name: str
    addr: object
    engine: BfdEngine
    events: list[tuple[int, str, bool]] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)
    sent: list[tuple[int, ControlPacket]] = field(default_factory=list)


class Wire:
    def __init__(self, a: BfdParams, b: BfdParams, seed: int = 1) -> None:
        self.now = 0
        self.nodes = {
            "a": Node("a", A, BfdEngine(random.Random(seed))),
            "b": Node("b", B, BfdEngine(random.Random(seed + 1))),
        }
        self.params = {"a": a, "b": b}
        self.up = True
        self.ttl = 255
        self.inflight: list[tuple[int, int, str, bytes]] = []
        self._seq = 0
        self.mute: set[str] = set()  # nodes whose packets are lost

    def start(self, which: str = "ab") -> None:
        for k in which:
            self.apply(k, self.nodes[k].engine.configure([self.params[k]], self.now))

    def apply(self, k: str, effects: list[Effect]) -> None:
        node = self.nodes[k]
        for e in effects:
            if isinstance(e, Transmit):
                node.sent.append((self.now, e.packet))
                if self.up and k not in self.mute:
                    self._seq += 1
                    heapq.heappush(self.inflight, (self.now + DELAY, self._seq, "b" if k == "a" else "a",
                                                   encode(e.packet)))
            elif isinstance(e, Event):
                node.events.append((self.now, e.name, e.up))
            elif isinstance(e, Log):
                node.logs.append((self.now, e.text))

    def run_until(self, t: int) -> None:
        while True:
            cands = [(d, k) for k, n in self.nodes.items() if (d := n.engine.next_deadline()) is not None]
            nxt = min(cands)[0] if cands else None
            pkt_t = self.inflight[0][0] if self.inflight else None
            step = min(x for x in (nxt, pkt_t, t + 1) if x is not None)
            if step > t:
                self.now = t
                return
            self.now = step
            while self.inflight and self.inflight[0][0] <= self.now:
                _, _, dst, data = heapq.heappop(self.inflight)
                src = A if dst == "b" else B
                rx = Received(data, src, 49152, self.nodes[dst].addr, self.ttl)  # type: ignore[arg-type]
                self.apply(dst, self.nodes[dst].engine.receive(rx, self.now))
            for k, n in self.nodes.items():
                self.apply(k, n.engine.run_timers(self.now))

    def state(self, k: str) -> str:
        return self.nodes[k].engine.session(self.params[k].name).state.text


def params(name: str, peer: object, **kw: object) -> BfdParams:
    return BfdParams(name=name, neighbor=peer, **kw)  # type: ignore[arg-type]


__all__ = ["A", "B", "Wire", "decode", "params"]
