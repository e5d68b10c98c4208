"""linux/vrrp_nft.py against the kernel: the table keepalived 2.2.7 builds, element life cycle."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from ipaddress import ip_address

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.linux.nft_lb import NftError
from pykeepalived.linux.vrrp_nft import FwAddress, FwVmac, VrrpNftables

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    with Lab(hosts=["fw"]) as lab:
        h = lab["fw"]
        h.ip("link", "add", "vrrp.7", "link", "eth0", "type", "macvlan", "mode", "private")
        yield h


def ruleset(h: Host) -> str:
    return re.sub(r"packets \d+ bytes \d+", "packets N bytes N", h.run(["nft", "list", "ruleset"]))


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_ipv4_vips_life_cycle(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    fw = VrrpNftables(netns=host.ns)
    a, b = FwAddress(ip_address("192.0.2.100")), FwAddress(ip_address("192.0.2.101"))
    run(fw.add_addresses([a, b]))
    text = ruleset(host)
    assert "type filter hook input priority filter - 1; policy accept;" in text
    assert "ip daddr @vips drop" in text and "ip saddr @vips drop" in text
    assert "elements = { 192.0.2.100, 192.0.2.101 }" in text
    # a second owner of .100 (another instance): removing one reference keeps it
    run(fw.add_addresses([a]))
    run(fw.remove_addresses([a, b]))
    assert "elements = { 192.0.2.100 }" in ruleset(host)
    run(fw.remove_addresses([a]))
    text = ruleset(host)
    assert "elements" not in text and "set vips" in text  # the set stays, empty, like keepalived's
    run(fw.remove_addresses([a]))  # nothing left to remove: no transaction, no error
    # a restarted daemon finds the table of its killed predecessor and replaces it
    fw2 = VrrpNftables(netns=host.ns)
    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        run(fw2.add_addresses([b]))
    assert "Deleting old ip keepalived table" in caplog.text
    run(fw2.close())
    assert host.run(["nft", "list", "ruleset"]).strip() == ""


def test_options_and_ipv6(host: Host) -> None:
    fw = VrrpNftables("other", priority=-5, counters=True, netns=host.ns)
    run(fw.add_vmac(FwVmac("vrrp.7", "eth0"), ["ip", "ip6"]))
    run(fw.add_addresses([
        FwAddress(ip_address("2001:db8::5")),
        FwAddress(ip_address("fe80::5"), "eth0"),
        FwAddress(ip_address("fe80::6"), "vrrp.7", by_name=True),
    ]))
    text = ruleset(host)
    assert text.count("priority filter - 5;") == 3  # out in both tables, in only where there are VIPs
    assert 'ip protocol igmp meta oifkind "macvlan" dup to ip daddr device oif map @vmac_map ' \
        "counter packets N bytes N drop" in text
    assert 'elements = { "vrrp.7" : "eth0" }' in text
    assert 'elements = { fe80::5 . "eth0" }' in text and "ip6 daddr . iif @vips_link_local counter" in text
    assert 'elements = { fe80::6 . "vrrp.7" }' in text and "ip6 saddr . oifname @vips_link_local_name" in text
    run(fw.remove_vmac(FwVmac("vrrp.7", "eth0"), ["ip", "ip6"]))
    assert '"vrrp.7" : "eth0"' not in ruleset(host)
    run(fw.close())
    assert host.run(["nft", "list", "ruleset"]).strip() == ""


def test_failed_transaction_changes_nothing(host: Host) -> None:
    fw = VrrpNftables(netns=host.ns)
    with pytest.raises(NftError):  # no such interface: the whole transaction is refused
        run(fw.add_addresses([FwAddress(ip_address("fe80::9"), "nosuchdev")]))
    assert host.run(["nft", "list", "ruleset"]).strip() == ""
    assert not fw.elements and not fw.setup.table
