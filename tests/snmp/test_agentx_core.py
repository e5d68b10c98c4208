"""The AgentX core (snmp/): PDU encoding both byte orders, OID prefix compression, search ranges
for GetNext/GetBulk over scalars and tables, sets refused, and no I/O module imported."""

from __future__ import annotations

import ast
import struct
from pathlib import Path

import pykeepalived.snmp
from pykeepalived.snmp.agentx import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    Error,
    Header,
    ParseError,
    Pdu,
    PduType,
    SearchRange,
    Value,
    VarBind,
    VType,
    counter64,
    decode,
    encode,
    integer,
    octets,
)
from pykeepalived.snmp.mib import MibView, Scalar, Table
from pykeepalived.snmp.session import Registration, Session
from tests.vrrp.test_purity import FORBIDDEN, imported_roots

BASE = (1, 3, 6, 1, 4, 1, 9586, 100, 5, 2)


def view() -> MibView:
    rows = [((1,), "a"), ((2,), "b"), ((3,), "c")]
    v = MibView()
    v.add(
        Scalar((*BASE, 9), lambda: integer(9)),
        Table((*BASE, 3, 1), {2: lambda r: octets(r), 3: lambda r: None if r == "b" else integer(ord(r))},
              lambda: rows),
    )
    return v


def test_pdu_round_trip_with_internet_prefix() -> None:
    p = Pdu(Header(PduType.GETBULK, session_id=7, transaction_id=8, packet_id=9), non_repeaters=1,
            max_repetitions=10, ranges=[SearchRange((*BASE, 3), (*BASE, 4), True), SearchRange((1, 2), ())])
    raw = encode(p)
    assert raw[0] == 1 and raw[1] == PduType.GETBULK
    # 1.3.6.1.4.1... is sent as prefix 4 and the sub-identifiers after it
    assert raw[24:28] == bytes([len(BASE) + 1 - 5, 4, 1, 0])
    q = decode(raw)
    assert (q.header.session_id, q.header.transaction_id, q.header.packet_id) == (7, 8, 9)
    assert q.ranges == p.ranges and (q.non_repeaters, q.max_repetitions) == (1, 10)
    r = Pdu(Header(PduType.RESPONSE), varbinds=[VarBind((*BASE, 1), octets(b"abcde")),
                                                VarBind((*BASE, 2), counter64(1 << 40)),
                                                VarBind((*BASE, 3), integer(-3))])
    assert decode(encode(r)).varbinds == r.varbinds


def test_little_endian_pdus_from_the_master_are_read() -> None:
    body = struct.pack("<BBBx", 2, 0, 0) + struct.pack("<II", 1, 2) + bytes(4)  # OID 1.2, null end
    head = struct.pack("<BBBxIIII", 1, PduType.GETNEXT, 0, 5, 6, 7, len(body))
    p = decode(head + body)
    assert p.header.session_id == 5 and p.ranges == [SearchRange((1, 2), ())]


def test_truncated_pdu_is_a_parse_error() -> None:
    raw = encode(Pdu(Header(PduType.GET), ranges=[SearchRange(BASE, ())]))
    try:
        decode(raw[:-3])
    except ParseError:
        return
    raise AssertionError("no ParseError")


def test_getnext_walks_columns_skipping_absent_cells() -> None:
    v = view()
    names = []
    start = BASE
    while True:
        vb = v.getnext(SearchRange(start, ()))
        if vb.value == END_OF_MIB_VIEW:
            break
        names.append(vb.name[len(BASE):])
        start = vb.name
    assert names == [(3, 1, 2, 1), (3, 1, 2, 2), (3, 1, 2, 3), (3, 1, 3, 1), (3, 1, 3, 3), (9, 0)]


def test_search_range_include_and_end() -> None:
    v = view()
    assert v.getnext(SearchRange((*BASE, 3, 1, 2, 2), (), include=True)).name == (*BASE, 3, 1, 2, 2)
    assert v.getnext(SearchRange((*BASE, 3, 1, 2, 2), ())).name == (*BASE, 3, 1, 2, 3)
    end = v.getnext(SearchRange((*BASE, 3, 1, 3, 3), (*BASE, 9)))
    assert end.value == END_OF_MIB_VIEW and end.name == (*BASE, 3, 1, 3, 3)
    assert v.get((*BASE, 3, 1, 3, 2)) == NO_SUCH_INSTANCE
    assert v.get((*BASE, 9, 0)) == integer(9)


def test_getbulk_repeats_from_the_last_name() -> None:
    out = view().getbulk([SearchRange((*BASE, 9), ()), SearchRange((*BASE, 3, 1, 3), ())], 1, 5)
    assert [vb.name[len(BASE):] for vb in out] == [(9, 0), (3, 1, 3, 1), (3, 1, 3, 3), (9, 0),
                                                     (9, 0)]
    assert out[-1].value == END_OF_MIB_VIEW


