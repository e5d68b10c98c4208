"""The BFD core does no I/O; bfd_instance blocks map to BfdParams with keepalived's defaults and checks."""

from __future__ import annotations

import ast
from ipaddress import ip_address
from pathlib import Path

import pykeepalived.bfd
from pykeepalived.bfd.params import BfdParams, params_from_model
from pykeepalived.config import load_config
from tests.vrrp.test_purity import FORBIDDEN, imported_roots

BFD_DIR = Path(pykeepalived.bfd.__file__).parent


def test_bfd_package_imports_no_io_modules() -> None:
    modules = sorted(BFD_DIR.glob("*.py"))
    assert {m.name for m in modules} >= {"packet.py", "session.py", "engine.py", "params.py", "events.py"}
    offenders = {m.name: sorted(imported_roots(ast.parse(m.read_text())) & FORBIDDEN) for m in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


CONF = """
bfd_instance B1 {
  neighbor_ip 192.0.2.2
  source_ip 192.0.2.1
  min_rx 100
  min_tx 50.5
  idle_tx 2000
  multiplier 3
  passive
  ttl 250
  max_hops 3
  weight -10 reverse
  vrrp
}
bfd_instance B2 {
  neighbour_ip 2001:db8::2
}
bfd_instance B3 {
  neighbor_ip 2001:db8::3
  source_ip 192.0.2.1
}
bfd_instance B4 {
  neighbor_ip 2001:db8::2
}
bfd_instance B5 {
  neighbor_ip 198.51.100.1
  ttl 10
  max_hops 20
  min_rx 20000
  checker
}
"""


def test_params_from_model(tmp_path: Path) -> None:
    f = tmp_path / "k.conf"
    f.write_text(CONF)
    model, _ = load_config(str(f), None, False)
    ps, warnings = params_from_model(model)
    by = {p.name: p for p in ps}
    assert by["B1"] == BfdParams(
        name="B1", neighbor=ip_address("192.0.2.2"), source=ip_address("192.0.2.1"), min_rx_us=100_000,
        min_tx_us=50_500, idle_tx_us=2_000_000, multiplier=3, passive=True, ttl=250, max_hops=3,
        vrrp=True, checker=False, weight=-10, weight_reverse=True)
    b2 = by["B2"]  # keepalived defaults; IPv6 hop limit 64
    assert (b2.min_rx_us, b2.min_tx_us, b2.idle_tx_us, b2.multiplier, b2.ttl, b2.max_hops) == (
        10_000, 10_000, 1_000_000, 5, 64, 0)
    assert b2.vrrp and b2.checker and b2.port == 3784 and b2.min_ttl() == 64
    assert by["B5"].max_hops == 10 and not by["B5"].vrrp and by["B5"].checker
    assert set(by) == {"B1", "B2", "B5"}
    assert warnings == [
        "Configuration error: BFD instance B3 source address 192.0.2.1 and neighbor address 2001:db8::3 are "
        "not of the same family, disabling instance",
        "Configuration error: BFD instance B4 has duplicate neighbor address 2001:db8::2, ignoring instance",
        "Configuration warning: BFD instance B5 min_rx value 20000 is larger than max sensible (10000)",
        "BFD instance B5: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit",
    ]
