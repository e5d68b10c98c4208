"""The systemd unit as an installation writes it (`pykeepalivedctl unit`, `make install PREFIX=...`)
passes `systemd-analyze verify` unchanged, runs the installed entry point by its absolute path, keeps
Debian's keepalived unit's options and what VRRP needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.control.unit import entry_point, render

REPO = Path(__file__).resolve().parents[2]
DEBIAN_UNIT = Path("/lib/systemd/system/keepalived.service")
CTL = Path(sys.executable).with_name("pykeepalivedctl")
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed")


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def verify(unit: Path) -> None:
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    problems = [ln for ln in (proc.stderr + proc.stdout).splitlines() if unit.name in ln]
    assert proc.returncode == 0, proc.stderr
    assert problems == [], problems


def test_unit_declares_notify_reload_and_network_capabilities() -> None:
    d = {k: v[-1] for k, v in directives(render("/opt/pykeepalived/bin/pykeepalived", None)).items()}
    assert d["Type"] == "notify"
    assert d["ExecStart"] == "/opt/pykeepalived/bin/pykeepalived --dont-fork $DAEMON_ARGS"
    assert d["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "Documentation" not in d  # no page to point at: no line (not keepalived's man pages)
    caps = set(d["CapabilityBoundingSet"].split())
    assert {"CAP_NET_ADMIN", "CAP_NET_RAW"} <= caps
    assert "CAP_SYS_ADMIN" not in caps
    fams = set(d["RestrictAddressFamilies"].split())
    assert {"AF_NETLINK", "AF_PACKET", "AF_INET", "AF_INET6", "AF_UNIX"} <= fams
    # sysctls under /proc/sys/net must stay writable (arp_ignore, promote_secondaries, ...)
    assert "ProtectKernelTunables" not in d and "PrivateNetwork" not in d
    # not systemd's default soft limit of 1,024 descriptors (issue 20)
    assert int(d["LimitNOFILE"]) >= 65536
    with pytest.raises(ValueError):
        render("pykeepalived", None)


@pytest.mark.skipif(not DEBIAN_UNIT.exists(), reason="keepalived's Debian package not installed")
def test_unit_keeps_debian_keepalived_units_options() -> None:
    ours = directives(render("/opt/pykeepalived/bin/pykeepalived", None))
    theirs = directives(DEBIAN_UNIT.read_text())
    for key, values in theirs.items():
        if key in ("Description", "Documentation"):
            continue
        if key == "ExecStart":  # the same arguments after the binary
            assert [v.split(None, 1)[1] for v in ours[key]] == [v.split(None, 1)[1] for v in values]
        else:
            assert ours.get(key) == values, key


def test_entry_point_is_the_one_beside_the_running_ctl(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "pykeepalived"
    exe.write_text("#!/bin/sh\n")
    assert entry_point(str(bin_dir / "pykeepalivedctl")) != str(exe)  # not executable: not taken
    exe.chmod(0o755)
    assert entry_point(str(bin_dir / "pykeepalivedctl")) == str(exe)


@needs_analyze
@pytest.mark.skipif(not CTL.exists(), reason="pykeepalivedctl entry point not installed in this environment")
def test_unit_of_this_installation_verifies(tmp_path: Path) -> None:
    unit = tmp_path / "pykeepalived.service"
    with unit.open("w") as f:
        subprocess.run([str(CTL), "unit"], stdout=f, check=True, timeout=60)
    d = directives(unit.read_text())
    assert d["ExecStart"] == [f"{CTL.with_name('pykeepalived')} --dont-fork $DAEMON_ARGS"]
    (docs,) = d["Documentation"]
    pages = [p.removeprefix("file:") for p in docs.split()]
    assert pages and all(Path(p).is_file() for p in pages), pages
    verify(unit)
    # --exec: the path given, checked
    proc = subprocess.run([str(CTL), "unit", "--exec", str(tmp_path / "none")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "not found or not executable" in proc.stderr and proc.stdout == ""


def _system_units() -> dict[str, list[str]]:
    return {d: sorted(os.listdir(d)) for d in ("/etc/systemd/system", "/lib/systemd/system")
            if os.path.isdir(d)}


@needs_analyze
@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_install_into_a_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "opt" / "pykeepalived"
    before = _system_units()
    bad = subprocess.run(["make", "-s", "install", "PREFIX=relative/dir"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode != 0 and "PREFIX must be an absolute path" in bad.stderr
    assert not (REPO / "relative").exists()
    other = tmp_path / "usr-local"  # not a venv and not empty (say /usr/local): no venv made over it
    (other / "bin").mkdir(parents=True)
    bad = subprocess.run(["make", "-s", "install", f"PREFIX={other}"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode != 0 and "is not empty and not a venv" in bad.stderr
    assert [p.name for p in other.iterdir()] == ["bin"] and not any((other / "bin").iterdir())
    subprocess.run(["make", "-s", "install", f"PREFIX={prefix}"], cwd=REPO, check=True, timeout=600,
                   stdout=subprocess.DEVNULL)
    unit = prefix / "lib" / "systemd" / "system" / "pykeepalived.service"
    d = directives(unit.read_text())
    exe = prefix / "bin" / "pykeepalived"
    assert d["ExecStart"] == [f"{exe} --dont-fork $DAEMON_ARGS"]
    assert d["Documentation"] == [" ".join(f"file:{prefix}/share/doc/pykeepalived/{p}"
                                           for p in ("operations.md", "migration.md", "compatibility.md"))]
    verify(unit)
    # the unit's ExecStart runs: the installed daemon answers -v, its ctl writes the same unit
    ver = subprocess.run([str(exe), "-v"], capture_output=True, text=True, timeout=60)
    assert "keepalived 2.2.7 compatible" in ver.stdout + ver.stderr
    again = subprocess.run([str(prefix / "bin" / "pykeepalivedctl"), "unit"], capture_output=True,
                           text=True, timeout=60, check=True)
    assert again.stdout == unit.read_text()
    # enable_dbus: the interfaces and the bus policy beside them, and the package's own copies
    dbus = prefix / "share" / "dbus-1"
    assert sorted(p.name for p in (dbus / "interfaces").iterdir()) == [
        "org.keepalived.Vrrp1.Instance.xml", "org.keepalived.Vrrp1.Vrrp.xml"]
    policy = (dbus / "system.d" / "org.keepalived.Vrrp1.conf").read_text()
    assert '<allow own="org.keepalived.Vrrp1"/>' in policy
    subprocess.run([str(prefix / "bin" / "python"), "-c", "from pykeepalived.control.dbus import "
                    "load_interface; load_interface('org.keepalived.Vrrp1.Vrrp.xml')"], check=True,
                   timeout=60)
    assert _system_units() == before  # nothing installed, enabled or linked outside the prefix
