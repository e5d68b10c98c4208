# Theory of operation
# -------------------
# A Simulation is N nodes, each running the REAL core (VrrpEngine + Driver, exactly as the daemon
# will) on one SimClock, connected by SimLan segments. A node's effect sink plays the Linux layer:
# Transmit effects are encoded with the real codec (encode_advert + build_ipv4_datagram) and the
# bytes travel over the segment to the other nodes, whose engines decode and validate them with
# the real receive checks. Claim/Release effects maintain which node holds which VIPs; GARPs,
# transitions and adverts are recorded in `trace`, `garps` and `txlog` for the invariant checkers,
# address changes in `addresses` (for timelines: pykeepalived-cluster whatif).
#
# Scenario API (all times integer µs; `at=None` means now):
#   sim = Simulation(seed=7, delay_us=100)
#   sim.add_node("a", params(...))          one or more InstanceParams (+ sync_groups)
#   sim.start("a", at=...) / kill (hard: silent, timers stop) / stop (graceful: priority 0)
#   sim.set_tracker("a", "script", "chk", False), sim.cut("a") / heal("a"),
#   sim.partition({"a"}, {"b","c"}) / heal_partition(), sim.run_until(t) / run_for(dt)
"""The simulator: nodes running the real VRRP core on simulated LANs in virtual time."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import ip_address

from pykeepalived.sim.clock import SimClock
from pykeepalived.sim.lan import SimLan
from pykeepalived.vrrp.driver import Driver
from pykeepalived.vrrp.effects import (
    ClaimAddresses,
    Effect,
    Log,
    Notify,
    Reason,
    ReleaseAddresses,
    SendGratuitous,
    State,
    StateChanged,
    Transmit,
)
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import RxPacket, build_ipv4_datagram, encode_advert, next_ip_id
from pykeepalived.vrrp.params import SEC, AuthType, InstanceParams, IPAddress
from pykeepalived.vrrp.receive import next_ah_seq, tx_checksum_mode
from pykeepalived.vrrp.tracking import TrackValue


def params(
    name: str = "VI_1",
    *,
    vrid: int = 51,
    priority: int = 100,
    src: str = "192.0.2.1",
    version: int | None = None,
    adver_int_us: int = SEC,
    vips: Sequence[str] = ("192.0.2.100",),
    **kw: object,
) -> InstanceParams:
    """Short-hand InstanceParams for scenarios (family from `src`, v2 for IPv4 unless `version`)."""
    addr = ip_address(src)
    family = addr.version
    ver = version if version is not None else (2 if family == 4 else 3)
    base = InstanceParams(
        name=name,
        vrid=vrid,
        family=family,
        version=ver,
        base_priority=priority,
        interface="eth0",
        adver_int_us=adver_int_us,
        vips=tuple(ip_address(v) for v in vips),
        src_ip=addr,
        wants_master=priority == 255,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Transition:
    time: int
    node: str
    instance: str
    old: State
    new: State
    priority: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class TxRecord:
    time: int
    node: str
    instance: str
    priority: int


@dataclass(frozen=True, slots=True)
class GarpRecord:
    time: int
    node: str
    instance: str
    addresses: tuple[IPAddress, ...]
    repeat: int
    reason: str


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """A node adds (`held`) or removes an instance's VIPs and eVIPs (removed with a killed node too)."""

    time: int
    node: str
    instance: str
    held: bool
    addresses: tuple[IPAddress, ...]


class SyncSplitError(AssertionError):
    pass


