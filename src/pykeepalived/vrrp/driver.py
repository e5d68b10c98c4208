# Theory of operation
# -------------------
# The Driver binds a pure VrrpEngine to the outside world through two ports:
#
#   Clock       now() -> µs, call_at(when, fn) -> Cancellable   (asyncio loop, or sim.SimClock)
#   EffectSink  submit(effects)                                  (Linux executor, or the sim node)
#
# It feeds inputs to the engine with the clock's `now`, hands the returned effects to the sink in
# order, then re-arms ONE timer at engine.next_deadline(). A timer callback never shows the engine a
# `now` earlier than the deadline it was armed for (a loop may fire a little early or late; keepalived
# likewise treats `sands <= time_now` as due). The same class runs in the daemon and the simulator.
"""Driver and ports (Clock, EffectSink) shared by the daemon and the simulator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pykeepalived.vrrp.effects import Effect
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.packet import RxPacket
from pykeepalived.vrrp.params import IPAddress
from pykeepalived.vrrp.tracking import TrackValue


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time in integer microseconds and one-shot callbacks."""

    def now(self) -> int: ...

    def call_at(self, when: int, fn: Callable[[], None]) -> Cancellable: ...


class EffectSink(Protocol):
    """Performs effects (send adverts, add/remove addresses, GARP, notify, log), in order."""

    def submit(self, effects: Sequence[Effect]) -> None: ...


class Driver:
    """Runs a VrrpEngine on a Clock, delivering effects to an EffectSink."""

    def __init__(self, engine: VrrpEngine, clock: Clock, sink: EffectSink) -> None:
        self.engine = engine
        self.clock = clock
        self.sink = sink
        self._timer: Cancellable | None = None
        self._timer_at: int | None = None

    def start(self, between: Callable[[], None] | None = None) -> None:
        """Start the engine; `between` runs after the fault lines of vrrp_complete_init and before
        the instances leave INIT (keepalived restores the interfaces there)."""
        self.start_faults()
        if between is not None:
            between()
        self.start_states()

    def start_faults(self) -> None:
        """The first half of `start`: vrrp_complete_init's fault lines and notifies (the daemon runs
        them where keepalived's vrrp_complete_init is, before the GARP channels)."""
        self._run(self.engine.start_faults(self.clock.now()))

    def start_states(self) -> None:
        """The second half of `start` (vrrp_init_state): the instances leave INIT."""
        self._run(self.engine.start_states(self.clock.now()))

    def feed(self, rx: RxPacket) -> None:
        """A datagram arrived from a VRRP socket (or the simulated LAN)."""
        self._run(self.engine.on_packet(rx, self.clock.now()))

    def set_tracker(self, kind: str, name: str, value: TrackValue) -> None:
        self._run(self.engine.set_tracker(kind, name, value, self.clock.now()))

    def set_link(self, instance: str, up: bool) -> None:
        self._run(self.engine.set_link(instance, up, self.clock.now()))

    def set_source_address(self, instance: str, addr: IPAddress | None) -> None:
        self._run(self.engine.set_source_address(instance, addr, self.clock.now()))

    def apply(self, change: Callable[[int], list[Effect]]) -> None:
        """Run an engine change made at `now` (reload: remove/start instances) and re-arm the timer."""
        self._run(change(self.clock.now()))

    def shutdown(self, release: bool = True) -> None:
        self._run(self.engine.shutdown(self.clock.now(), release))
        self.cancel()

    def cancel(self) -> None:
        """Stop the timer (hard stop / process exit)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _on_timer(self) -> None:
        at = self._timer_at
        self._timer = None
        self._timer_at = None
        if at is None:
            return
        now = max(at, self.clock.now())
        self._run(self.engine.handle_timer(now))

    def _run(self, effects: list[Effect]) -> None:
        if effects:
            self.sink.submit(effects)
        when = self.engine.next_deadline()
        if when != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None if when is None else self.clock.call_at(when, self._on_timer)
            self._timer_at = when
