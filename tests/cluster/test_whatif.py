"""pykeepalived-cluster whatif: the demo's scenarios with events, run through the simulator; the
times are the protocol's (virtual time, deterministic), checked against the RFC timer formulas."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pykeepalived.cluster.cli import main
from pykeepalived.cluster.whatif import EventError, Outcome, parse_events, run_whatif
from pykeepalived.config.load import load_config
from pykeepalived.vrrp.params import SEC
from pykeepalived.vrrp.timers import master_down_interval, skew_time
from tests.cluster.scenarios import Inst, NodeConf, cluster, dual_master, ha_nginx, nopreempt, unicast, write


def masters(out: Outcome) -> list[tuple[float, str, str]]:
    """(time s, node, instance) of every entry into MASTER."""
    return [(e.time_us / SEC, e.node, e.label.split()[0]) for e in out.entries
            if e.label.endswith("-> MASTER")]


def events(text: str, nodes: tuple[str, ...] = ("node1", "node2", "node3")) -> list:
    return parse_events(text.splitlines(), "events", nodes)[0]


def test_ha_nginx_check_failure_and_recovery(tmp_path: Path) -> None:
    c = cluster(tmp_path, ha_nginx())
    out = run_whatif(c, events("10 node1 fail chk_nginx\n20 node1 recover chk_nginx"), 30 * SEC)
    got = masters(out)
    assert [(n, i) for _, n, i in got] == [("node1", "VI_1"), ("node2", "VI_1"), ("node1", "VI_1")]
    first = master_down_interval(2, 101, SEC)
    assert got[0][0] == pytest.approx(first / SEC)
    # node1 advertises 96 from 11 s (fall 1 x interval 1 s); node2 ignores it and takes over one master
    # down interval after node1's last advert at 101 (sent every second from the election)
    last_101 = first + 7 * SEC
    assert got[1][0] == pytest.approx((last_101 + 100 + master_down_interval(2, 100, SEC)) / SEC, abs=1e-4)
    [r] = out.routers
    assert r.masters == ("node1",) and r.holders == ("node1",) and r.changes == 2
    assert len(r.duals) == 2 and all(b - a == 100 for a, b in r.duals)  # the LAN's delay, at each change
    notify = [e.detail for e in out.entries if e.label == "notify" and e.node == "node2"]
    assert "notify: /usr/local/bin/notify.sh INSTANCE VI_1 MASTER 100" in notify


def test_node_down_leaves_a_gap_of_the_master_down_interval(tmp_path: Path) -> None:
    out = run_whatif(cluster(tmp_path, ha_nginx(3)), events("10 node1 down"), 20 * SEC)
    [r] = out.routers
    assert r.masters == ("node2",)
    [(a, b)] = r.gaps
    assert a == 10 * SEC
    # node1's last advert: 3.605 + 6 s; node2 (101) waits its own master down interval after it
    assert b == master_down_interval(2, 101, SEC) * 1 + 6 * SEC + 100 + master_down_interval(2, 100, SEC)


def test_dual_master_one_node_down_the_other_takes_both(tmp_path: Path) -> None:
    out = run_whatif(cluster(tmp_path, dual_master()), events("10 node1 down\n20 node1 up"), 30 * SEC)
    got = [(n, i) for _, n, i in masters(out)]
    assert got[:2] in ([("node1", "VI_1"), ("node2", "VI_2")], [("node2", "VI_2"), ("node1", "VI_1")])
    assert got[2:] == [("node2", "VI_1"), ("node1", "VI_1")]
    assert [r.masters for r in out.routers] == [("node1",), ("node2",)]


def test_nopreempt_the_vip_stays_after_the_node_returns(tmp_path: Path) -> None:
    out = run_whatif(cluster(tmp_path, nopreempt()), events("10 node1 down\n15 node1 up"), 40 * SEC)
    assert [n for _, n, _ in masters(out)] == ["node1", "node2"]
    assert out.routers[0].masters == ("node2",)


def test_unicast_peers_carry_the_adverts(tmp_path: Path) -> None:
    out = run_whatif(cluster(tmp_path, unicast(3)), events("10 node1 stop"), 20 * SEC)
    assert [n for _, n, _ in masters(out)] == ["node1", "node2"]
    # a graceful stop: priority 0, node2 takes over after its skew time only
    took = round(masters(out)[1][0] * SEC)
    assert took == 10 * SEC + 100 + skew_time(2, 100, SEC)
    assert out.routers[0].gaps == ((10 * SEC, took),)


def test_link_down_is_fault_and_back(tmp_path: Path) -> None:
    out = run_whatif(cluster(tmp_path, ha_nginx()), events("10 node1 link down\n20 node1 link up"), 30 * SEC)
    labels = [(e.node, e.label) for e in out.entries if "->" in e.label and e.node == "node1"]
    assert labels == [("node1", "VI_1 -> BACKUP"), ("node1", "VI_1 -> MASTER"), ("node1", "VI_1 -> FAULT"),
                      ("node1", "VI_1 -> BACKUP"), ("node1", "VI_1 -> MASTER")]


def test_reload_with_a_different_vip_list_splits_the_brain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = write(tmp_path, ha_nginx())
    bad = ha_nginx()[1]
    bad.instances[0].vips = ("192.0.2.100/24", "192.0.2.101/24")
    (tmp_path / "node2-new.conf").write_text(bad.text())
    code = main(["whatif", *args, "-e", f"10 node2 reload {tmp_path / 'node2-new.conf'}", "--until", "30"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "two MASTERs for" in out and "MASTER node1, node2" in out
    assert "not modelled: script run times" in out


def test_reload_keeping_the_file_changes_nothing(tmp_path: Path) -> None:
    c = cluster(tmp_path, ha_nginx())
    model, _ = load_config(str(tmp_path / "node1.conf"), "node1")
    out = run_whatif(c, events("10 node1 reload same"), 30 * SEC, {"same": model})
    assert [n for _, n, _ in masters(out)] == ["node1"]
    assert not out.routers[0].gaps


def test_a_node_whose_first_event_is_up_starts_down(tmp_path: Path) -> None:
    out = run_whatif(cluster(tmp_path, ha_nginx()), events("10 node1 up"), 20 * SEC)
    assert [n for _, n, _ in masters(out)] == ["node2", "node1"]


@pytest.mark.parametrize("line, message", [
    ("x node1 down", "'x' is not a time in seconds"),
    ("5 node9 down", "unknown node 'node9'"),
    ("5 node1 jump", "unknown action 'jump'"),
    ("5 node1 fail", "'fail' takes 1 argument(s)"),
    ("5 node1 link sideways", "expected: link down|up [IFACE]"),
    ("5 node1", "expected: TIME NODE ACTION [ARG]"),
])
def test_bad_events_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(EventError) as exc:
        parse_events(["# a comment", "", line], "ev.txt", ["node1", "node2"])
    assert str(exc.value).startswith("(ev.txt: Line 3) ") and message in str(exc.value)


def test_relative_times_and_end() -> None:
    evs, end = parse_events(["at 5 node1 down", "+2.5 node1 up", "end 20"], "f", ["node1"])
    assert [(e.time_us, e.action) for e in evs] == [(5 * SEC, "down"), (7_500_000, "up")] and end == 20 * SEC


def test_cli_events_file_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = write(tmp_path, ha_nginx())
    ev = tmp_path / "events"
    ev.write_text("10 node1 fail chk_nginx   # nginx dies\nend 20\n")
    assert main(["whatif", *args, "--events", str(ev)]) == 0
    out = capsys.readouterr().out
    assert "event: fail chk_nginx" in out and "summary at 20 s" in out and "MASTER node2" in out
    ev.write_text("10 node1 fail chk_nope\n")
    assert main(["whatif", *args, "--events", str(ev)]) == 4
    assert "node1 has no vrrp_script chk_nope" in capsys.readouterr().err
    assert main(["whatif", *args, "--events", str(tmp_path / "missing")]) == 4


def test_bare_notify_deleted_beside_notify(tmp_path: Path) -> None:
    """A bare `notify_deleted` (no script of its own: () in the model) is not a script to list; the
    whatif raised ValueError unpacking it."""
    confs = ha_nginx()
    for c in confs:
        c.instances[0] = replace(c.instances[0], notify=('notify_deleted', *c.instances[0].notify))
    out = run_whatif(cluster(tmp_path, confs), events("10 node1 fail chk_nginx"), 15 * SEC)
    notify = [e.detail for e in out.entries if e.label == "notify" and e.node == "node2"]
    assert "notify: /usr/local/bin/notify.sh INSTANCE VI_1 MASTER 100" in notify


def test_bare_notify_deleted_in_the_dump(tmp_path: Path) -> None:
    """The global dump's default script user check reads past a bare notify_deleted (it indexed ())."""
    from pykeepalived.daemon.dump_data import uses_default_user

    [p] = write(tmp_path, [NodeConf("node1", [Inst(notify=("notify_deleted",))])])
    model, _ = load_config(p.split("=", 1)[1])
    assert model.vrrp_instances[0].notify == (("notify_deleted", ()),)
    assert uses_default_user(model) is False
