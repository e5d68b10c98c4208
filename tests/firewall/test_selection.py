"""Which table the VRRP child uses and which instances drop (daemon/vrrp/firewall.py), from real configs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.model import Model
from pykeepalived.daemon.vrrp.firewall import table_name

AUTO = "use_vmac or no_accept/strict specified, but no firewall configured - using nftables"


def model(tmp_path: Path, globals_: str = "", extra: str = "", prio: int = 100) -> Model:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"""global_defs {{
{globals_}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 5
    priority {prio}
{extra}
    virtual_ipaddress {{
        192.0.2.1/24
    }}
}}
""")
    m, _ = load_config(str(conf))
    return m


@pytest.mark.parametrize(("globals_", "extra", "prio", "table", "auto"), [
    ("", "", 100, None, False),                                  # accept mode is the default
    ("vrrp_strict", "", 100, "keepalived", True),                # strict implies no_accept
    ("vrrp_strict", "", 255, None, False),                       # ... unless address owner
    ("vrrp_strict", "version 3\naccept", 100, None, False),      # explicit accept (VRRPv3)
    ("vrrp_strict", "accept", 100, "keepalived", True),          # VRRPv2 accept reset by strict
    ("", "no_accept", 100, "keepalived", True),
    ("", "use_vmac", 100, "keepalived", True),                   # VMAC IGMP/MLD handling
    ("nftables mine", "no_accept", 100, "mine", False),
    ("nftables", "", 100, "keepalived", False),                  # configured, even if unused
    ("vrrp_iptables", "no_accept", 100, "keepalived", False),    # this keepalived build: nftables
])
def test_table_selection(tmp_path: Path, caplog: pytest.LogCaptureFixture, globals_: str, extra: str,
                         prio: int, table: str | None, auto: bool) -> None:
    m = model(tmp_path, globals_, extra, prio)
    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        assert table_name(m) == table
    assert (AUTO in caplog.text) == auto


def test_priority_is_reset_by_nftables(tmp_path: Path) -> None:
    """keepalived's `nftables` handler sets the priority back to -1: order matters."""
    g = model(tmp_path, "nftables_priority 7\nnftables t\nnftables_counters").global_defs
    assert (g.nftables, g.nftables_priority, g.nftables_counters) == ("t", -1, True)
    assert not g.nftables_ifindex
    g = model(tmp_path, "nftables t\nnftables_priority -7\nnftables_ifindex").global_defs
    assert (g.nftables, g.nftables_priority, g.nftables_ifindex) == ("t", -7, True)
