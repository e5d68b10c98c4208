# Theory of operation
# -------------------
# "What if": the cluster's nodes, built from their configuration models exactly as the daemon builds
# its instances (config/to_params.py instance_params), run in the simulator (sim/: the daemon's own
# VRRP core, the real packet codec and receive checks, on virtual time), while a list of events is
# played at given seconds. Pure: the caller reads the files (the nodes', the events', those of
# reloads) and prints the returned text; no I/O here, and a run depends only on its inputs.
#
# Events (docs/cluster.md), one a line: `TIME NODE ACTION [ARG]`, TIME in seconds from the start
# (`+S`: S after the previous event), `#` starts a comment, and `end TIME` sets how long to run:
#   down | stop | up            the node dies silently (power off, kill -9) | stops (SIGTERM: a MASTER
#                               sends priority 0) | (re)starts; a node whose first event is `up`
#                               starts down, every other node starts at 0
#   fail SCRIPT | recover SCRIPT  vrrp_script SCRIPT starts failing / succeeds again
#   link down [IFACE] | link up [IFACE]   the node loses / regains its link (default: every interface
#                               its instances use): its instances there go FAULT, its packets stop
#   reload FILE[@CONFIG_ID]     the node's daemon is reloaded (SIGHUP) with that file
#
# What the simulator does not model, and how it stands in (printed with every timeline):
#   * a script's run: its result reaches VRRP fall (rise) intervals after the event, at the latest
#     run (a real script may report up to one interval earlier, later by its own duration);
#     at start every script succeeds at once (init_fail ones fail);
#   * the kernel: a link change is seen at once; addresses, ARP, routes are bookkeeping only;
#   * a daemon's start-up takes no time, a reload applies at once; the LAN delays packets 100 µs;
#   * addresses: an instance without unicast_src_ip/mcast_src_ip sends from the node's address
#     (--address, default 192.0.2.K for the K-th node), which decides ties.
#
# The timeline (like `make demo` prints) lists events, state changes with the priority, VIPs added
# and removed, the notify scripts each transition runs; the summary gives, per virtual router, the
# MASTER at the end, the master changes, the time without any MASTER and with two.
"""What-if: the cluster's files plus a list of events, run through the simulator (pure)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import ip_address

from pykeepalived.cluster.model import Cluster, ClusterNode, transport_key
from pykeepalived.config.model import Model
from pykeepalived.config.to_params import instance_params
from pykeepalived.sim.scenario import SimNode, Simulation
from pykeepalived.vrrp.effects import Notify, State
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, InstanceParams

ACTIONS = {"down": 0, "stop": 0, "up": 0, "fail": 1, "recover": 1, "link": (1, 2), "reload": 1}
NOT_MODELLED = (
    "not modelled: script run times (a check's result reaches VRRP fall/rise intervals after the event, "
    "at the latest run), the kernel (links seen at once; addresses and ARP are bookkeeping), daemon "
    "start-up and reload times (none), LAN delay 100 µs; addresses not in the files are assumed ({addrs})"
)


class EventError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Event:
    time_us: int
    node: str
    action: str
    arg: str | None = None
    where: str = ""  # FILE: Line N, for messages

    def text(self) -> str:
        return " ".join(w for w in (self.action, self.arg) if w)


def parse_seconds(word: str, where: str) -> float:
    try:
        v = float(word)
    except ValueError:
        raise EventError(f"({where}) '{word}' is not a time in seconds") from None
    if v < 0 or v != v or v == float("inf"):
        raise EventError(f"({where}) '{word}' is not a time in seconds")
    return v


def parse_events(lines: Iterable[str], source: str, nodes: Sequence[str]) -> tuple[list[Event], int | None]:
    """The events of `lines` (file `source`), and the end time given by `end TIME` (µs) or None."""
    out: list[Event] = []
    end = None
    last = 0
    for n, raw in enumerate(lines, 1):
        where = f"{source}: Line {n}"
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "at":
            words = words[1:]
        if words and words[0] == "end":
            if len(words) != 2:
                raise EventError(f"({where}) expected: end TIME")
            end = int(parse_seconds(words[1], where) * SEC)
            continue
        if len(words) < 3:
            raise EventError(f"({where}) expected: TIME NODE ACTION [ARG], got '{raw.strip()}'")
        tword, node, action, *args = words
        rel = tword.startswith("+")
        t = int(parse_seconds(tword.lstrip("+"), where) * SEC) + (last if rel else 0)
        if node not in nodes:
            raise EventError(f"({where}) unknown node '{node}' (nodes: {', '.join(nodes)})")
        want = ACTIONS.get(action)
        if want is None:
            raise EventError(f"({where}) unknown action '{action}' (one of: {', '.join(ACTIONS)})")
        lo, hi = want if isinstance(want, tuple) else (want, want)
        if not lo <= len(args) <= hi:
            raise EventError(f"({where}) '{action}' takes {lo if lo == hi else f'{lo} or {hi}'} argument(s)")
        if action == "link" and args[0] not in ("down", "up"):
            raise EventError(f"({where}) expected: link down|up [IFACE]")
        arg = " ".join(args) or None
        out.append(Event(t, node, action, arg, where))
        last = t
    out.sort(key=lambda e: e.time_us)
    return out, end


@dataclass(frozen=True, slots=True)
class Entry:
    time_us: int
    node: str
    label: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RouterSummary:
    label: str
    masters: tuple[str, ...]  # at the end
    holders: tuple[str, ...]  # nodes holding the VIPs at the end
    changes: int  # master changes after the first election
    no_master_us: int  # after the first election
    gaps: tuple[tuple[int, int], ...]  # (start, end) without a MASTER after the first election
    duals: tuple[tuple[int, int], ...]  # (start, end) with two MASTERs or more

    @property
    def dual_master_us(self) -> int:
        return sum(b - a for a, b in self.duals)


@dataclass
class Outcome:
    entries: list[Entry] = field(default_factory=list)
    routers: list[RouterSummary] = field(default_factory=list)
    until_us: int = 0
    assumed: dict[str, str] = field(default_factory=dict)


class WhatIf:
    """One run: the cluster on a Simulation, the events scheduled on its clock."""

    def __init__(self, cluster: Cluster, addresses: Mapping[str, str] | None = None) -> None:
        self.cluster = cluster
        self.sim = Simulation(seed=0, delay_us=100, check_sync=False)
        self.models: dict[str, Model] = {n.name: n.model for n in cluster.nodes}
        given = addresses or {}
        self.addr = {n.name: given.get(n.name) or f"192.0.2.{k}" for k, n in enumerate(cluster.nodes, 1)}
        self.entries: list[Entry] = []
        self.routers: dict[tuple[str, str], str] = {}  # (node, instance) -> router label
        for r in cluster.routers():
            for m in r.members:
                self.routers[(m.node, m.inst.name)] = r.label
        for n in cluster.nodes:
            params, segs, groups = self._node_parts(n.name, n.model)
            self.sim.add_node(n.name, params, segments=segs, sync_groups=groups)
            self._seed_trackers(n.name, n.model)

    # -- building nodes from models
    def _node_parts(
        self, node: str, model: Model
    ) -> tuple[list[InstanceParams], dict[str, str], dict[str, list[str]]]:
        params, segs = [], {}
        for i in model.vrrp_instances:
            if i.vrid is None:
                continue
            p = instance_params(model, i)
            if p.src_ip is None:
                own = self.addr[node] if i.family == 4 else f"2001:db8::{self.addr[node].split('.')[-1]}"
                p = replace(p, src_ip=ip_address(own))
            params.append(p)
            key = transport_key(node, i, model, self.cluster.lan_of)
            segs[i.name] = "/".join(map(str, key[2:]))
        names = {p.name for p in params}
        groups = {g.name: [m for m in g.members if m in names] for g in model.sync_groups}
        return params, segs, {g: ms for g, ms in groups.items() if ms}

    def _seed_trackers(self, node: str, model: Model) -> None:
        n = self.sim.nodes[node]
        for s in model.vrrp_scripts:
            n.tracker_values.setdefault(("script", s.name), not s.init_fail)
        for i in model.vrrp_instances:
            for t in i.tracks:
                if t.kind == "interface":
                    n.tracker_values.setdefault(("interface", t.name), True)

    # -- events
    def schedule(self, events: Sequence[Event], reloads: Mapping[str, Model]) -> None:
        first: dict[str, str] = {}
        for e in events:
            first.setdefault(e.node, e.action)
        for name in self.sim.nodes:
            if first.get(name) != "up":
                self.sim.at(0, functools.partial(self._boot, name))
        for e in events:
            self.sim.clock.call_at(e.time_us, functools.partial(self._apply, e, reloads))

    def _note(self, node: str, label: str, detail: str = "") -> None:
        self.entries.append(Entry(self.sim.clock.now(), node, label, detail))

    def _boot(self, node: str) -> None:
        self.sim.nodes[node].boot()

    def _apply(self, e: Event, reloads: Mapping[str, Model]) -> None:
        node = self.sim.nodes[e.node]
        self._note(e.node, f"event: {e.text()}")
        if e.action == "down":
            node.kill()
        elif e.action == "stop":
            node.stop()
        elif e.action == "up":
            node.boot()
        elif e.action in ("fail", "recover"):
            self._script(e, e.action == "recover")
        elif e.action == "link":
            self._link(e)
        elif e.action == "reload":
            assert e.arg is not None
            self._reload(node, reloads[e.arg])

    def _script(self, e: Event, ok: bool) -> None:
        model = self.models[e.node]
        s = next((s for s in model.vrrp_scripts if s.name == e.arg), None)
        if s is None:
            raise EventError(f"({e.where}) {e.node} has no vrrp_script {e.arg}")
        delay = (s.rise if ok else s.fall) * s.interval_us

        def report() -> None:
            self._note(e.node, f"{e.arg} {'succeeds' if ok else 'fails'}",
                       f"after {s.rise if ok else s.fall} run(s), interval {s.interval_us / SEC:g} s")
            self.sim.nodes[e.node].set_tracker("script", s.name, ok)

        self.sim.clock.call_later(delay, report)

    def _link(self, e: Event) -> None:
        assert e.arg is not None
        updown, *iface = e.arg.split()
        up = updown == "up"
        node = self.sim.nodes[e.node]
        insts = [p for p in node.instance_params if not iface or p.interface == iface[0]]
        for seg in {node.segments[p.name] for p in insts}:
            (self.sim.lans[seg].heal if up else self.sim.lans[seg].cut)(e.node)
        for ifname in {p.interface for p in insts if p.interface}:
            node.set_tracker("interface", ifname, up)
        if node.alive:
            for p in insts:
                if not p.dont_track_primary:
                    node.driver.set_link(p.name, up)

    def _reload(self, node: SimNode, model: Model) -> None:
        """SIGHUP with a new file, as the VRRP child's reload: an instance with the same VRID, family,
        interface and transport continues (its state kept), dropped ones stop, new ones start."""
        params, segs, groups = self._node_parts(node.name, model)
        self.models[node.name] = model
        for seg in set(segs.values()) - set(node.segments.values()):
            self.sim.lan(seg).attach(node)
        node.instance_params, node.segments, node.sync_groups = params, segs, groups
        node.addresses |= {p.src_ip for p in params if p.src_ip is not None}
        self._seed_trackers(node.name, model)
        if not node.alive:
            return
        old = dict(node.engine.instances)

        def key(p: InstanceParams) -> tuple[object, ...]:
            return (p.vrid, p.family, p.interface, p.is_unicast, p.src_ip if p.is_unicast else p.mcast_group)

        by_key = {key(o.params): name for name, o in reversed(old.items())}
        match = {p.name: by_key[key(p)] for p in params if key(p) in by_key}
        engine = node.engine
        old_groups = engine.replace([(VrrpInstance(p), self.sim.lans[segs[p.name]].ifindex) for p in params],
                                    list(groups.items()))
        now = self.sim.clock.now()
        for (kind, tname), value in node.tracker_values.items():
            engine.set_tracker(kind, tname, value, now)
        was_fault = {new for new, was in match.items() if old[was].state is State.FAULT}
        node.driver.apply(functools.partial(engine.reload_faults, was_fault))
        kept = set(match.values())
        for name, inst in old.items():
            if name not in kept and inst.state is not State.STOP:
                node.driver.apply(functools.partial(inst.delete, notify_deleted=False))
        previous = {new: old[was] for new, was in match.items()}
        added = {new for new, was in match.items()
                 if set(engine.instances[new].params.vips) - set(old[was].params.vips)}
        node.driver.apply(functools.partial(engine.reload, previous, added, old_groups))

    # -- the run
    def run(self, until_us: int) -> Outcome:
        self.sim.run_until(until_us)
        entries = list(self.entries)
        for t in self.sim.trace:
            entries.append(Entry(t.time, t.node, f"{t.instance} -> {t.new.word}",
                                 f"priority {t.priority}, {t.reason.value.replace('_', ' ')}"))
        for a in self.sim.addresses:
            entries.append(Entry(a.time, a.node, f"{'adds' if a.held else 'removes'} "
                                 + " ".join(map(str, a.addresses)), a.instance))
        for name, n in self.sim.nodes.items():
            for when, notify in n.notifies:
                entries += [Entry(when, name, "notify", s) for s in self._scripts(name, notify)]
        order = {"event": 0, "notify": 3}
        entries.sort(key=lambda e: (e.time_us, order.get(e.label.split(":")[0], 1 if "->" in e.label else 2)))
        out = Outcome(entries, until_us=until_us, assumed=self.addr)
        out.routers = self._summaries(until_us)
        return out

    def _scripts(self, node: str, n: Notify) -> list[str]:
        """The notify scripts keepalived runs for `n`: notify_STATE, then notify with its arguments."""
        model = self.models[node]
        if n.target == "GROUP":
            g = next((g for g in model.sync_groups if g.name == n.name), None)
            scripts = g.notify if g else ()
        else:
            i = next((i for i in model.vrrp_instances if i.name == n.name), None)
            scripts = i.notify if i else ()
        out = []
        for kw, script in scripts:
            if not script:  # a bare notify_deleted: the instance's default script, none of its own
                continue
            cmd = script[0]
            if kw == f"notify_{n.event.lower()}":
                out.append(f"{kw}: {cmd}")
            elif kw == "notify" and n.event in ("MASTER", "BACKUP", "FAULT", "STOP"):
                out.append(f"notify: {cmd} {n.target} {n.name} {n.event} {n.priority}")
        return out

    def _summaries(self, until: int) -> list[RouterSummary]:
        # (time, node, instance, is MASTER now), from the transitions and the kills
        changes: list[tuple[int, str, str, bool]] = [
            (t.time, t.node, t.instance, t.new == State.MASTER) for t in self.sim.trace]
        for e in self.entries:
            if e.label == "event: down":
                changes += [(e.time_us, e.node, inst, False) for inst in self.sim.nodes[e.node].segments]
        changes.sort(key=lambda c: c[0])
        holders: dict[str, set[str]] = {}
        for a in self.sim.addresses:
            label = self.routers.get((a.node, a.instance))
            if label is not None:
                held = holders.setdefault(label, set())
                (held.add if a.held else held.discard)(a.node)
        return [self._summary(label, [c for c in changes if self.routers.get(c[1:3]) == label], until,
                              tuple(sorted(holders.get(label, ()))))
                for label in dict.fromkeys(self.routers.values())]

    @staticmethod
    def _summary(label: str, changes: list[tuple[int, str, str, bool]], until: int,
                 holders: tuple[str, ...]) -> RouterSummary:
        masters: set[str] = set()
        counts: list[tuple[int, int]] = []  # (time, number of MASTERs from then on)
        last_master, n_changes = None, 0
        for t, node, _inst, is_master in changes:
            (masters.add if is_master else masters.discard)(node)
            counts.append((t, len(masters)))
            if len(masters) == 1:
                (m,) = masters
                n_changes += last_master is not None and m != last_master
                last_master = m
        gaps: list[tuple[int, int]] = []
        duals: list[tuple[int, int]] = []
        first = next((t for t, n in counts if n), None)
        for (t, n), nxt in zip(counts, [*(t for t, _ in counts[1:]), until], strict=True):
            if first is None or t < first or nxt <= t:
                continue
            spans = gaps if n == 0 else duals if n > 1 else None
            if spans is not None:
                if spans and spans[-1][1] == t:
                    spans[-1] = (spans[-1][0], nxt)
                else:
                    spans.append((t, nxt))
        return RouterSummary(label, tuple(sorted(masters)), holders, n_changes,
                             sum(b - a for a, b in gaps), tuple(gaps), tuple(duals))


def run_whatif(
    cluster: Cluster, events: Sequence[Event], until_us: int | None = None,
    reloads: Mapping[str, Model] | None = None, addresses: Mapping[str, str] | None = None,
) -> Outcome:
    """Run the events on the cluster; until `until_us` (default: 15 s after the last event)."""
    w = WhatIf(cluster, addresses)
    w.schedule(events, reloads or {})
    end = until_us if until_us is not None else max((e.time_us for e in events), default=0) + 15 * SEC
    return w.run(end)


def duration(us: int) -> str:
    return f"{us / SEC:.3f} s" if us >= 1000 or not us else f"{us} µs"


def render(out: Outcome) -> list[str]:
    """The timeline and the summary, as text lines."""
    lines = ["timeline (seconds from the start; simulated: the daemon's VRRP core on virtual time)"]
    width = max((len(e.node) for e in out.entries), default=4)
    for e in out.entries:
        lines.append(f"  {e.time_us / SEC:8.3f} s  {e.node:<{width}}  {e.label:<28} {e.detail}".rstrip())
    for r in out.routers:
        for a, b in r.gaps:
            lines.append(f"  {a / SEC:8.3f} s  {'':<{width}}  no MASTER for {duration(b - a)} ({r.label})")
        for a, b in r.duals:
            lines.append(f"  {a / SEC:8.3f} s  {'':<{width}}  two MASTERs for {duration(b - a)} ({r.label})")
    lines.sort(key=lambda s: (float(s.split()[0]) if s.startswith("  ") else -1.0))
    lines.append("")
    lines.append(f"summary at {out.until_us / SEC:g} s")
    for r in out.routers:
        master = ", ".join(r.masters) or "none"
        vips = ", ".join(r.holders) or "nobody"
        lines.append(f"  {r.label}: MASTER {master}; VIPs on {vips}; {r.changes} master change(s); "
                     f"no MASTER for {duration(r.no_master_us)} after the first election"
                     + (f"; two MASTERs for {duration(r.dual_master_us)}" if r.dual_master_us else ""))
    assumed = ", ".join(f"{n} {a}" for n, a in out.assumed.items())
    lines.append("")
    lines.append(NOT_MODELLED.format(addrs=assumed))
    return lines


__all__ = ["ClusterNode", "Event", "EventError", "Outcome", "parse_events", "render", "run_whatif"]
