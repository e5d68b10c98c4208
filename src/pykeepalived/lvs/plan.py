"""Pure planner: desired vs actual LVS table → ordered list of operations.

# Theory of operation
`plan(desired, actual)` compares two `LvsTable`s and returns the operations that make the kernel match
the desired table, in an order that never leaves a live service without destinations longer than
needed: services are added (and edited) first, then destinations are added and edited, then stale
destinations are deleted, and services that are no longer wanted go last (deleting a service deletes
its destinations with it, as in IPVS). It is used at start-up (actual = what the kernel holds), after
every checker transition (actual = the previous desired table) and on reload.

No I/O: this module must not import socket, asyncio, subprocess, time, os or pyroute2.
"""

from __future__ import annotations

from dataclasses import dataclass

from pykeepalived.lvs.model import Dest, LvsTable, Service, ServiceEntry, ServiceKey


@dataclass(frozen=True, slots=True)
class AddService:
    service: Service


@dataclass(frozen=True, slots=True)
class EditService:
    service: Service


@dataclass(frozen=True, slots=True)
class DelService:
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: Dest


@dataclass(frozen=True, slots=True)
class EditDest:
    service: ServiceKey
    dest: Dest


@dataclass(frozen=True, slots=True)
class DelDest:
    service: ServiceKey
    dest: Dest


LvsOp = AddService | EditService | DelService | AddDest | EditDest | DelDest


def _order(k: ServiceKey) -> tuple[int, str, str, int, int]:
    return (k.family, k.protocol.value, k.addr or "", k.port, k.fwmark)


def plan(desired: LvsTable, actual: LvsTable) -> list[LvsOp]:
    add_svc: list[LvsOp] = []
    edit_svc: list[LvsOp] = []
    add_dest: list[LvsOp] = []
    edit_dest: list[LvsOp] = []
    del_dest: list[LvsOp] = []
    del_svc: list[LvsOp] = []
    for key in sorted(desired, key=_order):
        want = desired[key]
        have = actual.get(key)
        if have is None:
            add_svc.append(AddService(want.service))
            add_dest.extend(AddDest(key, want.dests[d]) for d in sorted(want.dests))
            continue
        if have.service != want.service:
            edit_svc.append(EditService(want.service))
        for dkey in sorted(want.dests):
            wd = want.dests[dkey]
            hd = have.dests.get(dkey)
            if hd is None:
                add_dest.append(AddDest(key, wd))
            elif hd.forwarding != wd.forwarding:
                # IPVS cannot change a destination's forwarding method in place on old kernels: re-add
                del_dest.append(DelDest(key, hd))
                add_dest.append(AddDest(key, wd))
            elif hd != wd:
                edit_dest.append(EditDest(key, wd))
        del_dest.extend(DelDest(key, have.dests[d]) for d in sorted(have.dests) if d not in want.dests)
    for key in sorted(actual, key=_order):
        if key not in desired:
            del_svc.append(DelService(key))
    # a re-added destination (forwarding change) must be deleted before it is added again
    readd = [op for op in del_dest if isinstance(op, DelDest) and any(
        isinstance(a, AddDest) and a.service == op.service and a.dest.key == op.dest.key for a in add_dest)]
    rest = [op for op in del_dest if op not in readd]
    return [*add_svc, *edit_svc, *readd, *add_dest, *edit_dest, *rest, *del_svc]


def apply_ops(table: LvsTable, ops: list[LvsOp]) -> dict[ServiceKey, ServiceEntry]:
    """Apply ops to a table value (used by tests and by data planes that keep their own view)."""
    out: dict[ServiceKey, ServiceEntry] = dict(table)
    for op in ops:
        match op:
            case AddService(service=s) | EditService(service=s):
                old = out.get(s.key)
                out[s.key] = ServiceEntry(s, old.dests if old else {})
            case DelService(key=k):
                out.pop(k, None)
            case AddDest(service=k, dest=d) | EditDest(service=k, dest=d):
                dests = dict(out[k].dests)
                dests[d.key] = d
                out[k] = ServiceEntry(out[k].service, dests)
            case DelDest(service=k, dest=d):
                dests = dict(out[k].dests)
                dests.pop(d.key, None)
                out[k] = ServiceEntry(out[k].service, dests)
    return out
