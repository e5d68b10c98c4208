"""Pure checker / quorum state machines (keepalived.md §1.12.6) and the LVS planner."""

from __future__ import annotations

import ast
import pathlib

from hypothesis import given
from hypothesis import strategies as st

from pykeepalived.check.model import (
    SEC,
    MiscCheckSpec,
    RealServerSpec,
    TcpCheckSpec,
    Timing,
    TimingOpts,
    VirtualServerSpec,
    resolve_timing,
)
from pykeepalived.check.state import (
    CheckerState,
    FifoLine,
    LogLine,
    RunScript,
    StateTrap,
    VirtualServerState,
)
from pykeepalived.lvs.model import Dest, Protocol, Service, ServiceKey, make_entry
from pykeepalived.lvs.plan import AddDest, AddService, DelDest, DelService, EditDest, apply_ops, plan

VS_KEY = ServiceKey(4, Protocol.TCP, "203.0.113.10", 80)


def timing(retry: int = 2, alpha: bool = False) -> Timing:
    return Timing(delay_loop=6 * SEC, connect_timeout=SEC, retry=retry, delay_before_retry=SEC, warmup=0,
                  alpha=alpha)


def texts(fx: list) -> list[str]:
    return [e.text for e in fx if isinstance(e, LogLine)]


def test_checker_retries_then_reports_down_and_up() -> None:
    cs = CheckerState("TCP_CHECK", "[192.0.2.11]:tcp:80", timing(retry=2))
    assert cs.result(True).report is True  # first verdict is always reported
    assert cs.result(True).report is None
    v1 = cs.result(False)
    assert (v1.report, v1.delay) == (None, SEC)
    v2 = cs.result(False)
    assert (v2.report, v2.delay) == (None, SEC)
    v3 = cs.result(False)
    assert v3.report is False and v3.delay == 6 * SEC
    assert texts(list(v3.log)) == ["TCP_CHECK on service [192.0.2.11]:tcp:80 failed after 2 retries."]
    assert cs.result(False).report is None  # stays down, nothing new
    v = cs.result(True)
    assert v.report is True and texts(list(v.log)) == ["TCP connection to [192.0.2.11]:tcp:80 success."]


def test_checker_success_between_failures_resets_retry() -> None:
    cs = CheckerState("HTTP_GET", "[192.0.2.11]:tcp:80", timing(retry=1))
    cs.result(True)
    assert cs.result(False).report is None
    assert cs.result(True).report is None  # recovered within the retry window
    assert cs.result(False).report is None
    assert cs.result(False).report is False


def test_alpha_starts_down_first_success_reports_up() -> None:
    cs = CheckerState("TCP_CHECK", "[192.0.2.11]:tcp:80", timing(retry=0, alpha=True))
    assert cs.is_up is False
    assert cs.result(True).report is True


def test_first_failure_without_retry_logs_plain_failed() -> None:
    cs = CheckerState("TCP_CHECK", "[192.0.2.11]:tcp:80", timing(retry=0))
    v = cs.result(False)
    assert v.report is False
    assert texts(list(v.log)) == ["TCP_CHECK on service [192.0.2.11]:tcp:80 failed."]


def vs_spec(**kw: object) -> VirtualServerSpec:
    rss = tuple(RealServerSpec(addr=f"192.0.2.{11 + i}", port=80, weight=1, checks=(TcpCheckSpec(),),
                               notify_down="/bin/true down") for i in range(3))
    base: dict[str, object] = dict(key=VS_KEY, scheduler="rr", real_servers=rss)
    base.update(kw)
    return VirtualServerSpec(**base)  # type: ignore[arg-type]


def dest_addrs(st: VirtualServerState) -> dict[str, int]:
    return {d.addr: d.weight for d in st.desired().dests.values()}


