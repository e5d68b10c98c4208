"""The IPVS connection-synchronisation daemon (`lvs_sync_daemon`), driven as keepalived drives it.

# Theory of operation
The kernel runs the sync daemons (a master sending connection updates, a backup receiving them,
`ipvsadm -L --daemon`); keepalived only starts and stops them (IPVS_CMD_NEW_DAEMON / DEL_DAEMON,
linux/ipvs_genl.py). Who does it (keepalived 2.2.7 vrrp.c, vrrp_scheduler.c, vrrp_daemon.c,
check_daemon.c):

- tied to a VRRP instance (`lvs_sync_daemon IF inst VI`, or the deprecated per-instance
  `lvs_sync_daemon_interface IF`): the VRRP child. At start the backup daemon is started; when the
  instance becomes MASTER the backup daemon is stopped and a master daemon started, when it leaves
  MASTER the reverse; at stop the daemon of the current state is stopped. The sync id defaults to
  the instance's VRID. An unknown instance clears the setting (logged).
- without an instance: the checker child runs both a master and a backup daemon from start to stop
  (sync id 0 by default), after stopping any left over from an unclean stop (errors ignored).

Errors are logged as keepalived's ipvs_talk does (`IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error:
Daemon has already run(17)`). Where the kernel has no IPVS (the nftables data plane) keepalived's
VRRP child would exit; pykeepalived logs `IPVS: Can't initialize ipvs: ...` once and carries on
without a sync daemon (conntrackd is the nftables world's equivalent and is not driven).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pykeepalived.linux.ipvs_genl import (
    IP_VS_STATE_BACKUP,
    IP_VS_STATE_MASTER,
    SO_SET_STARTDAEMON,
    SO_SET_STOPDAEMON,
    IpvsWorker,
    del_daemon,
    ipvs_strerror,
    netlink_errno,
    new_daemon,
)
from pykeepalived.lvs.globals import SyncdConfig, Tied

log = logging.getLogger("pykeepalived")
Call = Callable[..., Awaitable[Any]]  # IpvsWorker.call / IpvsBackend.call: fn(sock, *args) in the IPVS thread
BOTH = IP_VS_STATE_MASTER | IP_VS_STATE_BACKUP


def open_ipvs() -> IpvsWorker | None:
    """An IPVS socket for the sync daemon, or None (logged, keepalived's ipvs_start text)."""
    try:
        return IpvsWorker()
    except Exception as exc:
        err = netlink_errno(exc)
        # the generic netlink family is missing: libipvs falls back to a raw socket, which fails too
        err = errno.ENOPROTOOPT if err == errno.ENOENT else err
        log.info("IPVS: Can't initialize ipvs: %s", ipvs_strerror("init", err))
        return None


class SyncDaemon:
    """keepalived's ipvs_syncd_cmd / ipvs_syncd_master / ipvs_syncd_backup for one configuration."""

    def __init__(self, cfg: SyncdConfig, syncid: int, call: Call) -> None:
        self.cfg = cfg
        self.syncid = syncid
        self.call = call
        self.master = False  # the tied instance's last state was MASTER
        self.stopped = False

    async def cmd(self, start: bool, states: int, ignore_error: bool = False) -> None:
        for state in (IP_VS_STATE_MASTER, IP_VS_STATE_BACKUP):
            if not states & state:
                continue
            try:
                if start:
                    c = self.cfg
                    await self.call(new_daemon, state, c.ifname, self.syncid, c.maxlen, c.port, c.ttl,
                                    c.group)
                else:
                    await self.call(del_daemon, state, self.syncid)
            except Exception as exc:
                if ignore_error:
                    continue
                err = netlink_errno(exc)
                name, num = SO_SET_STARTDAEMON if start else SO_SET_STOPDAEMON
                msg = ipvs_strerror("start_daemon" if start else "stop_daemon", err)
                log.info("IPVS cmd %s(%d) error: %s(%d)", name, num, msg, err)

    # -- tied to a VRRP instance (the VRRP child) ---------------------------------------------------
    async def start_backup(self) -> None:
        """vrrp_init_state: every instance starts as BACKUP."""
        await self.cmd(True, IP_VS_STATE_BACKUP)

    async def state_changed(self, instance: str, new_master: bool) -> None:
        """After a StateChanged of `instance`: to MASTER → ipvs_syncd_master; leaving MASTER →
        ipvs_syncd_backup (vrrp_state_become_master / vrrp_state_leave_master)."""
        if self.stopped or instance != self.cfg.instance or new_master == self.master:
            return
        self.master = new_master
        await self.cmd(False, IP_VS_STATE_BACKUP if new_master else IP_VS_STATE_MASTER)
        await self.cmd(True, IP_VS_STATE_MASTER if new_master else IP_VS_STATE_BACKUP)

    async def stop_current(self) -> None:
        """At stop: the daemon of the instance's current state (vrrp_terminate_phase1)."""
        if not self.stopped:
            self.stopped = True
            await self.cmd(False, IP_VS_STATE_MASTER if self.master else IP_VS_STATE_BACKUP)

    # -- not tied to an instance (the checker child) ------------------------------------------------
    async def start_both(self) -> None:
        await self.cmd(False, BOTH, ignore_error=True)
        await self.cmd(True, BOTH)

    async def stop_both(self) -> None:
        self.stopped = True
        await self.cmd(False, BOTH, ignore_error=True)


class VrrpSyncDaemon(SyncDaemon):
    """The VRRP child's sync daemon, with its own IPVS socket."""

    def __init__(self, cfg: SyncdConfig, syncid: int, worker: IpvsWorker) -> None:
        super().__init__(cfg, syncid, worker.call)
        self.worker = worker

    def close(self) -> None:
        self.worker.close()


def _new_daemon(tied: Tied) -> VrrpSyncDaemon | None:
    """The instance-tied sync daemon with its IPVS netlink worker, not started (or None)."""
    worker = open_ipvs() if tied is not None else None
    return VrrpSyncDaemon(*tied, worker) if tied is not None and worker is not None else None


async def vrrp_sync_daemon(tied: Tied) -> VrrpSyncDaemon | None:
    """At VRRP child start: the instance-tied sync daemon, started as BACKUP (or None)."""
    sd = _new_daemon(tied)
    if sd is not None:
        await sd.start_backup()
    return sd


async def reload_vrrp_sync_daemon(old: VrrpSyncDaemon | None, tied: Tied,
                                  is_master: Callable[[str], bool]) -> VrrpSyncDaemon | None:
    """SIGHUP (keepalived reload_vrrp_thread): a changed configuration restarts the daemon in the
    instance's current state, errors ignored; an unchanged one keeps running."""
    if old is not None and tied == (old.cfg, old.syncid):
        return old
    if old is not None:
        await old.cmd(False, IP_VS_STATE_MASTER if old.master else IP_VS_STATE_BACKUP, ignore_error=True)
        old.stopped = True
        old.close()
    sd = _new_daemon(tied)
    if sd is None:
        return None
    sd.master = bool(sd.cfg.instance) and is_master(str(sd.cfg.instance))
    await sd.cmd(True, IP_VS_STATE_MASTER if sd.master else IP_VS_STATE_BACKUP, ignore_error=True)
    await sd.cmd(False, IP_VS_STATE_BACKUP if sd.master else IP_VS_STATE_MASTER, ignore_error=True)
    return sd
