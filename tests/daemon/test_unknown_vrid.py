"""log_unknown_vrids and vmac_prefix (global_defs), against keepalived 2.2.7."""

from __future__ import annotations

import re

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for

pytestmark = pytest.mark.netns

UNKNOWN = re.compile(r"Unknown VRID\(60\) received on interface\(eth0\)[^\n]*")


def test_unknown_vrid_logged_as_keepalived() -> None:
    with Lab(hosts=["ka", "py", "other"]) as lab:
        listen = instance_conf(vrid=51, prio=100, globals_="    log_unknown_vrids")
        nodes = [Node(lab["ka"], listen, impl="ka"), Node(lab["py"], listen, impl="py"),
                 Node(lab["other"], instance_conf(vrid=60, prio=200, vips=("192.0.2.160/24",)), impl="ka")]
        try:
            for n in nodes:
                n.start()
            wait_for(lambda: all(UNKNOWN.search(n.logs()) for n in nodes[:2]), 20)
            ka, py = (UNKNOWN.search(n.logs()) for n in nodes[:2])
            assert ka is not None and py is not None
            assert py.group(0) == ka.group(0) == "Unknown VRID(60) received on interface(eth0). ignoring..."
            assert not UNKNOWN.search(nodes[2].logs())
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
        finally:
            for n in nodes:
                n.kill()


def test_vmac_prefix_names_the_vmac_as_keepalived() -> None:
    conf = instance_conf(vrid=51, globals_="    vmac_prefix vx", extra="    use_vmac")
    with Lab() as lab:
        hosts = [lab.add_host(name, [lab.add_lan(ipv4="192.0.2.0/24")]) for name in ("ka", "py")]
        nodes = [Node(h, conf, impl=h.name) for h in hosts]
        try:
            for n in nodes:
                n.start()
            for n in nodes:
                wait_for(lambda n=n: n.has("192.0.2.100", "vx.51"), 20)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{dump_logs(*nodes)}") from exc
        finally:
            for n in nodes:
                n.kill()
