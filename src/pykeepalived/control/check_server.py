# Theory of operation
# -------------------
# The checker child (keepalived's Keepalived_healthcheckers) serves the control protocol of
# jsonlines.py on its own socket (pykeepalived_check.sock, see server.py for where), answering from
# its live CheckerRuntime:
#
#   status   {"role": "checker", "dataplane", "virtual_servers": [...]}: per virtual server as
#            keepalived prints it (`[203.0.113.10]:tcp:80`, `FWM 1`, `[GROUP]:80`) its lb_algo,
#            lb_kind, quorum state, alive weight sum, sorry server; per real server alive, weight,
#            effective weight, last transition and its checkers (type, target, up, last result,
#            failure reason, time of the last check)
#   stats    the data plane's traffic counters (`ipvsadm -Ln --stats` figures) per service and
#            destination, and that table as text
#   dump     keepalived_check.data text
#   reload   SIGHUP to the parent, which reloads every child
#   follow   {"event": "real_server", "virtual_server", "real_server", "state": "UP"|"DOWN",
#            "reason", "time"} and {"event": "quorum", "virtual_server", "state", "time"}
#
# Events and transition times come from the runtime's notify-FIFO lines (`RS ... UP`, `VS ... DOWN`,
# keepalived.md §4.3), teed before they reach the FIFOs (CheckerPlane.tee), so they fire exactly
# when keepalived would write its FIFO line.
#
# Traffic counters: the data plane's stats() is a netlink (IPVS) or nft round trip, so it is never
# run inside a collector. LvsStatsCache keeps the last answer; a scrape or a `stats` request
# refreshes it when older than MAX_AGE_S, waiting at most BOUND_S (then the previous counters are
# served and the read completes in the background). One read at a time, whatever the scrape rate.
"""The checker child's control socket, and the cache of the data plane's traffic counters."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pykeepalived import KEEPALIVED_COMPAT, __version__
from pykeepalived.check.model import fmt_addr
from pykeepalived.control.jsonlines import JsonLinesServer
from pykeepalived.logs import log
from pykeepalived.lvs.model import LvsCounters, LvsStats, ServiceKey

if TYPE_CHECKING:
    from pykeepalived.check.scheduler import CheckerRuntime, LvsBackend

MAX_AGE_S = 1.0
BOUND_S = 2.0
STAT_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")


class LvsStatsCache:
    """The data plane's counters as last read; `refresh()` re-reads them, bounded in time."""

    def __init__(self, backend: Callable[[], LvsBackend | None], max_age: float = MAX_AGE_S,
                 bound: float = BOUND_S) -> None:
        self.backend = backend
        self.max_age = max_age
        self.bound = bound
        self.counters: LvsCounters = {}
        self.fetched = -max_age  # monotonic time of the last completed read
        self.reads = 0
        self._task: asyncio.Task[None] | None = None
        self._error = ""

    def get(self) -> LvsCounters:
        return self.counters

    async def refresh(self) -> None:
        if time.monotonic() - self.fetched < self.max_age:
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read())
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.bound)
        except TimeoutError:
            log.warning("LVS counters: the data plane did not answer within %gs, serving the previous ones",
                        self.bound)

    async def _read(self) -> None:
        try:
            backend = self.backend()
            if backend is not None:
                self.counters = await backend.stats()
                self.reads += 1
            if self._error:
                log.info("LVS counters readable again")
                self._error = ""
        except Exception as exc:  # the data plane failing must not break a scrape
            if repr(exc) != self._error:
                log.error("Unable to read the LVS counters: %r", exc)
                self._error = repr(exc)
        finally:
            self.fetched = time.monotonic()
            self._task = None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def _stats(s: LvsStats) -> dict[str, int]:
    return {k: getattr(s, k) for k in STAT_FIELDS}


def _addr(key: ServiceKey) -> str:
    if key.fwmark:
        return f"FWM  {key.fwmark}"
    host = f"[{key.addr}]" if key.addr and ":" in key.addr else key.addr
    return f"{key.protocol.value.upper():<4} {host}:{key.port}"


