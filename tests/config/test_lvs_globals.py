"""lvs_timeouts / lvs_flush_on_stop / lvs_sync_daemon: keepalived 2.2.7's `-t` diagnostics as the oracle,
and the values the children act on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.lvs_globals import lvs_globals
from pykeepalived.lvs.globals import LvsTimeouts, SyncdConfig

BAD = """
global_defs {
    lvs_timeouts tcp
    lvs_timeouts tcp 100 udp abc tcpfin 3000000 foo
    lvs_timeouts udp
    lvs_sync_daemon eth0 inst VI_X id 300 maxlen 0 port 8848 ttl 2 group 10.0.0.1 foo
    lvs_sync_daemon eth1
    lvs_flush_on_stop bar
}
"""

OLD_FORM = """
global_defs {
    lvs_sync_daemon eth0 VI_1 7
}
"""

GOOD = """
global_defs {
    lvs_timeouts tcp 7200 udp 10
    lvs_timeouts tcpfin 30
    lvs_flush
    lvs_flush_onstop VS
    lvs_sync_daemon eth0 inst VI_1 maxlen 1400 port 8849 ttl 3 group ff02::4:5
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.1
    }
}
"""

DEPRECATED = """
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 100
    lvs_sync_daemon_interface eth0
    virtual_ipaddress {
        192.0.2.1
    }
}
"""


def _lines(cmd: list[str]) -> list[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    # keepalived prints `(Line N)` for global_defs lines, pykeepalived `(FILE: Line N)`
    return [re.sub(r"^\((?:[^:)]*: )?Line (\d+)\)", r"(Line \1)", line) for line in text.splitlines()
            if "lvs" in line or "syncid" in line or "number" in line or "SYNCID" in line]


@pytest.mark.parametrize("text", [BAD, OLD_FORM], ids=["bad", "old-form"])
def test_diagnostics_match_keepalived(tmp_path: Path, text: str) -> None:
    if shutil.which("keepalived") is None:
        pytest.skip("keepalived not installed")
    conf = tmp_path / "k.conf"
    conf.write_text(text)
    ka = _lines(["keepalived", "-t", "-f", str(conf)])
    ours = _lines([sys.executable, "-m", "pykeepalived", "-t", "-f", str(conf)])
    assert ka, "keepalived reported nothing: the oracle did not run"
    assert ours == ka


def test_values(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD)
    model, _ = load_config(str(conf))
    g = lvs_globals(model)
    assert g.timeouts == LvsTimeouts(tcp=7200, tcpfin=30, udp=10)
    assert g.flush and g.flush_on_stop == "VS"
    assert g.syncd == SyncdConfig("eth0", "VI_1", None, 1400, 8849, 3, "ff02::4:5")

    conf.write_text(DEPRECATED)
    model, diags = load_config(str(conf))
    assert lvs_globals(model).syncd == SyncdConfig("eth0", "VI_2")
    assert any("lvs_sync_daemon_interface against a vrrp is deprecated" in d.message for d in diags)

    conf.write_text(BAD)
    model, _ = load_config(str(conf))
    g = lvs_globals(model)
    assert g.timeouts == LvsTimeouts(tcp=100)
    assert g.flush_on_stop is None and not g.flush
    # the first lvs_sync_daemon wins; invalid values are ignored, as keepalived does
    assert g.syncd == SyncdConfig("eth0", "VI_X", None, 0, 8848, 2, None)
