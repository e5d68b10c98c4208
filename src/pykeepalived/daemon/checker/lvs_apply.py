"""The checker child's part of the global LVS keywords: lvs_timeouts, lvs_flush, lvs_flush_on_stop and
an lvs_sync_daemon not tied to a VRRP instance.

# Theory of operation
keepalived's check_daemon.c start_check / checker_terminate_phase2 and ipwrapper.c clear_services, on
either data plane:

- start: set the timeouts, start the untied sync daemon (master and backup), then with `lvs_flush`
  empty the table, all before the first checker runs;
- reload: timeouts set again (or the kernel's restored when the keyword is gone), sync daemon
  restarted if its settings changed;
- stop (unless -I): our services are removed as before; `lvs_flush_on_stop` (full) then flushes the
  whole IPVS table, `lvs_flush_on_stop VS` removes each of our services with its destinations (what
  pykeepalived always does); then the sync daemon is stopped and the kernel's timeouts restored.

IPVS: timeouts through IPVS_CMD_SET_CONFIG, flush IPVS_CMD_FLUSH (linux/ipvs.py). nftables
(linux/nft_lb.py): the timeouts become `ct timeout` objects on our virtual services' connections,
"flush" means our own tables only (other nftables tables are not keepalived's to remove), and there
is no sync daemon (logged once: keepalived's `IPVS: Can't initialize ipvs` text).
"""

from __future__ import annotations

from typing import Any

from pykeepalived.config.lvs_globals import LvsGlobals, lvs_globals
from pykeepalived.config.model import Model
from pykeepalived.daemon.log import log
from pykeepalived.linux.ipvs_sync import SyncDaemon


class CheckerLvsGlobals:
    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.cfg = LvsGlobals()
        self.syncd: SyncDaemon | None = None
        self._no_ipvs_logged = False

    def _ipvs(self) -> bool:
        return hasattr(self.backend, "call")

    async def start(self, model: Model) -> None:
        self.cfg = cfg = lvs_globals(model)
        await self._timeouts(cfg)
        await self._syncd(cfg)
        if cfg.flush:
            await self.backend.flush()

    async def reload(self, model: Model) -> None:
        old, self.cfg = self.cfg, lvs_globals(model)
        await self._timeouts(self.cfg, reload=True)
        if old.syncd != self.cfg.syncd or self.syncd is None:  # unchanged: left running (keepalived
            # starts it again and logs `Daemon has already run`)
            if self.syncd is not None:
                await self.syncd.stop_both()
                self.syncd = None
            await self._syncd(self.cfg)

    async def stop(self, release: bool) -> None:
        """After the runtime removed our services (when `release`)."""
        if release and self.cfg.flush_on_stop == "full":
            await self.backend.flush()
        if self.syncd is not None:
            await self.syncd.stop_both()
        await self._timeouts(None)

    async def _timeouts(self, cfg: LvsGlobals | None, reload: bool = False) -> None:
        t = cfg.timeouts if cfg is not None else None
        if t or reload or cfg is None:
            await self.backend.set_timeouts(t or None)

    async def _syncd(self, cfg: LvsGlobals) -> None:
        s = cfg.syncd
        if s is None or s.instance is not None:
            return  # none, or the VRRP child's (tied to an instance)
        if not self._ipvs():
            if not self._no_ipvs_logged:
                self._no_ipvs_logged = True
                log.info("IPVS: Can't initialize ipvs: Protocol not available")
                log.warning("lvs_sync_daemon %s: the kernel has no IPVS (nftables data plane) - no sync "
                            "daemon is run", s.ifname)
            return
        self.syncd = SyncDaemon(s, s.syncid or 0, self.backend.call)
        await self.syncd.start_both()
