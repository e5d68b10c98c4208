# Theory of operation
# -------------------
# `pykeepalived_metrics_address` is re-read on every reload (SIGHUP): each child owns one
# `MetricsEndpoint` and hands it the address the new configuration asks for. Unchanged: the listener
# stays (scrapes in flight are not disturbed). Moved: the old listener is closed first (so a move to
# the same port on another address, or from the wildcard to one address, can bind), then the new one
# is bound. Removed: closed. A bind failure is logged and the child carries on without metrics; the
# next reload tries again. prometheus_client (and the http/email modules it loads) is imported only
# when an address is configured.
"""Each child's Prometheus listener, following `pykeepalived_metrics_address` across reloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pykeepalived.logs import log

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from pykeepalived.control.metrics import MetricsServer

Address = tuple[str, int]


def listen_address(value: tuple[str, str] | None) -> Address | None:
    """The metrics listener of global_defs `pykeepalived_metrics_address` ((host, port) as
    configured), None when not enabled."""
    return None if value is None else (value[0], int(value[1]))


def checker_listen_address(value: tuple[str, str] | None) -> Address | None:
    """The checker child's metrics listener: the VRRP child's address with port + 1, None when off."""
    addr = listen_address(value)
    if addr is None:
        return None
    return addr[0], addr[1] + 1


def url(addr: Address) -> str:
    host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
    return f"http://{host}:{addr[1]}/metrics"


class MetricsEndpoint:
    """Owns at most one MetricsServer; `configure(address)` at start-up and on every reload."""

    def __init__(self, make_registry: Callable[[], CollectorRegistry],
                 prepare: Callable[[], Awaitable[None]] | None = None) -> None:
        self.make_registry = make_registry  # called once, when the first listener is bound
        self.prepare = prepare  # awaited before each scrape (e.g. refresh the LVS counters)
        self.registry: CollectorRegistry | None = None
        self.server: MetricsServer | None = None
        self.address: Address | None = None  # as configured (port 0 stays 0 here)

    async def configure(self, addr: Address | None) -> None:
        if self.server is not None and addr == self.address:
            return
        if self.server is not None:
            assert self.address is not None
            log.info("Metrics address %s: closing %s",
                     "changed" if addr is not None else "removed", url((self.address[0], self.server.port)))
            await self.server.close()
            self.server = None
            self.address = None
        if addr is None:
            return
        if not 0 <= addr[1] <= 65535:
            log.error("Cannot listen for metrics on %s port %d: port out of range", addr[0], addr[1])
            return
        from pykeepalived.control.metrics import MetricsServer

        if self.registry is None:
            self.registry = self.make_registry()
        server = MetricsServer(self.registry, *addr, prepare=self.prepare)
        try:
            await server.start()
        except OSError as exc:
            log.error("Cannot listen for metrics on %s port %d: %s", addr[0], addr[1], exc.strerror or exc)
            return
        self.server, self.address = server, addr

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None
            self.address = None
