# Theory of operation
# -------------------
# Everything operational the VRRP child carries besides VRRP itself, behind one object so the
# child's code only has a handful of hook calls: `timing` (timer lateness and advert jitter, fed by
# the clock and the executor), the control socket and, when global_defs has
# `pykeepalived_metrics_address`, the Prometheus endpoint. `start()` runs once the engine is up;
# a failure to bind is logged and the daemon carries on (VRRP matters more than observability).
# `reload()` (after each SIGHUP) follows a changed metrics address: the listener is closed, moved or
# opened (endpoint.py); a changed control socket path (or `off`) closes the old socket (its `follow`
# clients see the end of the stream) and opens the new one.
"""The VRRP child's operations plane: timing statistics, control socket, metrics endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pykeepalived.control.endpoint import MetricsEndpoint, listen_address
from pykeepalived.control.jsonlines import move_control
from pykeepalived.control.server import ControlServer, socket_path
from pykeepalived.control.timing import TimingStats
from pykeepalived.vrrp.effects import Notify, State, StateChanged

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from pykeepalived.config.model import Model
    from pykeepalived.control.metrics import BgpSource
    from pykeepalived.control.server import VrrpDumps
    from pykeepalived.control.view import VrrpEvents, VrrpView


class ControlPlane:
    def __init__(self, view: VrrpView, dumps: VrrpDumps, events: VrrpEvents, pid_file: str,
                 bgp: Callable[[], BgpSource | None] = lambda: None) -> None:
        self.view = view
        self.dumps = dumps
        self.bgp = bgp  # bgp_announce's announcer, when configured (daemon/vrrp/bgp.py)
        events.subscribe(self.state_changed, self.notified)
        self.pid_file = pid_file  # the control socket's default place is beside it
        self.timing = TimingStats()
        self.control: ControlServer | None = None
        self.metrics = MetricsEndpoint(self._registry)

    def _registry(self) -> CollectorRegistry:
        from pykeepalived.control.metrics import VrrpCollector, make_registry

        return make_registry(VrrpCollector(self.view, self.timing, self.bgp))

    async def start(self, model: Model) -> None:
        await self.reload(model)

    async def reload(self, model: Model) -> None:
        g = model.global_defs
        path = socket_path(g.pykeepalived_control_socket, self.pid_file)
        self.control = await move_control(self.control, path,
                                          lambda p: ControlServer(self.view, self.dumps, p, self.bgp))
        await self.metrics.configure(listen_address(g.pykeepalived_metrics_address))

    # ------------------------------------------------------------------ hooks (VrrpEvents, executor)
    def state_changed(self, e: StateChanged) -> None:
        if e.old == State.MASTER:
            self.timing.forget(e.instance)
        if self.control is not None:
            self.control.state_changed(e)

    def notified(self, n: Notify) -> None:
        if self.control is not None:
            self.control.notified(n)

    def advert_sent(self, instance: str, now_us: int, interval_us: int) -> None:
        self.timing.record_advert(instance, now_us, interval_us)

    async def close(self) -> None:
        await self.metrics.close()
        if self.control is not None:
            await self.control.close()