class SimNode:
    """One simulated keepalived VRRP process: engine + driver + an effect sink playing Linux."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        instances: Sequence[InstanceParams],
        segments: dict[str, str],
        sync_groups: dict[str, list[str]],
    ) -> None:
        self.sim = sim
        self.name = name
        self.instance_params = list(instances)
        self.segments = segments  # instance name -> segment name
        self.sync_groups = sync_groups
        self.alive = False
        self.addresses = {p.src_ip for p in instances if p.src_ip is not None}
        self.held: dict[str, set[IPAddress]] = {}
        self.notifies: list[tuple[int, Notify]] = []
        self.logs: list[tuple[int, str]] = []
        self.keep_logs = sim.keep_logs
        self._ifindex = {seg: sim.lan(seg).ifindex for seg in segments.values()}
        self._ident = 0
        self._pdu_cache: dict[tuple[int, IPAddress], bytes] = {}
        self.engine = VrrpEngine()
        self.driver = Driver(self.engine, sim.clock, self)
        self.boots = 0
        # latest value of every tracked object (survives restarts, as scripts/files/interfaces do)
        self.tracker_values: dict[tuple[str, str], TrackValue] = {}

    def _build(self) -> None:
        self.engine = VrrpEngine()
        for p in self.instance_params:
            self.engine.add_instance(VrrpInstance(p), ifindex=self._ifindex[self.segments[p.name]])
        for g, members in self.sync_groups.items():
            self.engine.add_sync_group(g, members)
        self.driver = Driver(self.engine, self.sim.clock, self)
        self._pdu_cache.clear()

    def boot(self) -> None:
        """(Re)start the VRRP process: a fresh engine, as after a restart of keepalived."""
        if self.alive:
            self.kill()
        self._build()
        self.alive = True
        self.boots += 1
        for (kind, tname), value in self.tracker_values.items():
            self.engine.set_tracker(kind, tname, value, self.sim.clock.now())  # INIT: only recorded
        self.driver.start()

    def kill(self) -> None:
        """Hard stop: nothing more is sent; addresses are considered gone with the node."""
        self.alive = False
        self.driver.cancel()
        now = self.sim.clock.now()
        for inst, addrs in self.held.items():
            gone = tuple(sorted(addrs, key=str))
            self.sim.addresses.append(AddressRecord(now, self.name, inst, False, gone))
        self.held.clear()

    def stop(self) -> None:
        """Graceful stop (SIGTERM): masters send priority 0 and release their addresses."""
        if self.alive:
            self.driver.shutdown()
        self.alive = False

    def instance(self, name: str) -> VrrpInstance:
        return self.engine.instances[name]

    def set_tracker(self, kind: str, name: str, value: TrackValue) -> None:
        self.tracker_values[kind, name] = value
        if self.alive:
            self.driver.set_tracker(kind, name, value)

    # -- LanPort
    def owns(self, addr: IPAddress) -> bool:
        return addr in self.addresses

    def deliver(self, segment: str, rx: RxPacket) -> None:
        if self.alive:
            self.driver.feed(rx)

    # -- EffectSink
    def submit(self, effects: Sequence[Effect]) -> None:
        now = self.sim.clock.now()
        sim = self.sim
        for e in effects:
            if isinstance(e, Transmit):
                self._transmit(e, now)
            elif isinstance(e, StateChanged):
                sim.trace.append(Transition(now, self.name, e.instance, e.old, e.new, e.priority, e.reason))
            elif isinstance(e, ClaimAddresses):
                self.held.setdefault(e.instance, set()).update(e.vips, e.evips)
                sim.addresses.append(AddressRecord(now, self.name, e.instance, True, (*e.vips, *e.evips)))
            elif isinstance(e, ReleaseAddresses):
                gone = self.held.pop(e.instance, None)
                if gone:
                    sim.addresses.append(AddressRecord(now, self.name, e.instance, False,
                                                       tuple(sorted(gone, key=str))))
            elif isinstance(e, SendGratuitous):
                sim.garps.append(
                    GarpRecord(now, self.name, e.instance, e.addresses, e.repeat, e.reason.value)
                )
            elif isinstance(e, Notify):
                self.notifies.append((now, e))
            elif isinstance(e, Log) and self.keep_logs:
                self.logs.append((now, e.text))
        if sim.check_sync:
            self._check_sync_groups()

    def _check_sync_groups(self) -> None:
        for g in self.engine.groups.values():
            states = {m.state for m in g.members}
            if len(states) > 1:
                raise SyncSplitError(
                    f"t={self.sim.clock.now()} node {self.name}: sync group {g.name} split: "
                    + ", ".join(f"{m.name}={m.state.name}" for m in g.members)
                )

    def _transmit(self, e: Transmit, now: int) -> None:
        inst = self.engine.instances[e.instance]
        p = inst.params
        src = e.src
        if src is None:
            return
        lan = self.sim.lans[self.segments[e.instance]]
        self.sim.txlog.append(TxRecord(now, self.name, e.instance, e.priority))
        mode = tx_checksum_mode(p, inst.rx_state)
        for dst in e.dsts:
            key = (id(e.advert), dst)
            pdu = self._pdu_cache.get(key)
            if pdu is None:
                pdu = encode_advert(e.advert, src=src, dst=dst, checksum_mode=mode)
                self._pdu_cache[key] = pdu
            if p.family == 4:
                self._ident = next_ip_id(self._ident)
                ah_seq = next_ah_seq(inst.rx_state) if p.auth_type == AuthType.AH else 0
                data = build_ipv4_datagram(
                    pdu,
                    src=src,
                    dst=dst,
                    ttl=e.ttl,
                    ident=self._ident,
                    auth_type=p.auth_type,
                    auth_key=p.auth_pass,
                    ah_seq=ah_seq,
                    unicast=p.is_unicast,
                )
            else:
                data = pdu
            lan.transmit(self.name, RxPacket(lan.ifindex, p.family, src, dst, e.ttl, data))


class Simulation:
    """Deterministic many-node VRRP simulation on virtual time (seeded RNG for the LANs)."""

    def __init__(
        self,
        seed: int = 0,
        *,
        delay_us: int = 100,
        jitter_us: int = 0,
        loss: float = 0.0,
        dup: float = 0.0,
        check_sync: bool = True,
        keep_logs: bool = False,
    ) -> None:
        self.seed = seed
        self.clock = SimClock()
        self.rng = random.Random(seed)
        self.lan_defaults = {"delay_us": delay_us, "jitter_us": jitter_us, "loss": loss, "dup": dup}
        self.lans: dict[str, SimLan] = {}
        self.nodes: dict[str, SimNode] = {}
        self.trace: list[Transition] = []
        self.txlog: list[TxRecord] = []
        self.garps: list[GarpRecord] = []
        self.addresses: list[AddressRecord] = []
        self.check_sync = check_sync
        self.keep_logs = keep_logs

    def lan(self, name: str = "lan0", **kw: float) -> SimLan:
        lan = self.lans.get(name)
        if lan is None:
            opts = {**self.lan_defaults, **kw}
            lan = SimLan(
                name,
                self.clock,
                self.rng,
                delay_us=int(opts["delay_us"]),
                jitter_us=int(opts["jitter_us"]),
                loss=float(opts["loss"]),
                dup=float(opts["dup"]),
            )
            lan.ifindex = len(self.lans) + 1
            self.lans[name] = lan
        return lan

    def add_node(
        self,
        name: str,
        instances: InstanceParams | Iterable[InstanceParams],
        *,
        segment: str = "lan0",
        segments: dict[str, str] | None = None,
        sync_groups: dict[str, list[str]] | None = None,
    ) -> SimNode:
        plist = [instances] if isinstance(instances, InstanceParams) else list(instances)
        segs = {p.name: (segments or {}).get(p.name, segment) for p in plist}
        node = SimNode(self, name, plist, segs, sync_groups or {})
        self.nodes[name] = node
        for seg in set(segs.values()):
            self.lan(seg).attach(node)
        return node

    # -- scheduling helpers
    def at(self, t: int | None, fn: Callable[[], None]) -> None:
        if t is None or t <= self.clock.now():
            fn()
        else:
            self.clock.call_at(t, fn)

    def start(self, node: str, at: int | None = None) -> None:
        self.at(at, self.nodes[node].boot)

    def start_all(self, at: int | None = None) -> None:
        for n in self.nodes:
            self.start(n, at)

    def kill(self, node: str, at: int | None = None) -> None:
        self.at(at, self.nodes[node].kill)

    def stop(self, node: str, at: int | None = None) -> None:
        self.at(at, self.nodes[node].stop)

    def set_tracker(self, node: str, kind: str, name: str, value: TrackValue, at: int | None = None) -> None:
        self.at(at, lambda: self.nodes[node].set_tracker(kind, name, value))

    def cut(self, node: str, segment: str = "lan0", at: int | None = None) -> None:
        self.at(at, lambda: self.lans[segment].cut(node))

    def heal(self, node: str, segment: str = "lan0", at: int | None = None) -> None:
        self.at(at, lambda: self.lans[segment].heal(node))

    def partition(self, *groups: set[str], segment: str = "lan0", at: int | None = None) -> None:
        self.at(at, lambda: self.lans[segment].partition(*groups))

    def heal_partition(self, segment: str = "lan0", at: int | None = None) -> None:
        self.at(at, lambda: self.lans[segment].heal_partition())

    def run_until(self, t: int) -> None:
        self.clock.run_until(t)

    def run_for(self, dt: int) -> None:
        self.clock.run_until(self.clock.now() + dt)

    # -- queries
    def instance(self, node: str, name: str = "VI_1") -> VrrpInstance:
        return self.nodes[node].instance(name)

    def state(self, node: str, name: str = "VI_1") -> State:
        return self.nodes[node].instance(name).state

    def masters(self, vrid: int | None = None, segment: str | None = None) -> list[tuple[str, str]]:
        """(node, instance) pairs currently MASTER among live nodes."""
        out = []
        for n in self.nodes.values():
            if not n.alive:
                continue
            for inst in n.engine.instances.values():
                if vrid is not None and inst.params.vrid != vrid:
                    continue
                if segment is not None and n.segments[inst.name] != segment:
                    continue
                if inst.state == State.MASTER:
                    out.append((n.name, inst.name))
        return out

    def transitions(self, node: str | None = None, instance: str | None = None) -> list[Transition]:
        return [
            t
            for t in self.trace
            if (node is None or t.node == node) and (instance is None or t.instance == instance)
        ]
