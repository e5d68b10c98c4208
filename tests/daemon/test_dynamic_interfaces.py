"""dynamic_interfaces: an instance on an interface that does not exist yet waits in FAULT and runs
once the interface is created (and again after it is deleted and re-created with a new ifindex);
keepalived 2.2.7 runs the same steps as the oracle. Without the keyword the instance is refused."""

from __future__ import annotations

import re
import time

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import differential, instance_conf, log_lines, wait_for

pytestmark = pytest.mark.netns

WANTED = re.compile(r"Configuration specifies|Interface dyn0 (added|deleted)|Netlink reports"
                    r"|[Ee]ntering \w+ STATE")
CREATE = "ip link add dyn0 type veth peer name dyn0p; ip link set dyn0p up; " \
         "ip addr add 192.0.2.50/24 dev dyn0; ip link set dyn0 up"


def test_instance_waits_for_its_interface_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, *hosts = oracle_lab
    conf = instance_conf(state="MASTER", iface="dyn0", globals_="    dynamic_interfaces")
    with differential(hosts, conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: "Configuration specifies interface dyn0" in n.logs()
                     and "Startup complete" in n.logs(), 15)
        for round_ in range(2):
            for h in hosts:
                h.run(CREATE)
            for n in pair:
                wait_for(lambda n=n: n.has("192.0.2.100", "dyn0"), 15)
            if round_ == 0:
                for h in hosts:
                    h.run("ip link del dyn0")
                for n in pair:
                    wait_for(lambda n=n: "Interface dyn0 deleted" in n.logs(), 10)
                time.sleep(0.3)
        ka, py = (log_lines(n, WANTED) for n in pair)
        assert ka[0] == ("Configuration specifies interface dyn0 which doesn't currently exist - will use "
                         "if created")
        assert ka.count("Interface dyn0 added") == 2 and "(VI_1) Entering FAULT STATE" in ka
        assert py == ka
