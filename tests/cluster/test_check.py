"""pykeepalived-cluster check: the demo's scenarios are clean as pairs and triples; each mistake the
check knows, made in one of them, gives its finding, citing both sides' lines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pykeepalived.cluster.check import Finding, Severity, check
from pykeepalived.cluster.cli import main
from tests.cluster.scenarios import (
    CHECK,
    Inst,
    NodeConf,
    cluster,
    dual_master,
    ha_nginx,
    nopreempt,
    unicast,
    write,
)

SCENARIOS: dict[str, Callable[[], list[NodeConf]]] = {
    "ha_nginx pair": ha_nginx, "ha_nginx triple": lambda: ha_nginx(3), "dual master": dual_master,
    "nopreempt pair": nopreempt, "nopreempt triple": lambda: nopreempt(3), "unicast pair": unicast,
    "unicast triple": lambda: unicast(3),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_demo_scenarios_are_consistent(tmp_path: Path, name: str) -> None:
    assert check(cluster(tmp_path, SCENARIOS[name]())) == []


def findings(tmp: Path, confs: list[NodeConf], code: str) -> list[Finding]:
    found = check(cluster(tmp, confs))
    assert found, "no finding"
    assert {f.code for f in found} == {code}, "\n".join(f.format() for f in found)
    return found


def cites(f: Finding, tmp: Path, *where: tuple[str, str]) -> None:
    """The finding cites each (node, keyword written on that line) as FILE: Line N."""
    text = f.format()
    for node, keyword in where:
        path = tmp / f"{node}.conf"
        lines = path.read_text().splitlines()
        n = next(k for k, line in enumerate(lines, 1) if line.split() and line.split()[0] == keyword)
        assert f"{path}: Line {n}" in text, (node, keyword, text)


def test_vrid_collision(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances.append(Inst("VI_other", 51, vips=("192.0.2.200/24",)))
    [f] = findings(tmp_path, confs, "vrid-collision")
    assert f.severity == Severity.ERROR and "VI_other" in f.format()
    cites(f, tmp_path, ("node1", "virtual_router_id"), ("node2", "virtual_router_id"))


def test_vrid_collision_across_nodes(tmp_path: Path) -> None:
    """node2's VI_2 (another router) reuses node1's VRID 51 on eth0: two routers, one VRID."""
    confs = [NodeConf("node1", [Inst("VI_1", 51, 101)]), NodeConf("node2", [Inst("VI_1", 51, 100)]),
             NodeConf("node3", [Inst("VI_2", 51, 100, vips=("192.0.2.150/24",))])]
    [f] = findings(tmp_path, confs, "vrid-collision")
    assert "VI_2" in f.format() and "node3" in f.format()


def test_vmac_collision(tmp_path: Path) -> None:
    confs = ha_nginx()
    for c in confs:
        c.instances[0].extra = "    use_vmac"
        c.instances.append(Inst("VI_eth1", 51, c.instances[0].priority, interface="eth1",
                                vips=("198.51.100.100/24",), extra="    use_vmac"))
    found = check(cluster(tmp_path, confs))
    vmac = [f for f in found if f.code == "vmac-collision"]
    assert len(vmac) == 2 and {f.code for f in found} == {"vmac-collision"}
    assert "vrrp.51" in vmac[0].message


def test_vip_sets_differ(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].vips = ("192.0.2.100/24", "192.0.2.101/24")
    [f] = findings(tmp_path, confs, "vip-set")
    assert f.severity == Severity.ERROR and "unexpected ip number count" in f.message
    cites(f, tmp_path, ("node1", "192.0.2.100/24"), ("node2", "192.0.2.100/24"))


def test_vip_sets_same_count_different_address(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].vips = ("192.0.2.100/24", "192.0.2.102/24")
    confs[0].instances[0].vips = ("192.0.2.100/24", "192.0.2.101/24")
    [f] = findings(tmp_path, confs, "vip-set")
    assert "not present in MASTER advert" in f.message


def test_evip_sets_differ(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[0].instances[0].evips = ("192.0.2.110/24",)
    [f] = findings(tmp_path, confs, "evip-set")
    assert f.severity == Severity.WARNING


def test_vip_in_two_routers(tmp_path: Path) -> None:
    """node2 has the VIP under VRID 52: two routers, two masters, one address."""
    confs = ha_nginx()
    confs[1].instances[0].vrid = 52
    found = check(cluster(tmp_path, confs))
    assert {f.code for f in found} == {"vip-in-two-routers", "single-node-router"}
    [f] = [f for f in found if f.code == "vip-in-two-routers"]
    cites(f, tmp_path, ("node1", "192.0.2.100/24"), ("node2", "192.0.2.100/24"))


def test_auth_type_differs(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].auth = None
    [f] = findings(tmp_path, confs, "auth-type")
    assert "received a 1 auth, expecting 0" in f.message
    cites(f, tmp_path, ("node1", "auth_type"))


def test_auth_pass_differs(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].auth = ("PASS", "secret43")
    [f] = findings(tmp_path, confs, "auth-pass")
    cites(f, tmp_path, ("node1", "auth_pass"), ("node2", "auth_pass"))
    assert "secret4" not in f.format()  # the passwords are not printed


def test_auth_pass_same_first_eight_characters_is_consistent(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[0].instances[0].auth = ("PASS", "12345678a")
    confs[1].instances[0].auth = ("PASS", "12345678b")
    assert check(cluster(tmp_path, confs, allow="Truncating auth_pass")) == []


def test_advert_int_differs(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].advert_int = "2"
    [f] = findings(tmp_path, confs, "advert-int")
    assert f.severity == Severity.ERROR and "advertisement interval mismatch" in f.message
    cites(f, tmp_path, ("node1", "advert_int"), ("node2", "advert_int"))


def test_advert_int_differs_vrrp3_is_a_warning(tmp_path: Path) -> None:
    confs = nopreempt()
    for c in confs:
        c.globals_ = "    vrrp_version 3"
        c.instances[0].auth = None
    confs[1].instances[0].advert_int = "0.5"
    [f] = findings(tmp_path, confs, "advert-int")
    assert f.severity == Severity.WARNING


def test_vrrp_version_differs(tmp_path: Path) -> None:
    confs = nopreempt()
    for c in confs:
        c.instances[0].auth = None
    confs[1].globals_ = "    vrrp_version 3"
    [f] = findings(tmp_path, confs, "vrrp-version")
    assert "wrong version" in f.message
    cites(f, tmp_path, ("node2", "vrrp_version"))


def test_checksum_form_differs(tmp_path: Path) -> None:
    confs = nopreempt()
    for c in confs:
        c.globals_ = "    vrrp_version 3"
        c.instances[0].auth = None
    confs[0].globals_ += "\n    v3_checksum_as_v2"
    [f] = findings(tmp_path, confs, "checksum")
    assert "Invalid VRRPv3 checksum" in f.message
    cites(f, tmp_path, ("node1", "v3_checksum_as_v2"))


def test_vrrp_strict_differs(tmp_path: Path) -> None:
    confs = nopreempt()
    for c in confs:
        c.instances[0].auth = None
        c.instances[0].nopreempt = False
    confs[0].globals_ = "    vrrp_strict"
    [f] = findings(tmp_path, confs, "strict-mode")
    cites(f, tmp_path, ("node1", "vrrp_strict"))


def test_two_address_owners(tmp_path: Path) -> None:
    confs = ha_nginx()
    for c in confs:
        c.instances[0].priority = 255
        c.instances[0].track_script = None
    found = check(cluster(tmp_path, confs))
    assert {f.code for f in found} == {"two-owners"}
    cites(found[0], tmp_path, ("node1", "priority"), ("node2", "priority"))


def test_priority_tie(tmp_path: Path) -> None:
    confs = ha_nginx(3)
    confs[2].instances[0].priority = 100
    [f] = findings(tmp_path, confs, "priority-tie")
    cites(f, tmp_path, ("node2", "priority"), ("node3", "priority"))


def test_two_nodes_with_state_master(tmp_path: Path) -> None:
    confs = ha_nginx()
    for c in confs:
        c.instances[0].state = "MASTER"
    found = check(cluster(tmp_path, confs))
    assert {f.code for f in found} == {"state-master"}
    assert any("several nodes have state MASTER" in f.message for f in found)
    assert any("node2 has state MASTER but node1 has a higher priority" in f.message for f in found)


def test_nopreempt_defeated_by_state_master(tmp_path: Path) -> None:
    confs = nopreempt()
    confs[1].instances[0].state = "MASTER"
    confs[1].instances[0].nopreempt = False  # keepalived clears it itself with state MASTER
    found = check(cluster(tmp_path, confs))
    assert {f.code for f in found} == {"nopreempt", "state-master"}
    [f] = [f for f in found if f.code == "nopreempt"]
    cites(f, tmp_path, ("node1", "nopreempt"), ("node2", "state"))


def test_nopreempt_missing_on_the_highest_priority(tmp_path: Path) -> None:
    confs = nopreempt()
    confs[0].instances[0].nopreempt = False
    [f] = findings(tmp_path, confs, "nopreempt")
    assert "node1 still takes the VIPs back" in f.message
    cites(f, tmp_path, ("node2", "nopreempt"))


def test_unicast_peers_not_symmetric(tmp_path: Path) -> None:
    confs = unicast(3)
    confs[2].instances[0].unicast_peers = ("192.0.2.1",)  # forgets node2
    [f] = findings(tmp_path, confs, "unicast-peer")
    assert "node3's unicast_peer list lacks node2's unicast_src_ip 192.0.2.2" in f.message
    cites(f, tmp_path, ("node2", "unicast_src_ip"), ("node3", "unicast_peer"))


def test_unicast_and_multicast_mixed(tmp_path: Path) -> None:
    """One node multicasts: a separate VRID space, so two single-node routers holding one VIP."""
    confs = unicast()
    confs[1].instances[0].unicast_src = None
    confs[1].instances[0].unicast_peers = ()
    found = check(cluster(tmp_path, confs))
    assert {f.code for f in found} == {"vip-in-two-routers", "single-node-router"}
    assert any("unicast" in f.subject for f in found)


def test_unicast_without_source(tmp_path: Path) -> None:
    confs = unicast()
    confs[0].instances[0].unicast_src = None
    found = check(cluster(tmp_path, confs))
    assert {f.code for f in found} == {"unicast-src"}


def test_sync_group_membership_differs(tmp_path: Path) -> None:
    confs = dual_master()
    confs[0].groups = {"G": ("VI_1", "VI_2")}
    found = check(cluster(tmp_path, confs))
    assert [f.code for f in found] == ["sync-group", "sync-group"]  # one per router of the group
    assert "in no sync group" in found[0].format() and "vrrp_sync_group G with" in found[0].format()


def test_sync_group_same_everywhere_is_consistent(tmp_path: Path) -> None:
    confs = dual_master()
    for c in confs:
        c.groups = {"G": ("VI_1", "VI_2")}
        c.globals_ = ""
    assert check(cluster(tmp_path, confs)) == []


def test_weight_too_small_never_moves_the_vip(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[0].instances[0].priority = 110  # 110 - 5 = 105 > 100
    [f] = findings(tmp_path, confs, "weight-never-moves")
    assert "drops to 105" in f.message and "weight -11" in f.fix
    cites(f, tmp_path, ("node1", "chk_nginx"), ("node2", "priority"))


def test_weight_never_moves_with_nopreempt_backup(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].nopreempt = True
    found = check(cluster(tmp_path, confs))
    assert "weight-never-moves" in {f.code for f in found}
    [f] = [f for f in found if f.code == "weight-never-moves"]
    assert "has nopreempt" in f.message


def test_positive_weight_always_moves_the_vip(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].track_weight = 10  # node2: 100 + 10 while healthy > node1's 101 - 0
    confs[0].instances[0].track_script = None
    [f] = findings(tmp_path, confs, "weight-always-moves")
    assert "node2's positive weights lift it to 110" in f.message


def test_notify_contract_differs(tmp_path: Path) -> None:
    confs = ha_nginx()
    confs[1].instances[0].notify = ()
    [f] = findings(tmp_path, confs, "notify")
    cites(f, tmp_path, ("node1", "notify"))
    assert "no notify script" in f.format()


def test_single_node_router(tmp_path: Path) -> None:
    confs = dual_master()
    confs[1].instances.pop()
    [f] = findings(tmp_path, confs, "single-node-router")
    assert "only node1 has this virtual router" in f.message


# ----------------------------------------------------------------------------------------- the CLI
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write(tmp_path, ha_nginx())
    assert run(capsys, "check", *clean)[0] == 0
    confs = ha_nginx(3)
    confs[2].instances[0].priority = 100
    code, out = run(capsys, "check", *write(tmp_path, confs))
    assert code == 1 and "WARNING [priority-tie]" in out
    confs[1].instances[0].advert_int = "3"
    code, out = run(capsys, "check", *write(tmp_path, confs))
    assert code == 2 and "ERROR [advert-int]" in out
    assert re.search(r"3 nodes, 1 virtual router: \d+ errors?, 1 warning", out)
    (tmp_path / "node2.conf").write_text("vrrp_instance VI_1 {\n    priority 300\n")
    code, out = run(capsys, "check", *clean)
    assert code == 3 and "node2: (" in out
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 4


def test_cli_the_shipped_example_with_config_ids(capsys: pytest.CaptureFixture[str]) -> None:
    """One file, two nodes by their -i: examples/keepalived.conf.nginx@node1 / @node2."""
    ex = str(Path(__file__).resolve().parents[2] / "examples" / "keepalived.conf.nginx")
    code, out = run(capsys, "check", f"{ex}@node1", f"{ex}@node2")
    assert code == 0 and out.startswith("2 nodes, 1 virtual router: 0 errors, 0 warnings"), out
    assert run(capsys, "check", ex, "-i", "node1", ex, "--config-id", "node2")[0] == 0  # the daemon's option
    code, out = run(capsys, "check", f"{ex}@node1", f"{ex}@node1")  # two node1s: a priority tie
    assert code == 1 and "node1#2" in out


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    confs = ha_nginx()
    confs[1].instances[0].auth = ("PASS", "other")
    code, out = run(capsys, "check", "--json", *write(tmp_path, confs))
    data = json.loads(out)
    assert code == 2 and data["nodes"] == ["node1", "node2"]
    [f] = data["findings"]
    assert f["code"] == "auth-pass" and [s["node"] for s in f["sites"]] == ["node1", "node2"]
    assert all(s["file"].endswith(".conf") and s["line"] > 0 for s in f["sites"])


def test_cli_lan_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    confs = ha_nginx()
    confs[1].instances[0].interface = "ens3"
    args = write(tmp_path, confs)
    code, out = run(capsys, "check", *args)
    assert code == 2 and "vip-in-two-routers" in out
    assert run(capsys, "check", "--lan", "node2:ens3=eth0", *args)[0] == 0


def test_unused_check_script_body_is_kept() -> None:
    assert "weight -5" in CHECK