def stats_text(counters: LvsCounters) -> str:
    """The table as `ipvsadm -Ln --stats` prints it."""
    out = [f"{'Prot LocalAddress:Port':<34}{'Conns':>8} {'InPkts':>8} {'OutPkts':>8} {'InBytes':>8} "
           f"{'OutBytes':>8}", "  -> RemoteAddress:Port"]

    def row(label: str, s: LvsStats) -> str:
        return (f"{label:<34}{s.conns:>8} {s.inpkts:>8} {s.outpkts:>8} {s.inbytes:>8} "
                f"{s.outbytes:>8}").rstrip()

    for key in sorted(counters, key=str):
        st = counters[key]
        out.append(row(_addr(key), st.total))
        for dk in sorted(st.dests):
            host = f"[{dk.addr}]" if ":" in dk.addr else dk.addr
            out.append(row(f"  -> {host}:{dk.port}", st.dests[dk]))
    return "\n".join(out) + "\n"


class CheckControlServer(JsonLinesServer):
    """Answers for a CheckerRuntime; `transitions` maps VS / (VS, RS) texts to the time they changed."""

    def __init__(self, path: str, runtime: Callable[[], CheckerRuntime | None], dataplane: Callable[[], str],
                 data_text: Callable[[], str], cache: LvsStatsCache,
                 transitions: dict[str | tuple[str, str], float], started: float) -> None:
        super().__init__(path)
        self.runtime = runtime
        self.dataplane = dataplane
        self.data_text = data_text
        self.cache = cache
        self.transitions = transitions
        self.started = started

    def status(self) -> dict[str, Any]:
        rt = self.runtime()
        out: list[dict[str, Any]] = []
        if rt is not None:
            checks: dict[tuple[int, int], list[dict[str, Any]]] = {}
            for c in rt.checkers:
                last = c.last
                checks.setdefault((c.vs, c.rs), []).append({
                    "type": c.state.kind, "target": c.state.chk, "up": c.state.is_up,
                    "last_result": None if last is None else ("success" if last.ok else "failure"),
                    "reason": None if last is None or last.ok else last.reason,
                    "last_check": c.last_time})
            for vi, st in enumerate(rt.states):
                s = st.spec
                rss = [{"real_server": r.fmt, "address": r.spec.addr, "port": r.spec.port, "alive": r.alive,
                        "weight": r.spec.weight, "effective_weight": r.weight,
                        "inhibit_on_failure": r.inhibit,
                        "lb_kind": (r.spec.forwarding or s.forwarding).name,
                        "last_transition": self.transitions.get((st.fmt, r.fmt), self.started),
                        "checkers": checks.get((vi, ri), [])} for ri, r in enumerate(st.rs)]
                out.append({
                    "virtual_server": st.fmt, "services": [str(k) for k in s.keys],
                    "protocol": s.protocol.value.upper() if not s.key.fwmark else "",
                    "lb_algo": s.scheduler, "lb_kind": s.forwarding.name,
                    "persistence_timeout": s.persistence_timeout, "quorum": s.quorum,
                    "hysteresis": s.hysteresis, "quorum_up": st.quorum_up, "alive_weight": st.weight_sum(),
                    "sorry_server": st.sorry_fmt or None, "sorry_server_active": st.sorry_alive,
                    "suspended": rt.suspended(vi),
                    "last_transition": self.transitions.get(st.fmt, self.started), "real_servers": rss})
        return {"ok": True, "role": "checker", "pid": os.getpid(), "version": __version__,
                "keepalived": KEEPALIVED_COMPAT, "dataplane": self.dataplane(), "virtual_servers": out}

    async def prepare(self, req: dict[str, Any]) -> None:
        if req.get("cmd") == "stats":
            await self.cache.refresh()

    def stats(self) -> dict[str, Any]:
        counters = self.cache.get()
        rt = self.runtime()
        owner = {k: st.fmt for st in (rt.states if rt is not None else []) for k in st.spec.keys}
        services = [{"virtual_server": owner.get(k, ""), "service": str(k), **_stats(v.total),
                     "real_servers": [{"real_server": fmt_addr(d.addr, k.protocol, d.port), **_stats(ds)}
                                      for d, ds in sorted(v.dests.items())]}
                    for k, v in sorted(counters.items(), key=lambda kv: str(kv[0]))]
        return {"ok": True, "role": "checker", "dataplane": self.dataplane(), "services": services,
                "text": stats_text(counters)}

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "status":
            return self.status()
        if cmd == "stats":
            return self.stats()
        if cmd == "dump":
            return {"ok": True, "text": self.data_text()}
        if cmd == "reload":
            return self.reload_parent()
        return super().handle(req)
