# Theory of operation
# -------------------
# Checks over a Simulation's current state and trace. Connectivity is what the LAN says now: nodes
# that are alive, whose links are up and that are in the same partition form a component; every
# component holding a non-FAULT instance of a VRID must have exactly one MASTER for it, and (with
# preemption) that master must have the highest effective priority in the component. Ties between
# equal priorities are resolved by address only when masters meet (RFC 5798 §6.4.3), a backup
# never preempts an equal-priority master, so for ties any of the tied routers is accepted unless
# `strict_ties` (simultaneous start) is asked for. Violations raise InvariantError with a
# description that includes the seed, so a failing run can be replayed.
"""Invariant checkers for simulator runs."""

from __future__ import annotations

from pykeepalived.sim.scenario import Simulation
from pykeepalived.vrrp.effects import State
from pykeepalived.vrrp.instance import VrrpInstance


class InvariantError(AssertionError):
    pass


def components(sim: Simulation, segment: str = "lan0") -> list[list[str]]:
    """Groups of live node names that currently hear each other on `segment`."""
    lan = sim.lans[segment]
    nodes = [p.name for p in lan.ports if p.alive and lan.link_up.get(p.name, False)]
    comps: list[list[str]] = []
    for n in nodes:
        for c in comps:
            if lan.connected(n, c[0]):
                c.append(n)
                break
        else:
            comps.append([n])
    return comps


def _instances(sim: Simulation, names: list[str], vrid: int) -> list[tuple[str, VrrpInstance]]:
    out = []
    for n in names:
        for inst in sim.nodes[n].engine.instances.values():
            if inst.params.vrid == vrid:
                out.append((n, inst))
    return out


def check_converged(sim: Simulation, vrid: int, segment: str = "lan0", *, strict_ties: bool = False) -> None:
    """Exactly one master per component; the best router is master (unless nopreempt is involved)."""
    for comp in components(sim, segment):
        insts = [(n, i) for n, i in _instances(sim, comp, vrid) if i.state not in (State.FAULT, State.STOP)]
        if not insts:
            continue
        masters = [(n, i) for n, i in insts if i.state == State.MASTER]
        where = f"seed={sim.seed} t={sim.clock.now()} vrid={vrid} component={sorted(comp)}"
        if len(masters) != 1:
            states = {n: (i.state.name, i.effective_priority) for n, i in insts}
            raise InvariantError(f"{where}: {len(masters)} masters: {states}")
        if any(i.params.nopreempt or i.params.preempt_delay_us for _n, i in insts):
            continue
        best = max(i.effective_priority for _n, i in insts)
        mnode, minst = masters[0]
        if minst.effective_priority != best:
            states = {n: (i.state.name, i.effective_priority) for n, i in insts}
            raise InvariantError(
                f"{where}: master {mnode} has priority {minst.effective_priority} < {best}: {states}"
            )
        if strict_ties:
            tied = [i for _n, i in insts if i.effective_priority == best]
            top = max(int(i.own_src) for i in tied if i.own_src is not None)
            if minst.own_src is None or int(minst.own_src) != top:
                raise InvariantError(f"{where}: master {mnode} is not the highest address among ties")


def check_sync_groups(sim: Simulation) -> None:
    """All members of every sync group of every live node are in the same state."""
    for node in sim.nodes.values():
        if not node.alive:
            continue
        for g in node.engine.groups.values():
            states = {m.state for m in g.members}
            if len(states) > 1:
                raise InvariantError(f"seed={sim.seed} node {node.name} sync group {g.name} split: {states}")


def check_vips_held_by_masters(sim: Simulation) -> None:
    """A live node holds an instance's VIPs exactly while that instance is MASTER."""
    for node in sim.nodes.values():
        if not node.alive:
            continue
        for inst in node.engine.instances.values():
            held = bool(node.held.get(inst.name))
            want = inst.state == State.MASTER and bool(inst.params.vips or inst.params.evips)
            if held != want:
                raise InvariantError(
                    f"seed={sim.seed} t={sim.clock.now()} {node.name}/{inst.name} "
                    f"state {inst.state.name} but holds VIPs={held}"
                )


def takeover_time(sim: Simulation, node: str, after: int, instance: str = "VI_1") -> int | None:
    """Time of the first transition of node/instance to MASTER at or after `after`."""
    for t in sim.trace:
        if t.node == node and t.instance == instance and t.new == State.MASTER and t.time >= after:
            return t.time
    return None


def last_advert(sim: Simulation, node: str, before: int, instance: str = "VI_1") -> int | None:
    """Time of the last advert `node` sent at or before `before`."""
    last = None
    for r in sim.txlog:
        if r.time > before:
            break
        if r.node == node and r.instance == instance:
            last = r.time
    return last
