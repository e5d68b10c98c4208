"""vrrp_complete_init's duplicate-VRID check over many instances: the same lines, in keepalived's
order (each pair of instances in file order), from grouping the instances by family, VRID and kind
instead of going through every pair (1,000 instances: ~500,000 pairs)."""

from __future__ import annotations

from pathlib import Path

from pykeepalived.config import load_config
from pykeepalived.config.complete import complete_diagnostics, fit_vips

ETHER = 1


def _conf(tmp_path: Path, insts: list[tuple[str, int, str]]) -> Path:
    blocks = [f"vrrp_instance {name} {{\n  interface {iface}\n  virtual_router_id {vrid}\n"
              f"  priority 100\n  virtual_ipaddress {{\n    192.0.2.{k + 1}\n  }}\n}}\n"
              for k, (name, vrid, iface) in enumerate(insts)]
    path = tmp_path / "keepalived.conf"
    path.write_text("".join(blocks))
    return path


def test_duplicate_vrids_reported_per_pair_in_file_order(tmp_path: Path) -> None:
    insts = [("A", 1, "eth0"), ("B", 2, "eth0"), ("C", 1, "eth0"), ("D", 2, "eth0"), ("E", 1, "eth0"),
             ("F", 1, "eth1"), *((f"X{k}", 10 + k, "eth0") for k in range(300))]
    model, _ = load_config(str(_conf(tmp_path, insts)))
    looked_up: list[str] = []

    def types(name: str) -> int:
        looked_up.append(name)
        return ETHER

    lines = [d.message for d in complete_diagnostics(model, types)]
    assert lines == [
        "A and C both use VRID 1 with IPv4 on interface eth0",
        "A and E both use VRID 1 with IPv4 on interface eth0",
        "B and D both use VRID 2 with IPv4 on interface eth0",
        "C and E both use VRID 1 with IPv4 on interface eth0",
    ]
    assert sorted(looked_up) == ["eth0", "eth1"]  # once per interface


def test_mtu_looked_up_once_per_interface(tmp_path: Path) -> None:
    model, _ = load_config(str(_conf(tmp_path, [(f"V{k}", k + 1, f"eth{k % 2}") for k in range(50)])))
    asked: list[str] = []

    def mtus(name: str) -> int:
        asked.append(name)
        return 1500

    assert fit_vips(model, mtus) == (model, [])
    assert sorted(asked) == ["eth0", "eth1"]
