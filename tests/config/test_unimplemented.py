"""The SNMP keywords of global_defs, which keepalived acts on: every one is served now (the checker's
too: control/snmp_check.py), so -t prints nothing for them and exits as keepalived 2.2.7's -t does, and
no process warns about them at start (it warned "is not implemented by pykeepalived" before)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.config import load_config

CONF = """global_defs {
    router_id x
    enable_snmp_vrrp
    enable_snmp_keepalived
    enable_snmp_rfc
    enable_snmp_rfcv2
    enable_snmp_rfcv3
    enable_snmp_checker
    enable_traps
}
"""


def config_test(argv: list[str], conf: Path) -> tuple[int, list[str]]:
    r = subprocess.run([*argv, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr.splitlines()


def test_config_test_accepts_them_silently_as_keepalived(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    ours = config_test([sys.executable, "-m", "pykeepalived"], conf)
    if shutil.which("keepalived"):
        assert ours == config_test(["keepalived"], conf)  # accepted silently, exit 0
    assert ours == (0, [])


@pytest.mark.parametrize("process", ["vrrp", "checker", "bfd"])
def test_no_process_warns(tmp_path: Path, process: str) -> None:
    """At start-up no child logs a diagnostic for them (the daemon test checks the log)."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    _, diags = load_config(str(conf), process=process)
    assert [d.message for d in diags] == []
