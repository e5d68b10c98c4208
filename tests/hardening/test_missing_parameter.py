"""A keyword missing its value in an instance, side by side with keepalived 2.2.7: keepalived's
VRRP child prints `*** Configuration line starting ... is missing a parameter` and exits with a
permanent CONFIG error, and the daemon stops (exit status 2) instead of running without it."""

from __future__ import annotations

import os
import re

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import differential, instance_conf, run_to_exit

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def test_missing_parameter_stops_the_daemon(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, ka, py = oracle_lab
    wanted = re.compile(r"missing a parameter|permanent error|Respawning|Entering")
    with differential([ka, py], instance_conf(extra="    unicast_src_ip\n")) as pair:
        codes, lines = run_to_exit(pair, wanted)
        assert codes == {"ka": 2, "py": 2}
        assert lines["py"] == lines["ka"]
        assert any("*** Configuration line starting `unicast_src_ip` is missing a parameter" in x
                   for x in lines["py"])
