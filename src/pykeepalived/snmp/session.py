# Theory of operation
# -------------------
# The subagent side of one AgentX session, as a state machine fed with decoded PDUs and returning
# the PDUs to write: Open, then one Register per registered subtree (and an AddAgentCaps per MIB
# for snmpd's sysORTable, as net-snmp's register_sysORTable does for keepalived), then requests.
# Sets (RFC 2741 7.2.4): a TestSet asks the registration's `Writer` to check each varbind (an
# object without one, or a subtree without a writer, is notWritable); the first error is answered
# with its 1-based index and nothing is kept. CommitSet then commits the tested varbinds in order
# (as keepalived's write handlers, a commit cannot fail); UndoSet and CleanupSet drop them (there
# is nothing to undo, as nothing is changed before the commit); CleanupSet gets no answer
# (RFC 2741 7.2.4.4). The session's uptime is
# given by the caller (TimeTicks, hundredths of a second since the subagent started).
"""One AgentX subagent session: open, register, answer requests, notify: pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pykeepalived.snmp.agentx import (
    NO_SUCH_OBJECT,
    NULL,
    OID,
    Error,
    Header,
    Pdu,
    PduType,
    Value,
    VarBind,
    objectid,
    timeticks,
)
from pykeepalived.snmp.mib import MibView

SYS_UPTIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0 = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
DEFAULT_TIMEOUT = 0  # the master's default (5 s in snmpd)


class Writer(Protocol):
    """The writable objects of a registration: check a value (TestSet), then apply it (CommitSet)."""

    def test(self, name: OID, value: Value) -> Error: ...

    def commit(self, name: OID, value: Value) -> None: ...


@dataclass
class Registration:
    subtree: OID
    view: MibView
    descr: str  # sysORDescr, "The MIB module for <name>"
    writer: Writer | None = None


class Session:
    def __init__(self, descr: str, registrations: Sequence[Registration]) -> None:
        self.descr = descr
        self.registrations = list(registrations)  # registered in this order (snmpd's sysORTable order)
        self._sorted = sorted(registrations, key=lambda r: r.subtree)
        self.session_id = 0
        self.open = False
        self._packet = 0
        self._pending: dict[int, str] = {}  # packet id -> what it was (open/register/caps/notify/ping)
        self._tested: list[tuple[Writer, VarBind]] = []  # the last TestSet's varbinds, until commit/cleanup

    def _hdr(self, t: PduType, what: str) -> Header:
        self._packet = (self._packet + 1) & 0xFFFFFFFF
        self._pending[self._packet] = what
        return Header(t, session_id=self.session_id, packet_id=self._packet)

    def open_pdu(self) -> Pdu:
        self.session_id = 0
        self.open = False
        self._pending.clear()
        return Pdu(self._hdr(PduType.OPEN, "open"), timeout=DEFAULT_TIMEOUT, descr=self.descr.encode())

    def after_open(self) -> list[Pdu]:
        out = [Pdu(self._hdr(PduType.REGISTER, "register"), oid=r.subtree) for r in self.registrations]
        out += [Pdu(self._hdr(PduType.ADD_AGENT_CAPS, "caps"), oid=r.subtree, descr=r.descr.encode())
                for r in self.registrations]
        return out

    def ping_pdu(self) -> Pdu:
        return Pdu(self._hdr(PduType.PING, "ping"))

    def close_pdu(self, reason: int) -> Pdu:
        p = Pdu(self._hdr(PduType.CLOSE, "close"))
        p.reason = reason  # type: ignore[assignment]
        return p

    def notify_pdu(self, uptime: int, trap: OID, varbinds: Sequence[VarBind]) -> Pdu:
        vbs = [VarBind(SYS_UPTIME_0, timeticks(uptime)), VarBind(SNMP_TRAP_OID_0, objectid(trap)), *varbinds]
        return Pdu(self._hdr(PduType.NOTIFY, "notify"), varbinds=vbs)

    def _registration(self, name: OID) -> Registration | None:
        for r in self.registrations:
            if name[:len(r.subtree)] == r.subtree:
                return r
        return None

    def _view(self, name: OID) -> MibView | None:
        r = self._registration(name)
        return r.view if r is not None else None

    def _test(self, varbinds: Sequence[VarBind]) -> tuple[Error, int]:
        self._tested = []
        tested = []
        for i, vb in enumerate(varbinds, 1):
            r = self._registration(vb.name)
            err = r.writer.test(vb.name, vb.value) if r is not None and r.writer is not None \
                else Error.NOT_WRITABLE
            if err != Error.NO_ERROR:
                return err, i
            assert r is not None and r.writer is not None
            tested.append((r.writer, vb))
        self._tested = tested
        return Error.NO_ERROR, 0

    def _commit(self) -> None:
        tested, self._tested = self._tested, []
        for writer, vb in tested:
            writer.commit(vb.name, vb.value)

    def handle(self, p: Pdu, uptime: int) -> tuple[list[Pdu], str | None]:
        """Answer one PDU from the master: (PDUs to send, a problem to log or None).

        A Response to our Open sets the session id and yields the registrations."""
        h = p.header
        t = h.type
        if t == PduType.RESPONSE:
            what = self._pending.pop(h.packet_id, None)
            if what == "open":
                if p.error:
                    return [], f"open refused (error {p.error})"
                self.session_id = h.session_id
                self.open = True
                return self.after_open(), None
            if p.error and what in ("register", "caps", "notify"):
                return [], f"{what} refused (error {p.error})"
            return [], None
        if t == PduType.CLOSE:
            self.open = False
            return [], None
        resp = Pdu(Header(PduType.RESPONSE, session_id=h.session_id, transaction_id=h.transaction_id,
                          packet_id=h.packet_id), sys_uptime=uptime)
        if t in (PduType.GET, PduType.GETNEXT, PduType.GETBULK):
            try:
                resp.varbinds = self._answer(p)
            except Exception as exc:  # a getter's bug: genErr for this request, the session goes on
                resp.error, resp.index = Error.GEN_ERR, 1
                resp.varbinds = [VarBind(r.start, NULL) for r in p.ranges]
                return [resp], f"internal error answering {t.name}: {exc!r}"
        elif t == PduType.TESTSET:
            resp.error, resp.index = self._test(p.varbinds)
            resp.varbinds = p.varbinds
        elif t == PduType.COMMITSET:
            try:
                self._commit()
            except Exception as exc:  # a writer's bug: the session goes on
                resp.error, resp.index = Error.GEN_ERR, 1
                return [resp], f"internal error committing a set: {exc!r}"
        elif t in (PduType.UNDOSET, PduType.CLEANUPSET):
            self._tested = []
            if t == PduType.CLEANUPSET:
                return [], None
        elif t == PduType.PING:
            pass
        else:
            resp.error = Error.PROCESSING_ERROR
        return [resp], None

    def _answer(self, p: Pdu) -> list[VarBind]:
        t = p.header.type
        out: list[VarBind] = []
        if t == PduType.GET:
            for r in p.ranges:
                view = self._view(r.start)
                out.append(VarBind(r.start, view.get(r.start) if view else NO_SUCH_OBJECT))
            return out
        merged = _Merged(self._sorted)
        if t == PduType.GETNEXT:
            return merged.getnext_many(p.ranges)
        return merged.getbulk(p.ranges, p.non_repeaters, p.max_repetitions)


class _Merged(MibView):
    """Every registration's nodes as one view (a range may cross from one subtree to the next)."""

    def __init__(self, regs: Sequence[Registration]) -> None:
        super().__init__([n for r in regs for n in r.view.nodes])
