"""global_defs keywords keepalived acts on and pykeepalived does not (the checker's SNMP): -t says so,
one line each naming the keyword and FILE:LINE, and still exits as keepalived 2.2.7's -t does."""

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
KEYWORDS = ["enable_snmp_checker", "enable_traps"]  # the VRRP child's SNMP is served


def config_test(argv: list[str], conf: Path) -> tuple[int, list[str]]:
    r = subprocess.run([*argv, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr.splitlines()


def test_config_test_warns_and_exits_as_keepalived(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    code, lines = config_test([sys.executable, "-m", "pykeepalived"], conf)
    assert len(lines) == len(KEYWORDS)
    numbers = [n for n, text in enumerate(CONF.splitlines(), 1)
               if text.split() and text.split()[0] in KEYWORDS]
    for n, kw, line in zip(numbers, KEYWORDS, lines, strict=True):
        assert line.startswith(f"WARNING - {kw} ({conf}:{n}) is not implemented by pykeepalived: "), line
    if shutil.which("keepalived"):
        assert (code, []) == config_test(["keepalived"], conf)  # accepted silently, exit 0
    else:
        assert code == 0


@pytest.mark.parametrize(("process", "expect"), [
    ("vrrp", []),
    ("checker", ["enable_snmp_checker", "enable_traps"]),
    ("bfd", []),
])
def test_each_process_warns_about_its_own(tmp_path: Path, process: str, expect: list[str]) -> None:
    """At start-up each child logs the keywords it would act on (the daemon test checks the log)."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    _, diags = load_config(str(conf), process=process)
    assert [d.message.split()[2] for d in diags] == expect