def test_quorum_lost_sorry_server_takes_over_and_gives_back() -> None:
    sorry = RealServerSpec(addr="192.0.2.20", port=80)
    st = VirtualServerState(vs_spec(quorum=2, sorry_server=sorry))
    # keepalived's init_service_vs: quorum starts down and is gained as the pool is programmed
    assert st.start() == [LogLine("Gained quorum 2+0=2 <= 3 for VS [203.0.113.10]:tcp:80"),
                          StateTrap(st.spec, None, False, 3, 3, 1),
                          FifoLine("VS [203.0.113.10]:tcp:80 UP")]
    assert dest_addrs(st) == {"192.0.2.11": 1, "192.0.2.12": 1, "192.0.2.13": 1}
    fx = st.checker_result(0, 0, False)
    assert texts(fx)[0] == "Removing service [192.0.2.11]:tcp:80 from VS [203.0.113.10]:tcp:80"
    assert RunScript("/bin/true down") in fx
    assert FifoLine("RS [192.0.2.11]:tcp:80 [203.0.113.10]:tcp:80 DOWN") in fx
    fx = st.checker_result(1, 0, False)
    t = texts(fx)
    assert "Lost quorum 2-0=2 > 1 for VS [203.0.113.10]:tcp:80" in t
    assert "Adding sorry server [192.0.2.20]:tcp:80 to VS [203.0.113.10]:tcp:80" in t
    assert "Removing alive servers from the pool for VS [203.0.113.10]:tcp:80" in t
    assert FifoLine("VS [203.0.113.10]:tcp:80 DOWN") in fx
    assert dest_addrs(st) == {"192.0.2.20": 1}
    fx = st.checker_result(0, 0, True)
    t = texts(fx)
    assert t[0] == "Adding service [192.0.2.11]:tcp:80 to VS [203.0.113.10]:tcp:80"
    assert "Gained quorum 2+0=2 <= 2 for VS [203.0.113.10]:tcp:80" in t
    assert "Removing sorry server [192.0.2.20]:tcp:80 from VS [203.0.113.10]:tcp:80" in t
    assert dest_addrs(st) == {"192.0.2.11": 1, "192.0.2.13": 1}


def test_hysteresis_thresholds() -> None:
    rss = tuple(RealServerSpec(addr=f"192.0.2.{11 + i}", port=80, weight=1) for i in range(5))
    st = VirtualServerState(VirtualServerSpec(key=VS_KEY, real_servers=rss, quorum=3, hysteresis=1))
    st.checker_result(0, 0, False)
    st.checker_result(1, 0, False)
    assert st.quorum_up  # 3 >= 2
    fx = st.checker_result(2, 0, False)
    assert "Lost quorum 3-1=2 > 2 for VS [203.0.113.10]:tcp:80" not in texts(fx)  # 2 is not < 2
    fx = st.checker_result(3, 0, False)
    assert "Lost quorum 3-1=2 > 1 for VS [203.0.113.10]:tcp:80" in texts(fx)
    st.checker_result(0, 0, True)
    st.checker_result(1, 0, True)
    assert not st.quorum_up  # 3 < 4
    fx = st.checker_result(2, 0, True)
    assert "Gained quorum 3+1=4 <= 4 for VS [203.0.113.10]:tcp:80" in texts(fx)


def test_inhibit_on_failure_keeps_dest_with_weight_zero() -> None:
    st = VirtualServerState(vs_spec(inhibit_on_failure=True))
    fx = st.checker_result(2, 0, False)
    assert texts(fx)[0] == "Disabling service [192.0.2.13]:tcp:80 from VS [203.0.113.10]:tcp:80"
    assert dest_addrs(st)["192.0.2.13"] == 0
    fx = st.checker_result(2, 0, True)
    assert texts(fx)[0] == "Enabling service [192.0.2.13]:tcp:80 to VS [203.0.113.10]:tcp:80"
    assert dest_addrs(st)["192.0.2.13"] == 1


def test_all_checkers_must_pass() -> None:
    rs = RealServerSpec(addr="192.0.2.11", port=80, checks=(TcpCheckSpec(), TcpCheckSpec()))
    st = VirtualServerState(VirtualServerSpec(key=VS_KEY, real_servers=(rs,)))
    st.checker_result(0, 0, False)
    st.checker_result(0, 1, False)
    assert not st.rs[0].alive
    st.checker_result(0, 0, True)
    assert not st.rs[0].alive
    st.checker_result(0, 1, True)
    assert st.rs[0].alive


