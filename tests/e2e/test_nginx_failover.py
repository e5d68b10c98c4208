"""The seeds' scenario end to end: two nodes running nginx and pykeepalived, a client, nginx dying.

Every test builds its own lab (n1 192.0.2.1, n2 192.0.2.2, client 192.0.2.3; VIP 192.0.2.100), runs a
real nginx per node and the real daemon, and watches from outside as a user would: who holds the VIP
(`ip addr`), what `curl http://VIP/` in the client's namespace returns, what the notify script recorded.
n1 is started first and must be MASTER before n2 starts, so the notify sequences are deterministic.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from pykeepalived.lab.webfarm import EXAMPLES, curl
from tests.e2e.conftest import VIP, Farm, nginx_ha_config, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

CURL_CHECK = "/usr/bin/curl -s -f -o /dev/null -m 1 http://127.0.0.1/"


def notify_lines(farm: Farm, name: str) -> list[str]:
    rec = farm.tmp / f"notify-{name}.log"
    return rec.read_text().splitlines() if rec.exists() else []


def start_pair(farm: Farm, check: dict[str, str], **conf: object) -> None:
    """nginx on both nodes, then n1's daemon (until it holds the VIP), then n2's, then the client."""
    for name in ("n1", "n2"):
        farm.start_nginx(name)
    for name, prio in (("n1", 101), ("n2", 100)):
        script, _ = farm.notify_script(name)
        config = nginx_ha_config(priority=prio, check=check[name], notify=str(script),
                                 router_id=f"web_{name}", **conf)  # type: ignore[arg-type]
        farm.start_daemon(name, config)
        if name == "n1":
            wait_for(lambda: farm.has_vip("n1"), 20, "n1 becomes MASTER", farm)
    assert curl(farm.lab["client"], f"http://{VIP}/") == "served by n1"
    farm.start_poller()


def served_only_by(farm: Farm, name: str, t0: float, t1: float) -> list[str]:
    assert farm.poller is not None
    return sorted({r for t, r in farm.poller.results() if t0 <= t <= t1 and r != name})


def test_seed_scenario_advert_2_vip_moves_and_returns(farm: Farm) -> None:
    """The issue's figures: interval 2, advert_int 2, weight -5, priorities 101/100, PASS auth."""
    start_pair(farm, {"n1": CURL_CHECK, "n2": CURL_CHECK}, interval=2, advert=2)
    assert farm.poller is not None
    time.sleep(1)

    t_kill = time.time()
    farm.nginx["n1"].kill()
    wait_for(lambda: farm.poller is not None and farm.poller.served_by("n2", t_kill), 20,
             "client served by n2 after nginx died on n1", farm)
    t_served = time.time()
    assert farm.holder() == "n2"
    log1 = farm.daemons["n1"].logs()
    assert "VRRP_Script(chk_nginx) failed (exited with status 7)" in log1  # curl: connection refused
    assert "(VI_1) Changing effective priority from 101 to 96" in log1
    log2 = farm.daemons["n2"].logs()
    assert "(VI_1) received lower priority (96) advert from 192.0.2.1 - discarding" in log2
    # the client keeps being served by n2 while nginx is down on n1
    time.sleep(3)
    assert served_only_by(farm, "n2", t_served, time.time()) == []
    assert curl(farm.lab["client"], f"http://{VIP}/") == "served by n2"

    t_back = time.time()
    farm.start_nginx("n1")
    wait_for(lambda: farm.poller is not None and farm.poller.served_by("n1", t_back), 20,
             "VIP back on n1 after nginx came back", farm)
    wait_for(lambda: farm.holder() == "n1", 5, "n2 released the VIP", farm)
    assert "(VI_1) Changing effective priority from 96 to 101" in farm.daemons["n1"].logs()
    # once n1 answers again, the client stays with it
    assert farm.poller is not None
    first_n1 = min(t for t, r in farm.poller.results() if t >= t_back and r == "n1")
    time.sleep(1)
    assert "n2" not in served_only_by(farm, "n1", first_n1 + 0.5, time.time())
    wait_for(lambda: len(notify_lines(farm, "n2")) >= 3, 5, "notifies of n2")
    assert notify_lines(farm, "n1") == [
        "INSTANCE VI_1 BACKUP 101", "INSTANCE VI_1 MASTER 101", "INSTANCE VI_1 BACKUP 96",
        "INSTANCE VI_1 MASTER 101",
    ]
    assert notify_lines(farm, "n2") == [
        "INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100", "INSTANCE VI_1 BACKUP 100",
    ]
    # a graceful stop is recorded too
    farm.daemons["n1"].stop()
    wait_for(lambda: notify_lines(farm, "n1")[-1:] == ["INSTANCE VI_1 STOP 101"], 5, "STOP notify", farm)


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_nopreempt_vip_stays_on_the_backup(farm: Farm, impl: str) -> None:
    """nopreempt on both, state BACKUP: once n2 took over, nginx coming back on n1 does not move the VIP.

    With nopreempt a backup never takes over from a live master of lower priority, so here the check
    has no weight: nginx down puts n1 in FAULT (it resigns with priority 0) and n2 takes over at once.
    Run against keepalived 2.2.7 as well: both must behave the same.
    """
    for name in ("n1", "n2"):
        farm.start_nginx(name)
    for name, prio in (("n1", 101), ("n2", 100)):
        script, _ = farm.notify_script(name)
        config = nginx_ha_config(priority=prio, check=CURL_CHECK, interval=1, advert=1, weight=None,
                                 nopreempt=True, notify=str(script), router_id=f"web_{name}")
        farm.start_daemon(name, config, impl=impl)
        if name == "n1":
            wait_for(lambda: farm.has_vip("n1"), 20, "n1 becomes MASTER", farm)
    poller = farm.start_poller()
    time.sleep(1)
    t_kill = time.time()
    farm.nginx["n1"].kill()
    wait_for(lambda: poller.served_by("n2", t_kill), 15, "client served by n2", farm)
    assert farm.holder() == "n2"
    farm.start_nginx("n1")
    wait_for(lambda: notify_lines(farm, "n1")[-1:] == ["INSTANCE VI_1 BACKUP 101"], 10, "n1 BACKUP", farm)
    t_back = time.time()
    time.sleep(4.5)  # longer than n1's master down interval (3.6 s): it would have preempted by now
    assert farm.holder() == "n2"
    assert served_only_by(farm, "n2", t_back, time.time()) == []
    # (what comes before MASTER is test_unweighted_script_init_is_silent's business)
    n1 = notify_lines(farm, "n1")
    assert n1[n1.index("INSTANCE VI_1 MASTER 101"):] == [
        "INSTANCE VI_1 MASTER 101", "INSTANCE VI_1 FAULT 101", "INSTANCE VI_1 BACKUP 101",
    ]
    n2 = notify_lines(farm, "n2")
    assert n2[n2.index("INSTANCE VI_1 BACKUP 100"):] == [
        "INSTANCE VI_1 BACKUP 100", "INSTANCE VI_1 MASTER 100",
    ]


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_unweighted_script_init_is_silent(farm: Farm, impl: str) -> None:
    """Before an unweighted check script has run, keepalived neither logs nor notifies a state."""
    script, _ = farm.notify_script("n1")
    config = nginx_ha_config(priority=101, check="/bin/true", interval=1, advert=1, weight=None,
                             notify=str(script))
    d = farm.start_daemon("n1", config, impl=impl)
    wait_for(lambda: "VRRP_Script(chk_nginx) succeeded" in d.logs(), 10, "script ran", farm)
    wait_for(lambda: bool(notify_lines(farm, "n1")), 5, "first notify", farm)
    assert "Entering FAULT STATE" not in d.logs()
    assert notify_lines(farm, "n1") == ["INSTANCE VI_1 BACKUP 101"]


