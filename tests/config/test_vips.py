"""Address lines are parsed once, in the configuration, into typed VipSpec values: keepalived 2.2.7's
-t messages for bad words (the oracle), and the typed fields the runtime converts without reading
a word."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.model import AddrFlag, VipSpec
from pykeepalived.daemon.addrmap import address_from_spec
from pykeepalived.linux.addresses import IFA_F_HOMEADDRESS, IFA_F_NODAD

CONF = ("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n"
        " virtual_ipaddress {{\n  {line}\n }}\n}}\n")


def _line5(argv: list[str], conf: Path) -> list[str]:
    out = subprocess.run([*argv, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    return [ln.split(") ", 1)[1] for ln in (out.stdout + out.stderr).splitlines() if "Line 5)" in ln]


@pytest.mark.skipif(shutil.which("keepalived") is None, reason="needs keepalived 2.2.7")
@pytest.mark.parametrize("line", [
    "192.0.2.1/24 scope bogus",
    "192.0.2.1/24 brd 1.2.3",
    "192.0.2.1 peer 192.0.2.x",
    "2001:db8::1/64 preferred_lft xx",
    "192.0.2.1/24 brd",
    "192.0.2.1/24 label",
    "192.0.2.1/24 scope link brd + label eth0:1 home frob",
])
def test_bad_words_as_keepalived(tmp_path: Path, line: str) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(CONF.format(line=line))
    ours = _line5([sys.executable, "-m", "pykeepalived"], conf)
    assert ours, "each line has something to report"
    assert ours == _line5(["keepalived"], conf)


def _spec(tmp_path: Path, line: str) -> tuple[VipSpec, ...]:
    conf = tmp_path / "k.conf"
    conf.write_text(CONF.format(line=line))
    model, _ = load_config(str(conf))
    return model.vrrp_instances[0].vips


def test_typed_fields(tmp_path: Path) -> None:
    (v,) = _spec(tmp_path, "192.0.2.1/24 dev eth1 scope link brd + label eth1:1 home -nodad no_track")
    assert (v.dev, v.scope, v.broadcast_sign, v.label, v.no_track) == ("eth1", 253, "+", "eth1:1", True)
    assert v.flags == AddrFlag.HOME | AddrFlag.NODAD
    a = address_from_spec(v, "eth0")
    assert a is not None
    assert (a.dev, a.scope, a.label, a.flags) == ("eth1", 253, "eth1:1", IFA_F_HOMEADDRESS | IFA_F_NODAD)
    assert a.broadcast == ipaddress.IPv4Address("192.0.2.255")


def test_bad_value_keeps_the_default(tmp_path: Path) -> None:
    """An unknown scope is reported and left at global (0); a bad broadcast drops the address
    (the daemon used to read these words again, and raised on the broadcast)."""
    (v,) = _spec(tmp_path, "192.0.2.1/24 scope bogus")
    assert v.scope == 0
    assert _spec(tmp_path, "192.0.2.1/24 brd 1.2.3") == ()
