# Theory of operation
# -------------------
# A MIB view is a sorted list of nodes, each answering for one scalar or one table. Nothing is
# copied ahead of a request: a Scalar holds a getter, a Table a row lister (index tuple, row object)
# and one getter per column, and a Get/GetNext reads just the cells it returns, at the moment the
# request arrives (as keepalived's net-snmp handlers read its live structures). A getter returning
# None means "no value for this row" (keepalived returns NULL: a walk skips the cell).
#
# GetNext follows RFC 2741 search ranges: the first instance >= start (> start unless `include`),
# below `end` when end is set, else endOfMibView. GetBulk is non-repeaters GetNexts then up to
# max-repetitions rounds over the repeaters, each from the last name returned.
"""Scalars and tables answering AgentX Get/GetNext/GetBulk from live getters: pure, no I/O."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.snmp.agentx import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    OID,
    SearchRange,
    Value,
    VarBind,
)

Getter = Callable[[], Value | None]
Cell = Callable[[Any], Value | None]
Rows = Callable[[], Sequence[tuple[OID, Any]]]

MAX_REPETITIONS = 256  # GetBulk rounds answered at most (snmpd asks for 10 by default)


@dataclass
class Scalar:
    oid: OID  # the object; its instance is oid + (0,)
    get: Getter

    @property
    def base(self) -> OID:
        return self.oid

    def next(self, start: OID, include: bool) -> tuple[OID, Value] | None:
        name = (*self.oid, 0)
        if name > start or (include and name == start):
            v = self.get()
            if v is not None:
                return name, v
        return None

    def lookup(self, name: OID) -> Value:
        if name == (*self.oid, 0):
            v = self.get()
            return NO_SUCH_INSTANCE if v is None else v
        return NO_SUCH_INSTANCE if name[:len(self.oid)] == self.oid else NO_SUCH_OBJECT


@dataclass
class Table:
    entry: OID  # xxxEntry; a cell is entry + (column,) + index
    columns: Mapping[int, Cell]
    rows: Rows  # (index, row) sorted by index
    # the rows and their indexes, kept for the duration of one request (MibView.request): a walk's
    # GetBulk asks for many cells of one table, and building the rows is the costly part
    _snap: tuple[Sequence[tuple[OID, Any]], list[OID]] | None = field(default=None, init=False,
                                                                       repr=False, compare=False)
    _hold: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def base(self) -> OID:
        return self.entry

    def snapshot(self) -> tuple[Sequence[tuple[OID, Any]], list[OID]]:
        if self._snap is not None:
            return self._snap
        rows = self.rows()
        snap = (rows, [r[0] for r in rows])
        if self._hold:
            self._snap = snap
        return snap

    def next(self, start: OID, include: bool) -> tuple[OID, Value] | None:
        rows: Sequence[tuple[OID, Any]] | None = None
        keys: list[OID] = []
        n = len(self.entry)
        for col in sorted(self.columns):
            cbase = (*self.entry, col)
            head = start[:n + 1]
            if head > cbase:
                continue
            if rows is None:
                rows, keys = self.snapshot()
                if not rows:
                    return None
            if head == cbase:
                target = start[n + 1:]
                i = bisect.bisect_left(keys, target) if include else bisect.bisect_right(keys, target)
                # an index shorter than the table's (a prefix) sorts before its extensions
                cand: Iterable[tuple[OID, Any]] = rows[i:]
            else:
                cand = rows
            get = self.columns[col]
            for idx, row in cand:
                v = get(row)
                if v is not None:
                    return (*cbase, *idx), v
        return None

    def lookup(self, name: OID) -> Value:
        n = len(self.entry)
        if name[:n] != self.entry or len(name) <= n + 1 or name[n] not in self.columns:
            return NO_SUCH_OBJECT
        idx = name[n + 1:]
        rows, keys = self.snapshot()
        i = bisect.bisect_left(keys, idx)
        if i < len(keys) and keys[i] == idx:
            v = self.columns[name[n]](rows[i][1])
            return NO_SUCH_INSTANCE if v is None else v
        return NO_SUCH_INSTANCE


Node = Scalar | Table


@dataclass
class MibView:
    """The nodes one registration serves, in OID order."""

    nodes: list[Node] = field(default_factory=list)

    def add(self, *nodes: Node) -> None:
        self.nodes.extend(nodes)
        self.nodes.sort(key=lambda n: n.base)

    def get(self, name: OID) -> Value:
        for node in self.nodes:
            base = node.base
            if name[:len(base)] == base:
                return node.lookup(name)
        return NO_SUCH_OBJECT

    def getnext(self, r: SearchRange) -> VarBind:
        for node in self.nodes:
            base = node.base
            # skip nodes wholly before start
            if base < r.start[:len(base)]:
                continue
            if r.end and base >= r.end:
                break
            found = node.next(r.start, r.include)
            if found is not None:
                name, v = found
                if r.end and name >= r.end:
                    break
                return VarBind(name, v)
        return VarBind(r.start, END_OF_MIB_VIEW)

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """One request's answers read each table's rows once (see Table.snapshot)."""
        tables = [n for n in self.nodes if isinstance(n, Table)]
        for t in tables:
            t._hold = True
        try:
            yield
        finally:
            for t in tables:
                t._hold, t._snap = False, None

    def get_many(self, ranges: Sequence[SearchRange]) -> list[VarBind]:
        with self.request():
            return [VarBind(r.start, self.get(r.start)) for r in ranges]

    def getnext_many(self, ranges: Sequence[SearchRange]) -> list[VarBind]:
        with self.request():
            return [self.getnext(r) for r in ranges]

    def getbulk(self, ranges: Sequence[SearchRange], non_repeaters: int,
                max_repetitions: int) -> list[VarBind]:
        with self.request():
            return self._getbulk(ranges, non_repeaters, max_repetitions)

    def _getbulk(self, ranges: Sequence[SearchRange], non_repeaters: int,
                 max_repetitions: int) -> list[VarBind]:
        out = [self.getnext(r) for r in ranges[:non_repeaters]]
        reps = list(ranges[non_repeaters:])
        for _ in range(min(max_repetitions, MAX_REPETITIONS)):
            if not reps:
                break
            row = [self.getnext(r) for r in reps]
            out.extend(row)
            if all(vb.value == END_OF_MIB_VIEW for vb in row):
                break
            reps = [SearchRange(vb.name, r.end) for vb, r in zip(row, reps, strict=True)]
        return out