CLASSIC_CHECK = """#!/bin/sh
# the classic check_nginx.sh: if nginx is not running, try to start it; if it still is not
# running, stop keepalived so that the backup takes over
if ! killall -0 {name} 2>/dev/null; then
    {start} 2>/dev/null
    sleep 1
    if ! killall -0 {name} 2>/dev/null; then
        kill $(cat {pidfile})      # systemctl stop keepalived
        exit 1
    fi
fi
exit 0
"""


def classic_check(farm: Farm, name: str) -> str:
    ng = farm.nginx[name]
    path = farm.tmp / f"check_nginx-{name}.sh"
    pidfile = farm.tmp / f"ka-{name}" / "parent.pid"
    path.write_text(CLASSIC_CHECK.format(name=ng.name, start=" ".join(ng.command()), pidfile=pidfile))
    path.chmod(0o755)
    return str(path)


def test_classic_check_nginx_sh_restarts_nginx_or_stops_the_daemon(farm: Farm) -> None:
    for name in ("n1", "n2"):
        farm.start_nginx(name)  # creates the per-node nginx the script refers to
    checks = {name: classic_check(farm, name) for name in ("n1", "n2")}
    start_pair(farm, checks, interval=1, timeout=3, advert=1)  # the script may take a second
    poller = farm.poller
    assert poller is not None

    # 1. nginx dies; the script starts it again: the VIP stays on n1, which keeps serving
    old = farm.nginx["n1"].master_pid()
    farm.nginx["n1"].kill()
    wait_for(lambda: farm.nginx["n1"].master_pid() not in (None, old), 10, "nginx restarted", farm)
    t_restarted = time.time()
    wait_for(lambda: poller.served_by("n1", t_restarted), 5, "n1 serves again", farm)
    assert farm.holder() == "n1"
    assert farm.daemons["n1"].running()

    # 2. nginx dies and cannot start (its configuration is broken): the script stops the daemon,
    #    which resigns (priority 0) and removes the VIP; n2 takes over and serves the client
    conf = farm.nginx["n1"].conf
    good = conf.read_text()
    conf.write_text("this is not an nginx configuration\n")
    t_kill = time.time()
    farm.nginx["n1"].kill()
    wait_for(lambda: not farm.daemons["n1"].running(), 15, "daemon on n1 stopped by the check", farm)
    assert farm.daemons["n1"].proc is not None and farm.daemons["n1"].proc.returncode == 0
    wait_for(lambda: poller.served_by("n2", t_kill), 10, "client served by n2", farm)
    assert farm.holder() == "n2"
    assert not farm.has_vip("n1")
    assert "(VI_1) Backup received priority 0 advertisement" in farm.daemons["n2"].logs()
    # STOP 101, or STOP 96 when the script's failure was accounted before the stop
    assert notify_lines(farm, "n1")[-1].startswith("INSTANCE VI_1 STOP ")
    assert notify_lines(farm, "n2")[-1] == "INSTANCE VI_1 MASTER 100"
    conf.write_text(good)


