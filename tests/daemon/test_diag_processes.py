"""Which process logs which configuration message, as keepalived 2.2.7: each child parses the whole
file but reports only on the blocks it acts on (a virtual_server's `nb_get_retry` deprecation comes
from the checker child, so not at all with -P; a vrrp_instance's unknown keyword from the VRRP child,
so not with -C), and track_file's from both."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, log_lines, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(shutil.which("keepalived") is None, reason="needs keepalived 2.2.7")]

CONF = """global_defs {
    router_id diag
    bogus_global_kw 1
}
track_file tf1 {
    file /nonexistent/tf1
    bogus_track_file_kw 1
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    bogus_vrrp_kw 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
virtual_server 192.0.2.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.1 80 {
        weight 1
        bogus_rs_kw 2
        HTTP_GET {
            url {
              path /
              status_code 200
            }
            nb_get_retry 3
        }
    }
}
SSL {
    bogus_ssl_kw 1
}
"""
MESSAGES = re.compile(r"Unknown keyword|deprecated")
STARTED = {"-P": re.compile(r"\(VI_1\) Entering BACKUP STATE"),
           "-C": re.compile(r"Activating healthchecker for service")}


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Host, Host]]:
    with Lab(hosts=["ka", "py"]) as lab:
        yield lab["ka"], lab["py"]


def messages(host: Host, impl: str, mode: str) -> list[str]:
    node = Node(host, CONF, impl=impl, extra=(mode,)).start()
    try:
        assert node.proc is not None
        # started (keepalived's checker may stop at once on a kernel without IPVS: it has parsed by then)
        wait_for(lambda: bool(STARTED[mode].search(node.logs())) or node.proc.poll() is not None, 30)
        node.stop()
    finally:
        node.kill()
    # without the file name (each node has its own; keepalived leaves it out on global_defs lines)
    return sorted(re.sub(r"^\([^()]*Line ", "(Line ", line) for line in log_lines(node, MESSAGES))


@pytest.mark.parametrize("mode", ["-P", "-C"])
def test_each_child_reports_its_blocks_as_keepalived(hosts: tuple[Host, Host], mode: str) -> None:
    theirs = messages(hosts[0], "ka", mode)
    ours = messages(hosts[1], "py", mode)
    assert ours == theirs
    checker_only = "(Line 31) nb_get_retry is deprecated - please use 'retry'"
    vrrp_only = "(Line 14) Unknown keyword 'bogus_vrrp_kw'"
    both = "(Line 7) Unknown keyword 'bogus_track_file_kw'"
    assert any(line.endswith(both) for line in theirs)
    assert any(line.endswith(checker_only) for line in theirs) == (mode == "-C")
    assert any(line.endswith(vrrp_only) for line in theirs) == (mode == "-P")


def test_start_up_warns_about_unimplemented_keywords(hosts: tuple[Host, Host]) -> None:
    """enable_snmp_* / enable_traps: both children serve their SNMP subtrees, so none warns."""
    conf = CONF.replace("    bogus_global_kw 1\n",
                        "    enable_snmp_vrrp\n    enable_snmp_checker\n")
    node = Node(hosts[1], conf, extra=("-P",)).start()
    try:
        wait_for(lambda: bool(STARTED["-P"].search(node.logs())), 30)
        node.stop()
    finally:
        node.kill()
    warnings = log_lines(node, re.compile(r"is not implemented by pykeepalived"))
    assert [w.split()[2:4] for w in warnings] == []