def test_snmp_traps_carry_the_counts_of_their_moment() -> None:
    """realServerStateChange after each real server's notifies, virtualServerQuorumStateChange before
    the quorum scripts (ipwrapper.c do_rs_notifies / do_vs_notifies), and at stop one per live real
    server as it goes (realup counting down) then the quorum "stopping" (3)."""
    st = VirtualServerState(vs_spec(quorum=2))
    st.start()
    spec = st.spec
    rs = spec.real_servers
    assert [e for e in st.checker_result(0, 0, False) if isinstance(e, StateTrap)] == [
        StateTrap(spec, rs[0], False, 2, 3)]
    assert [e for e in st.checker_result(1, 0, False) if isinstance(e, StateTrap)] == [
        StateTrap(spec, rs[1], False, 1, 3), StateTrap(spec, None, False, 1, 3, 2)]
    assert [e for e in st.checker_result(0, 0, True) if isinstance(e, StateTrap)] == [
        StateTrap(spec, rs[0], True, 2, 3), StateTrap(spec, None, False, 2, 3, 1)]
    assert [e for e in st.shutdown() if isinstance(e, StateTrap)] == [
        StateTrap(spec, rs[0], False, 1, 3), StateTrap(spec, rs[2], False, 0, 3),
        StateTrap(spec, None, False, 0, 3, 3)]


def test_alpha_start_quorum_down_with_sorry() -> None:
    sorry = RealServerSpec(addr="192.0.2.20", port=80)
    st = VirtualServerState(vs_spec(sorry_server=sorry, alpha=True), start_down={0: {0}, 1: {0}, 2: {0}})
    fx = st.start()
    assert texts(fx)[:2] == ["Starting with quorum down 1-0=1 > 0 for VS [203.0.113.10]:tcp:80",
                             "Adding sorry server [192.0.2.20]:tcp:80 to VS [203.0.113.10]:tcp:80"]
    assert fx[-1] == FifoLine("VS [203.0.113.10]:tcp:80 DOWN")
    assert dest_addrs(st) == {"192.0.2.20": 1}


def test_misc_dynamic_weight() -> None:
    rs = RealServerSpec(addr="192.0.2.11", port=80, weight=5, checks=(MiscCheckSpec(misc_path="/x"),))
    st = VirtualServerState(VirtualServerSpec(key=VS_KEY, real_servers=(rs,)))
    fx = st.set_weight_delta(0, 0, 40 - 2 - 5)  # exit status 40 → weight 38
    assert texts(fx) == ["Changing weight from 5 to 38 for active service [192.0.2.11]:tcp:80 of VS "
                         "[203.0.113.10]:tcp:80"]
    assert dest_addrs(st) == {"192.0.2.11": 38}


def test_resolve_timing_order_and_defaults() -> None:
    vs = VirtualServerSpec(key=VS_KEY, timing=TimingOpts(delay_loop=10, retry=4))
    rs = RealServerSpec(addr="192.0.2.11", port=80, timing=TimingOpts(retry=2))
    t = resolve_timing(TcpCheckSpec(timing=TimingOpts(connect_timeout=3)), rs, vs)
    assert (t.delay_loop, t.retry, t.connect_timeout, t.delay_before_retry, t.warmup) == (
        10 * SEC, 2, 3 * SEC, SEC, 10 * SEC)
    t = resolve_timing(MiscCheckSpec(misc_path="/x"), RealServerSpec(addr="192.0.2.1", port=1),
                       VirtualServerSpec(key=VS_KEY))
    assert (t.retry, t.delay_loop) == (0, 60 * SEC)


# -- planner -----------------------------------------------------------------------------------------
SVC = Service(VS_KEY, "rr")


def test_plan_orders_adds_before_deletes() -> None:
    actual = {VS_KEY: make_entry(SVC, [Dest("192.0.2.11", 80), Dest("192.0.2.12", 80, 2)])}
    desired = {VS_KEY: make_entry(SVC, [Dest("192.0.2.12", 80, 3), Dest("192.0.2.20", 80)])}
    ops = plan(desired, actual)
    assert ops == [AddDest(VS_KEY, Dest("192.0.2.20", 80)), EditDest(VS_KEY, Dest("192.0.2.12", 80, 3)),
                   DelDest(VS_KEY, Dest("192.0.2.11", 80))]
    assert plan(desired, desired) == []
    other = ServiceKey(4, Protocol.UDP, "203.0.113.10", 53)
    ops = plan({other: make_entry(Service(other), [])}, desired)
    assert ops == [AddService(Service(other)), DelService(VS_KEY)]


