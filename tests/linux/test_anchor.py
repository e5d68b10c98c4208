"""linux/anchor.py in a real namespace: the anchor carries host addresses (zebra's connected routes),
and goes, addresses and all, when its descriptor closes; a persistent TUN of the same name left
behind is taken over and goes as well; a name another kind of interface has is refused."""

from __future__ import annotations

import asyncio
import os
from ipaddress import ip_address

import pytest

from pykeepalived.lab import Lab
from pykeepalived.linux.anchor import Anchor
from pykeepalived.linux.rtnl import AsyncIPRoute

pytestmark = pytest.mark.netns


def test_addresses_on_the_anchor_and_gone_with_its_descriptor() -> None:
    with Lab(hosts=1, prefix=f"p19a{os.getpid()}-") as lab:
        h = lab["h1"]
        h.run("ip tuntap add pka-bgp mode tun")  # persistent, as left by something else

        def announce() -> Anchor:
            async def go() -> Anchor:
                a = Anchor(AsyncIPRoute(), "pka-bgp")
                await a.up()
                for addr in ("203.0.113.10", "2001:db8:ff::10"):
                    await a.announce(ip_address(addr))
                    await a.announce(ip_address(addr))  # twice: no error
                await a.withdraw(ip_address("2001:db8:ff::11"))  # never announced: no error
                return a
            return asyncio.run(go())

        a = h.call(announce)
        shown = h.run("ip addr show dev pka-bgp")
        assert "inet 203.0.113.10/32" in shown and "inet6 2001:db8:ff::10/128" in shown, shown
        assert "LOWER_UP" in shown, "carrier on while held: zebra's connected routes are active"
        a.close()
        for _ in range(100):
            if "pka-bgp" not in h.run("ip link"):
                break
            asyncio.run(asyncio.sleep(0.02))
        assert "pka-bgp" not in h.run("ip link")

        def other_kind() -> str:
            try:
                Anchor(AsyncIPRoute(), "eth0")
            except OSError as exc:
                return str(exc)
            return "created"
        assert h.call(other_kind) != "created"
