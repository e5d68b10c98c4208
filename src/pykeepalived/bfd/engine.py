# Theory of operation
# -------------------
# The BFD child's sessions behind one interface, still sans-I/O: the caller feeds received datagrams
# (with their addresses and the TTL / hop limit the kernel reported) and the clock, and carries out
# the returned effects (session.py). The engine
#   * demultiplexes (RFC 5880 §6.3): a packet with a nonzero Your Discriminator goes to the session
#     owning that discriminator; one with zero goes to the session whose neighbour is the source
#     address and whose source address (when configured) is the destination (keepalived
#     find_bfd_by_addr); single hop and multihop (RFC 5883) sessions are kept apart by port;
#   * applies the GTSM check of RFC 5881 §5 as keepalived extends it: a packet whose TTL / hop limit is
#     below the session's ttl minus max_hops is dropped (max_hops 255: no check);
#   * hands out discriminators: random, nonzero, unique among the sessions (§6.8.1);
#   * keeps one heap of (deadline, name) for all sessions; entries are checked against the session's
#     current next_deadline() when popped, so a moved timer just leaves a stale entry behind;
#   * on (re)configuration keeps the sessions whose name and path (neighbour, source, multihop) did not
#     change with their state (keepalived bfd_complete_init copies state by name), starts the others,
#     drops the removed ones, and reports every session's state (Event) as keepalived does after start
#     and reload (bfd_register_workers).
"""Several BFD sessions: demultiplexing, GTSM, one deadline heap (RFC 5880 §6.3, RFC 5881 §5)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from pykeepalived.bfd.packet import BfdPacketError, decode
from pykeepalived.bfd.params import BfdParams, IPAddress
from pykeepalived.bfd.session import Effect, Event, Log, LogLevel, Rng, Session

DISCR_MAX = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Received:
    """One datagram as the socket layer saw it."""

    data: bytes
    src: IPAddress
    src_port: int
    dst: IPAddress | None  # from IP_PKTINFO / IPV6_PKTINFO
    ttl: int | None  # from IP_RECVTTL / IPV6_RECVHOPLIMIT; None if the kernel gave none
    multihop: bool = False  # arrived on port 4784


def pair(addr: IPAddress, port: int) -> str:
    """keepalived's inet_sockaddrtopair(): `[addr]:port`."""
    return f"[{addr}]:{port}"


class BfdEngine:
    def __init__(self, rng: Rng) -> None:
        self.rng = rng
        self.sessions: dict[str, Session] = {}
        self._heap: list[tuple[int, str]] = []
        self.dropped = 0

    # ------------------------------------------------------------------ configuration
    def new_discriminator(self) -> int:
        used = {s.local_discr for s in self.sessions.values()}
        while True:
            d = self.rng.randint(1, DISCR_MAX)
            if d not in used:
                return d

    def configure(self, params: list[BfdParams], now: int) -> list[Effect]:
        """Install a configuration (first start or reload); returns the effects, state events last."""
        out: list[Effect] = []
        old = self.sessions
        self.sessions = {}
        started: list[Session] = []
        for p in params:
            s = old.get(p.name)
            if s is not None and s.params.same_path(p):
                self.sessions[p.name] = s
                out += s.reconfigure(p, now)
            else:
                self.sessions[p.name] = s = Session(p, 0, self.rng)
                s.local_discr = self.new_discriminator()
                started.append(s)
        for s in started:
            out += s.start(now)
        self._rebuild_heap()
        out += [Event(s.name, s.is_up) for s in self.sessions.values()]
        return out

    def session(self, name: str) -> Session:
        return self.sessions[name]

    # ------------------------------------------------------------------ inputs
    def lookup(self, your_discr: int, src: IPAddress, dst: IPAddress | None,
               multihop: bool) -> Session | None:
        if your_discr:
            for s in self.sessions.values():
                if s.local_discr == your_discr:
                    return s
            return None
        for s in self.sessions.values():
            p = s.params
            if p.neighbor == src and p.multihop == multihop and (p.source is None or p.source == dst):
                return s
        return None

    def receive(self, rx: Received, now: int) -> list[Effect]:
        try:
            pkt = decode(rx.data)
        except BfdPacketError as exc:
            self.dropped += 1
            return [Log(LogLevel.DETAIL, f"Discarding bogus packet from {pair(rx.src, rx.src_port)}: {exc}")]
        s = self.lookup(pkt.your_discriminator, rx.src, rx.dst, rx.multihop)
        if s is None:
            self.dropped += 1
            return [Log(LogLevel.DETAIL,
                        f"Discarding packet from {pair(rx.src, rx.src_port)} (session is not found - your "
                        f"discriminator field is 0x{pkt.your_discriminator:08x})")]
        min_ttl = s.params.min_ttl()
        if rx.ttl and min_ttl is not None and rx.ttl < min_ttl:  # RFC 5881 §5 / RFC 5082
            self.dropped += 1
            what = "ttl" if rx.src.version == 4 else "hop_limit"
            return [Log(LogLevel.DETAIL, f"Packet {what}({rx.ttl}) < {min_ttl} - discarding")]
        out = s.receive(pkt, now)
        self._push(s)
        return out

    def run_timers(self, now: int) -> list[Effect]:
        """Fire every session timer due at or before `now`."""
        out: list[Effect] = []
        while self._heap and self._heap[0][0] <= now:
            when, name = heapq.heappop(self._heap)
            s = self.sessions.get(name)
            if s is None or s.next_deadline() != when:
                continue  # stale entry
            out += s.expire(now)
            self._push(s)
        return out

    def next_deadline(self) -> int | None:
        while self._heap:
            when, name = self._heap[0]
            s = self.sessions.get(name)
            if s is not None and s.next_deadline() == when:
                return when
            heapq.heappop(self._heap)
        return None

    def admin_down(self, name: str, now: int) -> list[Effect]:
        s = self.sessions[name]
        out = s.admin_down(now)
        self._push(s)
        return out

    def enable(self, name: str, now: int) -> list[Effect]:
        s = self.sessions[name]
        out = s.enable(now)
        self._push(s)
        return out

    # ------------------------------------------------------------------ heap
    def _push(self, s: Session) -> None:
        when = s.next_deadline()
        if when is not None:
            heapq.heappush(self._heap, (when, s.name))
        if len(self._heap) > 4 * len(self.sessions) + 64:
            self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        self._heap = [(w, s.name) for s in self.sessions.values() if (w := s.next_deadline()) is not None]
        heapq.heapify(self._heap)