def test_killall_style_check_moves_vip_and_back(farm: Farm) -> None:
    """`killall -0 nginx` checks (per-node process names: the namespaces share one PID namespace)."""
    for name in ("n1", "n2"):
        farm.start_nginx(name)
    checks = {n: f"/usr/bin/killall -0 {farm.nginx[n].name}" for n in ("n1", "n2")}
    start_pair(farm, checks, interval=1, advert=1)
    poller = farm.poller
    assert poller is not None
    t_kill = time.time()
    farm.nginx["n1"].kill()
    wait_for(lambda: poller.served_by("n2", t_kill), 15, "client served by n2", farm)
    assert farm.holder() == "n2"
    assert "VRRP_Script(chk_nginx) failed (exited with status 1)" in farm.daemons["n1"].logs()
    t_back = time.time()
    farm.start_nginx("n1")
    wait_for(lambda: poller.served_by("n1", t_back), 15, "VIP back on n1", farm)
    wait_for(lambda: farm.holder() == "n1", 5, "n2 released the VIP", farm)
    assert notify_lines(farm, "n1") == [
        "INSTANCE VI_1 BACKUP 101", "INSTANCE VI_1 MASTER 101", "INSTANCE VI_1 BACKUP 96",
        "INSTANCE VI_1 MASTER 101",
    ]


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_shipped_example_config_is_valid(impl: str) -> None:
    """examples/keepalived.conf.nginx passes the config test for both nodes, with both implementations."""
    import sys

    base = [sys.executable, "-m", "pykeepalived"] if impl == "py" else ["keepalived"]
    for node in ("node1", "node2"):
        proc = subprocess.run([*base, "-t", "-f", str(EXAMPLES / "keepalived.conf.nginx"), "-i", node],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
