"""interface_up_down_delays: carrier changes of a listed interface take effect after the delay of
their direction; a change undone within the delay is dropped. keepalived 2.2.7 runs the same steps
on its own LAN as the oracle: the same log lines, flags included."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.to_params import instance_params
from pykeepalived.daemon.vrrp.linkdelay import UpDownDelay, clamp_delays, parse_up_down_delays
from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, differential, instance_conf, log_lines, wait_for

DELAYS = """interface_up_down_delays {
    eth0 1.2 0.4
}
"""
WANTED = re.compile(r"Adding flags change|Delay timer|Netlink reports|Entering (FAULT|MASTER|BACKUP) STATE")


@pytest.mark.netns
def test_carrier_changes_delayed_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    lab, *hosts = oracle_lab
    with differential(hosts, DELAYS + instance_conf(state="MASTER")) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: n.has("192.0.2.100"), 15)

        def cable(up: bool) -> None:
            for h in hosts:
                lab.set_port(h, h.ifaces[0].lan, up)

        cable(False)
        for n in pair:
            wait_for(lambda n=n: "Adding flags change" in n.logs(), 5)
        time.sleep(0.6)
        assert all(n.has("192.0.2.100") for n in pair)  # still MASTER within the down delay
        for n in pair:
            wait_for(lambda n=n: "Entering FAULT STATE" in n.logs(), 5)
        cable(True)
        for n in pair:
            wait_for(lambda n=n: "Netlink reports eth0 up" in n.logs(), 5)
        cable(False)  # a flap shorter than the down delay: nothing happens
        time.sleep(0.3)
        cable(True)
        time.sleep(1.5)
        ka, py = (log_lines(n, WANTED) for n in pair)
        assert [x for x in ka if "Netlink" in x] == ["Netlink reports eth0 down", "Netlink reports eth0 up"]
        added = r"eth0: Adding flags change from 0x\w+ to 0x\w+ delay by 1200000"
        assert any(re.fullmatch(added, x) for x in ka)
        assert any(x.endswith("delay by 400000") for x in ka)
        assert py == ka


def test_parse_and_clamp(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("""interface_up_down_delays {
    eth0 3
    eth1 0.5 0.25
    eth2
    eth3 x
    eth4 1 300
    nosuch 1
}
""" + instance_conf(advert="1")
                    + instance_conf("VI_2", vrid=52, iface="eth1", extra="    down_timer_adverts 1\n"))
    model, _ = load_config(str(conf))
    caplog.set_level("INFO", logger="pykeepalived")
    delays = parse_up_down_delays(model, {"eth0", "eth1", "eth2", "eth3", "eth4"})
    assert delays == {"eth0": UpDownDelay(3_000_000, 0), "eth1": UpDownDelay(500_000, 250_000)}
    clamp_delays(delays, [instance_params(model, i) for i in model.vrrp_instances])
    assert delays == {"eth0": UpDownDelay(2_000_000 - 1_000_000 // 256, 0), "eth1": UpDownDelay(0, 0)}
    msgs = [r.getMessage() for r in caplog.records]
    for want in ("No timeouts specified for eth2 up/down delays", "Invalid down delay x for eth3",
                 "Invalid up delay 300 for eth4", "unknown interface nosuch specified for up/down delay",
                 "VI_1: interface eth0 debounce timer(s) not less that 2 * advert_int - resetting",
                 "VI_2: cannot use debounce timers with down_timer_adverts = 1 - resetting"):
        assert want in msgs


@pytest.mark.netns
def test_lower_master_interval_cuts_the_delays_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    """A v3 master advertising every 0.5 s makes a backup configured for 1 s adopt 0.5 s; delays of
    1.8 s no longer fit (2 x 0.5 s) and both daemons log keepalived's line (-D)."""
    lab, *hosts = oracle_lab
    masters = [lab.add_host(f"m{i}", [h.ifaces[0].lan]) for i, h in enumerate(hosts)]
    conf = "interface_up_down_delays {\n    eth0 1.8 1.8\n}\n" + instance_conf(version=3)
    line = "VI_1: lower advert_int reducing interface eth0 debounce timer(s)"
    with differential(hosts, conf) as pair:
        lead = [Node(m, instance_conf(state="MASTER", prio=200, version=3, advert="0.5")) for m in masters]
        try:
            for n in [*lead, *pair]:
                n.start()
            for n in pair:
                wait_for(lambda n=n: line in n.logs(), 20)
            ka, py = (log_lines(n, re.compile("debounce|advertisement interval updated")) for n in pair)
            assert py == ka == ["(VI_1) advertisement interval updated from 1000ms to 500ms by master", line]
        finally:
            for n in lead:
                n.kill()
                shutil.rmtree(n.dir, ignore_errors=True)
