"""nftables data plane: a DR fwmark service is notracked when its mark is set at priority raw.

The director drops conntrack INVALID packets in its forward path (a common firewall rule): a DR
connection seen by conntrack in one direction only is INVALID after its first packet, so the
service works only if its packets are notracked. The mark (7 for VIP:8081) is set at `priority raw`
(-300), the plane's `rawmark` chain (raw + 50) notracks marked packets before conntrack (-200)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pykeepalived.lab import LbLab
from pykeepalived.linux.nft_lb import NftLoadBalancer
from pykeepalived.lvs.model import Dest, Forwarding, Protocol, Service, ServiceKey, make_entry
from pykeepalived.lvs.plan import plan
from tests.check.test_nft_dr import RS, VIP, lab, spread  # noqa: F401  (lab is a fixture)

GUARD = """table inet guard {
 chain forwarding {
  type filter hook forward priority 0; policy accept;
  ct state invalid counter drop
 }
}
table ip marker {
 chain pre {
  type filter hook prerouting priority raw; policy accept;
  ip daddr %s tcp dport 8081 meta mark set 7
 }
}
"""


@pytest.mark.netns
def test_dr_fwmark_service_is_notracked(lab: LbLab, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "guard.nft").write_text(GUARD % VIP)
    lab.director.run(["nft", "-f", str(tmp_path / "guard.nft")])
    key = ServiceKey(4, Protocol.NONE, None, 0, 7)
    want = {key: make_entry(Service(key, "rr"), [Dest(a, 0, 1, Forwarding.DR) for a in RS])}

    async def scenario() -> None:
        lb = NftLoadBalancer()
        await lb.flush()
        await lb.apply(plan(want, {}))
        try:
            c = await spread(lab.client, 12, 8081)
            assert c == {"rs1": 4, "rs2": 4, "rs3": 4}, c
        finally:
            await lb.flush()

    lab.director.run_async(scenario, timeout=60)
    ruleset = lab.director.run(["nft", "list", "table", "inet", "guard"])
    assert "counter packets 0 " in ruleset, ruleset  # nothing of the service was INVALID
