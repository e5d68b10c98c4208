# Theory of operation
# -------------------
# Everything operational the checker child carries besides health checking, behind one object so the
# child's code has a handful of calls: `start(model)` once the runtime runs, `reload(model)` after
# each SIGHUP, `close()` at stop, and `tee(fifo)` around the runtime's notify-FIFO callback, from
# which it learns every real server and quorum transition (time stamps for `status`, events for
# `follow`). It owns the checker's control socket (check_server.py), the LVS counters cache and the
# metrics endpoint (port + 1 of `pykeepalived_metrics_address`, re-bound when a reload moves it).
# A reload that changes the control socket's path moves it. Failures to bind are logged, never fatal.
"""The checker child's operations plane: control socket, LVS counters, metrics endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pykeepalived.control.check_server import CheckControlServer, LvsStatsCache
from pykeepalived.control.endpoint import MetricsEndpoint, checker_listen_address
from pykeepalived.control.jsonlines import move_control
from pykeepalived.control.server import check_socket_path

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from pykeepalived.check.scheduler import CheckerRuntime, LvsBackend
    from pykeepalived.config.model import Model


class CheckedChild(Protocol):
    """What the plane reads of the checker child (daemon/checker/checker_child.py CheckerChild), live."""

    rt: CheckerRuntime | None  # the running health checks, None before the first start
    backend: LvsBackend | None  # the LVS data plane's table (its counters)
    dataplane: str  # its name

    def data_text(self) -> str: ...


class CheckerPlane:
    def __init__(self, child: CheckedChild, pid_file: str) -> None:
        self.child = child
        self.pid_file = pid_file  # the control socket's default place is beside it
        self.started = time.time()
        self.transitions: dict[str | tuple[str, str], float] = {}
        self.cache = LvsStatsCache(lambda: child.backend)
        self.control: CheckControlServer | None = None
        self.metrics = MetricsEndpoint(self._registry, self.cache.refresh)

    def _registry(self) -> CollectorRegistry:
        from pykeepalived.control.metrics import CheckerCollector, make_registry

        assert self.child.rt is not None
        return make_registry(CheckerCollector(self.child.rt, self.cache.get))

    async def start(self, model: Model) -> None:
        await self.reload(model)

    async def reload(self, model: Model) -> None:
        g = model.global_defs
        path = check_socket_path(g.pykeepalived_control_socket, self.pid_file)
        self.control = await move_control(self.control, path, self._server)
        await self.metrics.configure(checker_listen_address(g.pykeepalived_metrics_address))

    def _server(self, path: str) -> CheckControlServer:
        return CheckControlServer(path, lambda: self.child.rt, lambda: self.child.dataplane,
                                  self.child.data_text, self.cache, self.transitions, self.started)

    async def close(self) -> None:
        await self.metrics.close()
        if self.control is not None:
            await self.control.close()
        await self.cache.close()

    # ------------------------------------------------------------------ events
    def tee(self, fifo: Callable[[str], None]) -> Callable[[str], None]:
        def write(text: str) -> None:
            self.fifo_line(text)
            fifo(text)

        return write

    def fifo_line(self, text: str) -> None:
        """`RS [IP]:tcp:PORT VS UP|DOWN` or `VS VS UP|DOWN` (keepalived.md §4.3; VS may be `FWM 1`)."""
        kind, _, rest = text.partition(" ")
        body, _, state = rest.rpartition(" ")
        now = time.time()
        if kind == "RS":
            rs, _, vs = body.partition(" ")
            self.transitions[(vs, rs)] = now
            if self.control is not None:
                reason = self._reason(vs, rs) if state == "DOWN" else None
                self.control.publish({"event": "real_server", "virtual_server": vs, "real_server": rs,
                                      "state": state, "reason": reason, "time": now})
        elif kind == "VS":
            self.transitions[body] = now
            if self.control is not None:
                self.control.publish({"event": "quorum", "virtual_server": body, "state": state, "time": now})

    def _reason(self, vs: str, rs: str) -> str | None:
        """The failure reason of the real server's most recently failed checker."""
        rt = self.child.rt
        if rt is None:
            return None
        failed = [c for c in rt.checkers if rt.states[c.vs].fmt == vs and rt.states[c.vs].rs[c.rs].fmt == rs
                  and c.last is not None and not c.last.ok]
        best = max(failed, key=lambda c: c.last_time, default=None)
        return best.last.reason if best is not None and best.last is not None else None
