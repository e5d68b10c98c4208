"""The shipped unit file passes `systemd-analyze verify` and keeps what VRRP needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

UNIT = resources.files("pykeepalived") / "data" / "pykeepalived.service"


def unit_text() -> str:
    return UNIT.read_text()


def directives(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def test_unit_declares_notify_reload_and_network_capabilities() -> None:
    d = directives(unit_text())
    assert d["Type"] == "notify"
    assert d["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert d["ExecStart"].startswith("pykeepalived --dont-fork")
    caps = set(d["CapabilityBoundingSet"].split())
    assert {"CAP_NET_ADMIN", "CAP_NET_RAW"} <= caps
    assert "CAP_SYS_ADMIN" not in caps
    fams = set(d["RestrictAddressFamilies"].split())
    assert {"AF_NETLINK", "AF_PACKET", "AF_INET", "AF_INET6", "AF_UNIX"} <= fams
    # sysctls under /proc/sys/net must stay writable (arp_ignore, promote_secondaries, ...)
    assert "ProtectKernelTunables" not in d and "PrivateNetwork" not in d
    # not systemd's default soft limit of 1,024 descriptors (issue 20)
    assert int(d["LimitNOFILE"]) >= 65536


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # ExecStart names `pykeepalived` (found in /usr/bin or /usr/local/bin by systemd); point it at
    # this environment's entry point so verify can check the executable exists.
    exe = Path(sys.executable).with_name("pykeepalived")
    if not exe.exists():
        pytest.skip("pykeepalived entry point not installed in this environment")
    unit = tmp_path / "pykeepalived.service"
    unit.write_text(unit_text().replace("ExecStart=pykeepalived ", f"ExecStart={exe} "))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    problems = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "pykeepalived.service" in ln]
    assert proc.returncode == 0, proc.stderr
    assert problems == [], problems
