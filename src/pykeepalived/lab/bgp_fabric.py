"""The routed lab of bgp_announce (pykeepalived/lab/frr.py fabric), and nginx on its nodes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from pykeepalived.lab.frr import VIP4, VIP6, Fabric, fabric, why_not
from pykeepalived.lab.netns import Host
from pykeepalived.lab.servers import nginx

__all__ = ["VIP4", "VIP6", "Fabric", "fabric", "web", "why_not"]


@contextlib.contextmanager
def web(hosts: list[Host], d: Path) -> Iterator[None]:
    """nginx on every node answering its node's name on port 80 (any local address)."""
    with contextlib.ExitStack() as stack:
        for h in hosts:
            site = f'server {{ listen 80; listen [::]:80; location / {{ return 200 "{h.name}\\n"; }} }}'
            stack.enter_context(nginx(d / h.name, site, netns=h.ns, wait=[(str(h.ifaces[0].ipv4.ip), 80)]))
        yield