def test_session_opens_registers_and_refuses_sets() -> None:
    s = Session("Keepalived", [Registration(BASE, view(), "The MIB module for X")])
    op = s.open_pdu()
    assert op.descr == b"Keepalived"
    out, problem = s.handle(Pdu(Header(PduType.RESPONSE, session_id=42, packet_id=op.header.packet_id)), 0)
    assert problem is None and s.open and s.session_id == 42
    assert [p.header.type for p in out] == [PduType.REGISTER, PduType.ADD_AGENT_CAPS]
    assert out[0].header.session_id == 42 and out[0].oid == BASE
    testset = Pdu(Header(PduType.TESTSET, session_id=42), varbinds=[VarBind((*BASE, 9, 0), integer(1))])
    out, _ = s.handle(testset, 0)
    assert out[0].error == Error.NOT_WRITABLE
    assert s.handle(Pdu(Header(PduType.CLEANUPSET, session_id=42)), 0)[0] == []
    n = s.notify_pdu(5, (*BASE, 10, 0, 2), [VarBind((*BASE, 3, 1, 2), octets("VI_1"))])
    sys_uptime, trap_oid = (1, 3, 6, 1, 2, 1, 1, 3, 0), (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
    assert [vb.name for vb in n.varbinds][:2] == [sys_uptime, trap_oid]
    assert decode(encode(n)).varbinds[1].value.type == VType.OBJECT_IDENTIFIER


def test_snmp_core_imports_no_io_modules() -> None:
    d = Path(pykeepalived.snmp.__file__).parent
    offenders = {m.name: sorted(imported_roots(ast.parse(m.read_text())) & FORBIDDEN) for m in d.glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_a_request_reads_each_table_once_and_the_next_reads_it_again() -> None:
    """MibView.request: a GetBulk over a table builds its rows once (a walk of 200 instances rebuilt
    them per cell and delayed the adverts, bench/bench_snmp.py); the next request sees new rows."""
    calls = []
    data = [((i,), i * 10) for i in range(1, 51)]

    def rows() -> list[tuple[tuple[int, ...], int]]:
        calls.append(1)
        return list(data)

    v = MibView()
    v.add(Table((1, 3, 6, 1, 4, 1, 99, 1, 1), {2: lambda r: integer(r), 3: lambda r: integer(r + 1)}, rows))
    out = v.getbulk([SearchRange((1, 3, 6, 1, 4, 1, 99), (1, 3, 6, 1, 4, 1, 100))], 0, 60)
    assert [vb.value for vb in out[:3]] == [integer(10), integer(20), integer(30)]
    assert len(out) == 60 and len(calls) == 1
    data.append(((51,), 510))
    out = v.getnext_many([SearchRange((1, 3, 6, 1, 4, 1, 99, 1, 1, 2, 50), (1, 3, 6, 1, 4, 1, 100))])
    assert out[0].value == integer(510) and len(calls) == 2


class _Writer:
    """A registration's writable object (*BASE, 9, 0): 1..5 accepted, other integers wrongValue."""

    def __init__(self) -> None:
        self.committed: list[int] = []

    def test(self, name: tuple[int, ...], value: Value) -> Error:
        if name != (*BASE, 9, 0):
            return Error.NOT_WRITABLE
        if value.type != VType.INTEGER:
            return Error.WRONG_TYPE
        return Error.NO_ERROR if isinstance(value.data, int) and 1 <= value.data <= 5 else Error.WRONG_VALUE

    def commit(self, name: tuple[int, ...], value: Value) -> None:
        assert isinstance(value.data, int)
        self.committed.append(value.data)


def test_set_is_tested_then_committed_and_dropped_on_error_or_cleanup() -> None:
    w = _Writer()
    s = Session("Keepalived", [Registration(BASE, view(), "The MIB module for X", w)])

    def send(t: PduType, *vbs: VarBind) -> list[Pdu]:
        return s.handle(Pdu(Header(t, session_id=1), varbinds=list(vbs)), 0)[0]

    good, bad = VarBind((*BASE, 9, 0), integer(3)), VarBind((*BASE, 9, 0), integer(7))
    out = send(PduType.TESTSET, good, bad)
    assert (out[0].error, out[0].index) == (Error.WRONG_VALUE, 2)
    assert send(PduType.COMMITSET)[0].error == Error.NO_ERROR and w.committed == []  # nothing kept
    out = send(PduType.TESTSET, VarBind((*BASE, 3, 1, 2, 97), integer(1)))
    assert (out[0].error, out[0].index) == (Error.NOT_WRITABLE, 1)
    assert send(PduType.TESTSET, VarBind((*BASE, 9, 0), octets("x")))[0].error == Error.WRONG_TYPE
    assert send(PduType.TESTSET, good)[0].error == Error.NO_ERROR
    assert send(PduType.CLEANUPSET) == [] and send(PduType.COMMITSET)[0].error == Error.NO_ERROR
    assert w.committed == []  # cleaned up before the commit
    send(PduType.TESTSET, good)
    send(PduType.COMMITSET)
    assert w.committed == [3]
    assert send(PduType.CLEANUPSET) == []
