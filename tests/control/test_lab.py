"""The metrics endpoint, the control socket and pykeepalivedctl on real daemons in namespaces."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pykeepalived.control import ctl
from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP = "192.0.2.100"
METRICS = "    pykeepalived_metrics_address 127.0.0.1:9650"
COMMON = (("iname", "VI_1"), ("intf", "eth0"), ("vrid", "51"))
VIP_LABELS = (("iname", "VI_1"), ("intf", "eth0"), ("ip_address", f"{VIP}/24"), ("vrid", "51"))


def scrape(host: Host) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics from inside the host's namespace (the endpoint listens on its loopback)."""

    def get() -> str:
        with urllib.request.urlopen("http://127.0.0.1:9650/metrics", timeout=5) as r:
            assert r.status == 200
            return str(r.read().decode())

    text = host.call(get)
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def sock(node: Node) -> str:
    return str(node.dir / "pykeepalived.sock")


def run_ctl(node: Node, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = ctl.main(["-s", sock(node), *args], out)
    return code, out.getvalue()


def status(node: Node) -> dict[str, object]:
    code, text = run_ctl(node, "--json", "status")
    assert code in (0, 3), text
    data: dict[str, object] = json.loads(text)["vrrp"][0]["data"]
    return data


def test_metrics_and_ctl_follow_a_failover(lab: Lab, nodes: list[Node]) -> None:
    a = Node(lab["n1"], instance_conf(prio=150, globals_=METRICS)).start()
    b = Node(lab["n2"], instance_conf(prio=100, globals_=METRICS)).start()
    nodes += [a, b]
    try:
        wait_for(lambda: a.has(VIP), 20)  # interpreter start-up is slow on a loaded machine
    except AssertionError:
        raise AssertionError(f"n1 never became master:\n{a.logs()}\n--- n2:\n{b.logs()}") from None
    wait_for(lambda: scrape(lab["n2"])[("keepalived_advertisements_received_total", COMMON)] >= 2, 5)

    ma, mb = scrape(lab["n1"]), scrape(lab["n2"])
    assert ma[("keepalived_up", ())] == 1
    assert ma[("keepalived_vrrp_state", VIP_LABELS)] == 2
    assert ma[("keepalived_become_master_total", COMMON)] == 1
    assert ma[("keepalived_advertisements_sent_total", COMMON)] >= 2
    assert mb[("keepalived_vrrp_state", VIP_LABELS)] == 1
    # (under load n2 may start first and be master for a moment before n1 preempts)
    b_masters = b.logs().count("(VI_1) Entering MASTER STATE")
    assert mb[("keepalived_become_master_total", COMMON)] == b_masters
    assert mb[("pykeepalived_vrrp_master_priority", COMMON)] == 150

    # the control socket says what the lab shows
    sa, sb = status(a), status(b)
    assert (sa["state"], sb["state"]) == (2, 1) and a.has(VIP) and not b.has(VIP)
    assert sa["vips"] == [VIP] and sa["effective_priority"] == 150
    assert sb["master_saddr"] == str(lab["n1"].ipv4)
    code, table = run_ctl(a, "status", "--expect", "VI_1=MASTER")
    assert code == ctl.EXIT_OK and "MASTER" in table and VIP in table, table

    follow = subprocess.Popen(
        [sys.executable, "-m", "pykeepalived.control.ctl", "-s", sock(b), "--json", "follow", "--count", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(0.5)  # let the follower subscribe
        lab.set_port(lab["n1"], lab["n1"].ifaces[0].lan, False)  # unplug the master's cable
        wait_for(lambda: b.has(VIP), 10)
        out, err = follow.communicate(timeout=10)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    events = [json.loads(line) for line in out.splitlines()]
    assert follow.returncode == 0, err
    assert {"event": "state", "iname": "VI_1", "old": "BACKUP", "new": "MASTER"}.items() <= events[0].items()

    wait_for(lambda: scrape(lab["n1"])[("keepalived_vrrp_state", VIP_LABELS)] == 3, 5)
    ma, mb = scrape(lab["n1"]), scrape(lab["n2"])
    assert mb[("keepalived_vrrp_state", VIP_LABELS)] == 2
    assert mb[("keepalived_become_master_total", COMMON)] == b_masters + 1
    assert ma[("keepalived_release_master_total", COMMON)] == 1
    assert ma[("keepalived_vrrp_state", VIP_LABELS)] == 3  # FAULT: its link is down
    assert status(b)["state"] == 2 and b.has(VIP)
    code, table = run_ctl(a, "status")
    assert code == ctl.EXIT_FAULT and "FAULT" in table, table
    assert run_ctl(b, "status", "--expect", "VI_1=MASTER")[0] == ctl.EXIT_OK


def test_ctl_commands_and_systemd_readiness(lab: Lab, nodes: list[Node], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(str(tmp_path / "notify"))
    nsock.settimeout(15)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    try:
        a = Node(lab["n1"], instance_conf(prio=150)).start()
        nodes.append(a)
        assert nsock.recv(4096).startswith(b"READY=1\n")
        # READY=1 means the VRRP child serves: the control socket answers at once
        code, text = run_ctl(a, "--json", "status")
        assert code == ctl.EXIT_OK and json.loads(text)["vrrp"][0]["data"]["iname"] == "VI_1"
        assert stat.S_IMODE(os.stat(sock(a)).st_mode) == 0o600  # root only, like the signals

        wait_for(lambda: a.has(VIP), 10)
        code, table = run_ctl(a, "status")
        assert code == 0 and "MASTER" in table and VIP in table
        assert run_ctl(a, "status", "--expect", "VI_1=BACKUP")[0] == ctl.EXIT_UNEXPECTED
        code, stats = run_ctl(a, "stats")
        assert code == 0 and "VRRP Instance: VI_1" in stats and "Became master: 1" in stats
        code, dump = run_ctl(a, "dump")
        assert code == 0 and "VRRP Instance = VI_1" in dump and "State = MASTER" in dump
        code, text = run_ctl(a, "reload")
        assert code == 0 and "reload requested" in text
        assert nsock.recv(4096) == b"RELOADING=1"  # keepalived's systemd_notify_reloading / _running
        assert nsock.recv(4096).startswith(b"READY=1\n")
        wait_for(lambda: "Reload complete" in a.logs(), 5)
        assert a.stop() == 0
        a.proc = None
        assert nsock.recv(4096) == b"STOPPING=1"
        assert run_ctl(a, "status")[0] == ctl.EXIT_UNREACHABLE
        assert not os.path.exists(sock(a)), "control socket left behind" + a.logs()
    finally:
        nsock.close()