addrs = st.sampled_from([f"192.0.2.{i}" for i in range(1, 6)])
dests = st.lists(st.builds(Dest, addrs, st.sampled_from([80, 8080]), st.integers(0, 3)), max_size=5)
keys = st.sampled_from([VS_KEY, ServiceKey(4, Protocol.UDP, "203.0.113.10", 53),
                        ServiceKey(4, Protocol.NONE, None, 0, fwmark=7)])
tables = st.dictionaries(keys, st.tuples(st.sampled_from(["rr", "wlc"]), dests), max_size=3).map(
    lambda d: {k: make_entry(Service(k, sched), ds) for k, (sched, ds) in d.items()})


@given(tables, tables)
def test_plan_converges(desired: dict, actual: dict) -> None:
    assert apply_ops(actual, plan(desired, actual)) == desired


def test_pure_modules_do_no_io() -> None:
    root = pathlib.Path(__file__).parents[2] / "src/pykeepalived"
    banned = {"socket", "asyncio", "subprocess", "time", "os", "pyroute2", "select", "threading"}
    for rel in ("check/state.py", "check/model.py", "lvs/plan.py", "lvs/model.py"):
        tree = ast.parse((root / rel).read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert n.split(".")[0] not in banned, f"{rel} imports {n}"


def test_group_entries_share_one_pool() -> None:
    """A virtual_server_group: every entry is a service with the same destinations; DR takes each
    service's port; a real server going down leaves every service of the group."""
    from pykeepalived.lvs.model import Forwarding

    k2 = ServiceKey(4, Protocol.TCP, "203.0.113.11", 8080)
    fw = ServiceKey(4, Protocol.NONE, None, 0, 7)
    st = VirtualServerState(vs_spec(group="G", extra_keys=(k2, fw), forwarding=Forwarding.DR))
    table = st.desired_table()
    assert list(table) == [VS_KEY, k2, fw]
    assert {d.port for d in table[VS_KEY].dests.values()} == {80}
    assert {d.port for d in table[k2].dests.values()} == {8080}
    assert {d.port for d in table[fw].dests.values()} == {0}
    assert table[k2].service.key == k2 and table[k2].service.scheduler == "rr"
    st.checker_result(0, 0, False)
    after = st.desired_table()
    assert all({d.addr for d in e.dests.values()} == {"192.0.2.12", "192.0.2.13"} for e in after.values())
    ops = plan(after, table)
    dels = sorted(str(op.service) for op in ops if isinstance(op, DelDest))
    assert dels == sorted(map(str, [VS_KEY, k2, fw]))
    assert list(st.desired_table([k2])) == [k2]


def test_ha_suspend_follows_local_addresses() -> None:
    """ha_suspend: only services whose address is local are programmed; checkers wait meanwhile."""
    from pykeepalived.check.scheduler import CheckerRuntime

    k2 = ServiceKey(4, Protocol.TCP, "203.0.113.11", 80)
    specs = [vs_spec(ha_suspend=True, group="G", extra_keys=(k2,)),
             vs_spec(key=ServiceKey(4, Protocol.TCP, "203.0.113.50", 80))]
    rt = CheckerRuntime(specs, local_addrs=set())
    rt._build()
    assert rt.suspended(0) and not rt.suspended(1)
    assert set(rt.desired()) == {specs[1].key}  # without ha_suspend: served whatever the addresses
    assert not rt._active[0].is_set() and rt._active[1].is_set()
    rt.set_local_addresses({"203.0.113.11"})
    assert not rt.suspended(0) and rt._active[0].is_set()
    assert set(rt.desired()) == {k2, specs[1].key}
    rt.set_local_addresses({"203.0.113.10", "203.0.113.11"})
    assert set(rt.desired()) == {VS_KEY, k2, specs[1].key}
    rt.set_local_addresses(set())
    assert rt.suspended(0) and not rt._active[0].is_set()
    untracked = CheckerRuntime(specs)
    untracked._build()
    assert not untracked.suspended(0)  # addresses not tracked: nothing suspended
