"""lvs_sync_daemon's command sequence (keepalived's ipvs_syncd_master/backup, vrrp_terminate_phase1,
check_daemon.c) and its log lines; the kernel side is tested in the IPVS VM (tests/check/test_ipvs_vm.py)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from pykeepalived.config import load_config
from pykeepalived.config.lvs_globals import lvs_globals
from pykeepalived.linux.ipvs_genl import IP_VS_STATE_BACKUP as B
from pykeepalived.linux.ipvs_genl import IP_VS_STATE_MASTER as M
from pykeepalived.linux.ipvs_sync import SyncDaemon, vrrp_sync_daemon
from pykeepalived.lvs.globals import SyncdConfig, resolve_syncid, tied_syncd


class Kernel:
    """Records the daemon commands and answers like the kernel: EEXIST for a running state, ESRCH for
    stopping one that is not running."""

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.log: list[tuple[str, int]] = []

    async def call(self, fn: Any, *args: Any) -> None:
        state = args[0]
        self.log.append((fn.__name__, state))
        if fn.__name__ == "new_daemon":
            if state in self.running:
                raise NetlinkError(errno.EEXIST)
            self.running.add(state)
        else:
            if state not in self.running:
                raise NetlinkError(errno.ESRCH)
            self.running.discard(state)


def test_tied_instance_sequence(caplog: pytest.LogCaptureFixture) -> None:
    k = Kernel()
    sd = SyncDaemon(SyncdConfig("eth0", "VI_1"), 51, k.call)

    async def go() -> None:
        await sd.start_backup()
        await sd.state_changed("VI_2", True)  # another instance: nothing
        await sd.state_changed("VI_1", True)
        await sd.state_changed("VI_1", False)  # leaving MASTER (BACKUP or FAULT)
        await sd.state_changed("VI_1", True)
        await sd.stop_current()
        await sd.state_changed("VI_1", False)  # after stop: nothing

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        asyncio.run(go())
    assert k.log == [("new_daemon", B), ("del_daemon", B), ("new_daemon", M), ("del_daemon", M),
                     ("new_daemon", B), ("del_daemon", B), ("new_daemon", M), ("del_daemon", M)]
    assert not k.running and not caplog.records


def test_untied_both_and_error_lines(caplog: pytest.LogCaptureFixture) -> None:
    k = Kernel()
    k.running.add(B)  # left over from an unclean stop: stopped silently first
    sd = SyncDaemon(SyncdConfig("eth0"), 0, k.call)

    async def go() -> None:
        await sd.start_both()
        await sd.cmd(True, M)  # already running: keepalived's ipvs_talk line
        await sd.stop_both()
        await sd.cmd(False, B)

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        asyncio.run(go())
    assert k.log[:4] == [("del_daemon", M), ("del_daemon", B), ("new_daemon", M), ("new_daemon", B)]
    assert not k.running
    assert [r.getMessage() for r in caplog.records] == [
        "IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)",
        "IPVS cmd IP_VS_SO_SET_STOPDAEMON(1164) error: No daemon is running(3)"]


def test_syncid() -> None:
    assert resolve_syncid(SyncdConfig("eth0", "VI_1"), {"VI_1": 51}) == 51
    assert resolve_syncid(SyncdConfig("eth0", "VI_1", 7), {"VI_1": 51}) == 7
    assert resolve_syncid(SyncdConfig("eth0"), {}) == 0
    assert resolve_syncid(SyncdConfig("eth0", "VI_9"), {"VI_1": 51}) is None


CONF = """
global_defs {
    lvs_sync_daemon eth0 inst %s
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


@pytest.mark.parametrize(("inst", "line"), [
    ("VI_1", "IPVS: Can't initialize ipvs: Protocol not available"),
    ("VI_9", "Unable to find vrrp instance VI_9 for lvs_syncd - clearing lvs_syncd config")])
def test_vrrp_child_without_ipvs(tmp_path: Path, caplog: pytest.LogCaptureFixture, inst: str,
                                 line: str) -> None:
    if os.path.exists("/proc/net/ip_vs"):
        pytest.skip("this kernel has IPVS")
    conf = tmp_path / "k.conf"
    conf.write_text(CONF % inst)
    model, _ = load_config(str(conf))
    vrids = {i.name: i.vrid for i in model.vrrp_instances if i.vrid is not None}
    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        tied = tied_syncd(lvs_globals(model).syncd, vrids, logging.getLogger("pykeepalived").error)
        assert asyncio.run(vrrp_sync_daemon(tied)) is None
    assert [r.getMessage() for r in caplog.records] == [line]
