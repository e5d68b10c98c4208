"""bgp_announce (pykeepalived extension, docs/bgp.md): keepalived 2.2.7's -t rejects it, naming the
keyword; ours accepts it into typed model values, and reports a bad address with its line."""

from __future__ import annotations

import os
from ipaddress import ip_address
from pathlib import Path

import pytest
from differential import keepalived_cli, our_cli  # type: ignore[import-not-found]

from pykeepalived.config import load_config
from pykeepalived.config.dump import dump_model
from pykeepalived.config.model import BgpAnnounce

CONF = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 19
    no_virtual_ipaddress
    bgp_announce {
        mode anycast
        anchor pka-x
        backup_anchor pka-y
        addresses {
            203.0.113.10
            2001:db8:ff::10
        }
    }
}
"""


def test_model_values(tmp_path: Path) -> None:
    p = tmp_path / "k.conf"
    p.write_text(CONF)
    model, diags = load_config(str(p))
    assert not diags
    (inst,) = model.vrrp_instances
    assert inst.bgp == BgpAnnounce("anycast", "pka-x", "pka-y",
                                   (ip_address("203.0.113.10"), ip_address("2001:db8:ff::10")))
    assert inst.bgp.anchor_for("BACKUP") == "pka-x" and inst.bgp.anchor_for("FAULT") is None
    master = BgpAnnounce(backup_anchor="pka-y")
    assert (master.anchor_for("MASTER"), master.anchor_for("BACKUP")) == ("pka-bgp", "pka-y")
    assert BgpAnnounce().anchor_for("BACKUP") is None


def test_bad_address_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "k.conf"
    p.write_text(CONF.replace("203.0.113.10", "203.0.113.300"))
    _, diags = load_config(str(p))
    assert [(d.loc.line, d.message) for d in diags] == [
        (10, "(VI_1) bgp_announce: invalid address '203.0.113.300' - ignoring")]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespace)")
def test_keepalived_rejects_ours_accepts(netns: str, tmp_path: Path) -> None:
    p = tmp_path / "k.conf"
    p.write_text(CONF)
    code, err = keepalived_cli(netns, p)
    assert code != 0
    assert b"Line 5) Unknown keyword 'bgp_announce'" in err, err
    ours, out = our_cli(netns, p)
    assert ours == 0, out


def test_bad_block_says_what_and_where(tmp_path: Path) -> None:
    p = tmp_path / "k.conf"
    bad = (CONF.replace("mode anycast", "mode bogus").replace("anchor pka-x", "anchor pka-bgp-far-too-long")
           .replace("            203.0.113.10\n            2001:db8:ff::10\n", "")
           .replace("backup_anchor pka-y", "colour blue"))
    p.write_text(bad)
    model, diags = load_config(str(p))
    assert [(d.loc.line, d.message) for d in diags] == [
        (6, "(VI_1) unknown bgp_announce mode 'bogus' - ignoring"),
        (7, "anchor 'pka-bgp-far-too-long' too long - ignoring"),
        (8, "Unknown keyword 'colour'"),
        (5, "(VI_1) bgp_announce without addresses - nothing will be announced"),
    ]
    assert model.vrrp_instances[0].bgp == BgpAnnounce()


def test_dump_conf_syntax_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "k.conf"
    p.write_text(CONF)
    model, _ = load_config(str(p))
    again = tmp_path / "dumped.conf"
    again.write_text(dump_model(model))
    assert "bgp_announce {" in again.read_text()
    assert load_config(str(again))[0].vrrp_instances[0].bgp == model.vrrp_instances[0].bgp
