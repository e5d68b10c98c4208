"""The DBus service's parts that need no bus (the daemons on a bus: tests/daemon/test_dbus.py): object
paths as keepalived builds them, and the shipped interface and policy files against the ones Debian's
keepalived package installs."""

from __future__ import annotations

import asyncio
import logging
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.control.dbus import (
    BusInstance,
    DbusService,
    DbusSettings,
    load_interface,
    parse_interface,
    valid_path,
)
from pykeepalived.daemon.vrrp.vrrp_dbus import dbus_settings
from pykeepalived.options import parse_args

DEBIAN_INTERFACES = Path("/usr/share/dbus-1/interfaces")
DEBIAN_POLICY = Path("/etc/dbus-1/system.d/org.keepalived.Vrrp1.conf")
SHIPPED = resources.files("pykeepalived").joinpath("data", "dbus")


def test_paths_as_keepalived_builds_them() -> None:
    s = DbusSettings(enabled=True)
    assert s.vrrp_path() == "/org/keepalived/Vrrp1/Vrrp"
    path = s.instance_path(BusInstance("VI_1", "eth0", 51, 4))
    assert path == "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"
    # only letters and digits: the rest of an interface name becomes '_'
    assert valid_path("bond0.100-x") == "bond0_100_x"
    ns = DbusSettings(enabled=True, net_namespace="blue", instance="i2", no_interface="nothing")
    assert ns.vrrp_path() == "/org/keepalived/Vrrp1/blue/i2/Vrrp"
    path = ns.instance_path(BusInstance("VI_6", None, 7, 6))
    assert path == "/org/keepalived/Vrrp1/blue/i2/Instance/nothing/7/IPv6"


def test_settings_from_the_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("instance i2\nnet_namespace blue\nglobal_defs {\n    enable_dbus\n"
                    "    dbus_service_name org.example.Vrrp\n    dbus_no_interface_name unset\n}\n")
    model, _ = load_config(str(conf), process="vrrp")
    s = dbus_settings(model, parse_args(["-f", str(conf)]))
    assert s == DbusSettings(True, "org.example.Vrrp", "unset", "blue", "i2")
    assert dbus_settings(model, parse_args(["-f", str(conf), "-s", "red"])).net_namespace == "red"  # -s wins
    conf.write_text("global_defs {\n    router_id x\n}\n")
    model, _ = load_config(str(conf), process="vrrp")
    assert dbus_settings(model, parse_args(["-f", str(conf)])) == DbusSettings()


@pytest.mark.parametrize("name", ["org.keepalived.Vrrp1.Vrrp.xml", "org.keepalived.Vrrp1.Instance.xml"])
def test_interfaces_are_keepalived_s(name: str) -> None:
    """Methods, arguments, signals and properties as in the files Debian's keepalived installs (the
    comments are our own)."""
    ours = load_interface(name)
    assert ours.methods and ours.xml.count("<signal") >= 1
    debian = DEBIAN_INTERFACES / name
    if not debian.exists():
        pytest.skip("keepalived's Debian package not installed")
    assert parse_interface(debian.read_text()) == ours


def _rules(text: str) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[tuple[str, str], ...]]]]:
    root = ET.fromstring(text)
    return [(tuple(sorted(p.attrib.items())), [tuple(sorted(r.attrib.items())) for r in p])
            for p in root.findall("policy")]


def test_policy_is_keepalived_s() -> None:
    """Root owns the name and calls everything, anyone else introspects, pings and reads properties."""
    ours = _rules(SHIPPED.joinpath("org.keepalived.Vrrp1.conf").read_text())
    assert ours[0][0] == (("user", "root"),)
    if not DEBIAN_POLICY.exists():
        pytest.skip("keepalived's Debian package not installed")
    assert ours == _rules(DEBIAN_POLICY.read_text())


def _connect_once(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """A service's first connection on its own loop (it fails before using the child's view)."""
    async def run() -> None:
        svc = DbusService(DbusSettings(enabled=True), None, None)  # type: ignore[arg-type]
        svc.start()
        assert svc._task is not None
        await svc._task

    with caplog.at_level(logging.DEBUG, logger="pykeepalived"):
        asyncio.run(run())
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "pykeepalived"]


def test_no_bus_is_keepalived_s_lost_name(caplog: pytest.LogCaptureFixture, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """No system bus to reach: keepalived's one line (GDBus's on_name_lost), the reason only at debug."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'none.sock'}")
    lines = _connect_once(caplog)
    assert [m for lvl, m in lines if lvl >= logging.INFO] == \
        ["Lost the name org.keepalived.Vrrp1 on the session bus"]
    assert any(lvl == logging.DEBUG and "DBus connection to the system bus failed" in m for lvl, m in lines)


def test_dbus_fast_missing_is_reported(caplog: pytest.LogCaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """enable_dbus in an installation without dbus-fast (a venv made before it became a dependency):
    an error naming the module, not only keepalived's 'Lost the name' (tests/daemon/test_dbus.py
    timed out on such a venv with nothing in the log to say why)."""
    for mod in [m for m in sys.modules if m == "dbus_fast" or m.startswith("dbus_fast.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "dbus_fast", None)  # import dbus_fast raises ModuleNotFoundError
    lines = _connect_once(caplog)
    assert lines[0][0] == logging.ERROR
    assert "dbus-fast cannot be imported" in lines[0][1] and "dbus_fast" in lines[0][1]
    assert lines[-1] == (logging.INFO, "Lost the name org.keepalived.Vrrp1 on the session bus")
