"""Which running instance an instance of a reloaded file continues (keepalived 2.2.7 vrrp_exist):
VRID, family, interface, unicast or not, then the unicast source or the VMAC use and multicast
group; never the name."""

from __future__ import annotations

from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.instance_setup import instance_setup
from pykeepalived.config.to_params import instance_params
from pykeepalived.daemon.vrrp.instances import Runtime
from pykeepalived.daemon.vrrp.reload_diff import reload_matches
from pykeepalived.vrrp.instance import VrrpInstance

BASE = """vrrp_instance {name} {{
    state MASTER
    interface {iface}
    virtual_router_id {vrid}
    priority {prio}
{extra}
    virtual_ipaddress {{
        {vip}
    }}
}}
"""


def runtimes(tmp_path: Path, **kw: object) -> dict[str, Runtime]:
    values: dict[str, object] = dict(name="VI_1", iface="eth0", vrid=51, prio=150, extra="",
                                     vip="192.0.2.100/24")
    values.update(kw)
    conf = tmp_path / f"k{len(list(tmp_path.iterdir()))}.conf"
    conf.write_text(BASE.format(**values))
    model, _ = load_config(str(conf))
    out = {}
    for c in model.vrrp_instances:
        params = instance_params(model, c)
        out[c.name] = Runtime(params, instance_setup(model, c), VrrpInstance(params), None)
    return out


UNICAST = "    unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n    }"


@pytest.mark.parametrize(("before", "after", "same"), [
    ({}, {"prio": 200, "vip": "192.0.2.101/24"}, True),  # changes in place
    ({}, {"name": "VI_9"}, True),  # renamed: the same instance under its new name
    ({}, {"vrid": 52}, False),
    ({}, {"iface": "eth1"}, False),
    ({}, {"vip": "2001:db8::100/64", "extra": "    version 3"}, False),  # another family
    ({}, {"extra": UNICAST}, False),  # multicast -> unicast
    ({"extra": UNICAST}, {"extra": UNICAST.replace("192.0.2.2", "192.0.2.3")}, True),  # peers change
    ({"extra": UNICAST}, {"extra": UNICAST.replace("192.0.2.1", "192.0.2.5")}, False),  # another source
    ({}, {"extra": "    use_vmac"}, False),
    ({}, {"extra": "    mcast_dst_ip 224.0.0.19"}, False),
])
def test_reload_matches_as_vrrp_exist(tmp_path: Path, before: dict[str, object], after: dict[str, object],
                                      same: bool) -> None:
    old, new = runtimes(tmp_path, **before), runtimes(tmp_path, **after)
    (new_name,) = new
    assert reload_matches(old, new) == ({new_name: "VI_1"} if same else {})


def test_each_running_instance_is_continued_once(tmp_path: Path) -> None:
    old = runtimes(tmp_path)
    two = {**runtimes(tmp_path, name="VI_A"), **runtimes(tmp_path, name="VI_B")}
    assert reload_matches(old, two) == {"VI_A": "VI_1"}
