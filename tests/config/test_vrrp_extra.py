"""garp_extra_if / vrrp_garp_extra_if (and their deprecated spellings), unicast_fault_no_peer and
promote_secondaries in the configuration: messages against `keepalived -t`, and what reaches the
VRRP core (config/vrrp_extra.py, config/to_params.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.to_params import instance_params
from pykeepalived.configtest import run_config_test

MINE = re.compile(r"garp_extra_if|garp_intvl|promote_secondaries|unicast peers|unicast keyword|range|number|"
                  r"vmac_xmit_base|VMAC/ipvlan")

BAD = """global_defs {
    vrrp_vmac_garp_intvl 0 all
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    garp_extra_if 90000
    virtual_ipaddress {
        192.0.2.1/24
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    promote_secondaries
    use_vmac
    vmac_xmit_base
    vmac_garp_intvl delay 10 all
    virtual_ipaddress {
        192.0.2.2/24
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 53
    unicast_src_ip 192.0.2.9
    garp_extra_if all
    virtual_ipaddress {
        192.0.2.3/24
    }
}
vrrp_instance VI_4 {
    interface eth0
    virtual_router_id 54
    check_unicast_src
    use_vmac
    unicast_fault_no_peer
    garp_extra_if 1.5
    virtual_ipaddress {
        192.0.2.4/24
    }
}
"""


# vrrp_complete_instance's strict-mode, advert_int and per-address use_vmac lines (issue 12)
COMPLETE = re.compile(r"[Ss]trict mode|VRRPv\d advertisement|use_vmac specified")
_I = ("vrrp_instance VI_{n} {{\n    interface eth0\n    virtual_router_id {n}\n{body}\n"
      "    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n")
BAD_COMPLETE = "".join(_I.format(n=n, body=b, vip=v) for n, b, v in (
    (1, "    strict_mode\n    use_vmac vrrp.1 02:00:5e:00:01:99", "192.0.2.1/24"),
    (2, "    strict_mode\n    use_vmac\n    vmac_xmit_base", "192.0.2.2/24"),
    (3, "    strict_mode\n    garp_lower_prio_repeat 2\n    garp_lower_prio_delay 3\n"
        "    lower_prio_no_advert false\n    higher_prio_send_advert true", "192.0.2.3/24"),
    (4, "    strict_mode\n    unicast_src_ip 192.0.2.9\n    unicast_peer {\n        192.0.2.8\n    }",
     "192.0.2.4/24"),
    (5, "    advert_int 1.5", "192.0.2.5/24"),
    (6, "    version 3\n    advert_int 50", "192.0.2.6/24"),
    (7, "    version 3\n    advert_int 1.005", "192.0.2.7/24"),
    (8, "    use_vmac", "192.0.2.8/32 use_vmac"),
    (9, "    use_vmac_addr", "192.0.2.9/24 dev eth1 use_vmac"),
))


def _mine(text: str, mine: re.Pattern[str] = MINE) -> list[str]:
    # keepalived cites no file name for global_defs' first lines; compare the message texts only
    return sorted(re.sub(r"^\([^)]*Line \d+\) ", "", ln) for ln in text.splitlines() if mine.search(ln))


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("keepalived") is None, reason="needs root")
@pytest.mark.parametrize(("text", "mine", "least"), [(BAD, MINE, 10), (BAD_COMPLETE, COMPLETE, 11)])
def test_messages_as_keepalived(tmp_path: Path, text: str, mine: re.Pattern[str], least: int) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(text)
    ns = f"pkkw2-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
                       check=True)
        ka = subprocess.run(["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(conf)],
                            capture_output=True, text=True, timeout=30)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    if text is BAD:
        assert "(VI_4) unicast with use_vmac requires vmac_xmit_base - setting" in ka.stderr
    _code, diags = run_config_test(str(conf), interfaces={"eth0", "eth1"})
    ours = "\n".join(d.format() for d in diags)
    theirs = _mine(ka.stderr, mine)
    assert len(theirs) >= least, ka.stderr
    assert _mine(ours, mine) == theirs, f"--- keepalived\n{ka.stderr}\n--- ours\n{ours}"


def _params(tmp_path: Path, glob: str, body: str, vips: str = "192.0.2.1/24\n198.51.100.1/24 dev eth1"):  # type: ignore[no-untyped-def]
    conf = tmp_path / "k.conf"
    conf.write_text(f"global_defs {{\n{glob}\n}}\nvrrp_instance VI_1 {{\n interface eth0\n"
                    f" virtual_router_id 51\n{body}\n virtual_ipaddress {{\n{vips}\n }}\n}}\n")
    model, _ = load_config(str(conf))
    return instance_params(model, "VI_1")


def test_extra_if_needs_all_and_another_interface(tmp_path: Path) -> None:
    p = _params(tmp_path, "", "garp_extra_if 7 all")
    assert (p.garp_extra_if_us, [str(a) for a in p.garp_extra_if_addrs]) == (7_000_000, ["198.51.100.1"])
    # without `all` only VMACs made for addresses count (use_vmac_addr): off
    assert _params(tmp_path, "", "garp_extra_if 7").garp_extra_if_us == 0
    # every address on the instance's own interface: off
    assert _params(tmp_path, "", "garp_extra_if 7 all", "192.0.2.1/24").garp_extra_if_us == 0


def test_extra_if_global_default_and_all_quirk(tmp_path: Path) -> None:
    assert _params(tmp_path, "vrrp_garp_extra_if all 9", "").garp_extra_if_us == 9_000_000
    # the instance's own time wins, and with it its own `all` (none here): off
    assert _params(tmp_path, "vrrp_garp_extra_if all 9", "garp_extra_if 3").garp_extra_if_us == 0
    # keepalived keeps `all` from a line that is then refused, and takes the global time
    p = _params(tmp_path, "vrrp_garp_extra_if 4", "garp_extra_if all junk")
    assert p.garp_extra_if_us == 4_000_000


def test_extra_if_with_vmac(tmp_path: Path) -> None:
    # with use_vmac the instance's VIPs (also `dev eth0`) live on the VMAC; `dev eth1` is extra
    p = _params(tmp_path, "", "use_vmac\n garp_extra_if 2 all",
                "192.0.2.1/24\n192.0.2.3/24 dev eth0\n198.51.100.2/24 dev eth1")
    assert [str(a) for a in p.garp_extra_if_addrs] == ["198.51.100.2"]
    assert _params(tmp_path, "", "use_vmac\n garp_extra_if 2 all", "192.0.2.1/24\n192.0.2.3/24 dev eth0"
                   ).garp_extra_if_us == 0
    # vmac_xmit_base: the VMAC itself gets the periodic GARP too (adverts leave from the parent)
    p = _params(tmp_path, "", "use_vmac\n vmac_xmit_base\n garp_extra_if 2 all",
                "192.0.2.1/24\n192.0.2.3/24 dev eth0\n198.51.100.2/24 dev eth1")
    assert [str(a) for a in p.garp_extra_if_addrs] == ["192.0.2.1", "198.51.100.2"]


def test_unicast_fault_no_peer(tmp_path: Path) -> None:
    assert _params(tmp_path, "", "unicast_fault_no_peer").config_fault
    assert not _params(tmp_path, "", "unicast_fault_no_peer\n unicast_peer {\n 192.0.2.7\n }").config_fault
    assert not _params(tmp_path, "", "unicast_src_ip 192.0.2.9").config_fault
