"""The global keywords of this area at `-t`: values and messages as keepalived 2.2.7's -t prints them
(the oracle), and what the model keeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.config import load_config

CONF = """global_defs {{
    {line}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {{
        192.0.2.1
    }}
}}
"""


def messages(argv: list[str], conf: Path) -> list[str]:
    out = subprocess.run([*argv, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    return sorted(line.split(") ", 1)[-1] for line in text.splitlines()
                  if "auto_priority" in line or "number '" in line)


@pytest.mark.parametrize(("line", "model"), [
    ("max_auto_priority", 99), ("max_auto_priority 50", 50), ("max_auto_priority -1", -1),
    ("max_auto_priority 100", None), ("max_auto_priority x", None),
    ("min_auto_priority_delay 0", None), ("min_auto_priority_delay 20000000", None),
    ("min_auto_priority_delay 5000", None),
])
def test_auto_priority_keywords_as_keepalived(tmp_path: Path, line: str, model: int | None) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(CONF.format(line=line))
    assert messages([sys.executable, "-m", "pykeepalived"], conf) == messages(["keepalived"], conf)
    m, _ = load_config(str(conf))
    assert m.global_defs.max_auto_priority == model


IFACE_CONF = """{block} {{
    {row}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {{
        192.0.2.1
    }}
}}
"""


@pytest.mark.netns
@pytest.mark.parametrize(("block", "row"), [
    ("linkbeat_interfaces", "nosuch0"), ("linkbeat_interfaces", "eth0 FOO"),
    ("linkbeat_interfaces", "eth0 ETHTOOL"), ("interface_up_down_delays", "nosuch1 1"),
    ("interface_up_down_delays", "eth0 1 0.5"),
])
def test_interface_blocks_as_keepalived(tmp_path: Path, block: str, row: str) -> None:
    """-t inside a namespace that has eth0: the same lines and exit status as keepalived."""
    from pykeepalived.lab import Lab

    conf = tmp_path / "k.conf"
    conf.write_text(IFACE_CONF.format(block=block, row=row))
    with Lab() as lab:
        host = lab.add_host("t")
        results = []
        for argv in (["keepalived"], [sys.executable, "-m", "pykeepalived"]):
            proc = host.popen([*argv, "-t", "-f", str(conf)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
            out, _ = proc.communicate(timeout=30)
            results.append((proc.returncode, sorted(line for line in out.splitlines() if line)))
    assert results[0][0] == (0 if "eth0" in row and "FOO" not in row else 4 if "nosuch" in row else 5)
    assert results[1] == results[0]
