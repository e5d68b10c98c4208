# Theory of operation
# -------------------
# One BFD session (RFC 5880 §6) in asynchronous mode, as a pure state machine. Time is an integer
# number of microseconds passed in by the caller (`now`); nothing here reads a clock or a socket.
# Every input method returns a list of effects, in the order they happen:
#
#   Transmit      send this Control packet to the neighbour (the caller owns the socket)
#   Event         the session went Up, or fell from Up: tell the VRRP / checker processes
#   Log           one log line with keepalived 2.2.7's text (bfd_scheduler.c); DETAIL only with -D
#
# and `next_deadline()` says when `expire(now)` must be called next. Three timers, as keepalived has:
#   tx_at      next periodic transmission: the negotiated interval (§6.8.7, max of our
#              DesiredMinTxInterval and the peer's RequiredMinRxInterval) reduced by a random 0-25%
#              (10-25% when DetectMult is 1), drawn from the injected RNG (§6.8.7 jitter rule);
#   detect_at  Detection Time after the last packet while Init or Up (§6.8.4: the peer's DetectMult x
#              max(our RequiredMinRxInterval, its DesiredMinTxInterval)); expiry → Down, diag 1;
#   reset_at   Detection Time after falling Down: forget the peer (RemoteDiscr 0, §6.8.1) so a
#              restarted peer is met afresh (keepalived's bfd_reset_thread).
#
# While not Up, DesiredMinTxInterval is `idle_tx` (≥ 1 s, §6.8.3); on reaching Up we advertise
# `min_tx` inside a Poll Sequence (§6.5) and only start using it once the Final arrives (§6.8.3: an
# interval change takes effect at the end of the poll). A received Poll is answered at once with a
# Final (§6.8.6), outside the periodic schedule. A reload that changes min_rx or min_tx also starts a
# Poll Sequence (keepalived bfd_complete_init).
#
# Passive mode (§6.1): nothing is sent until a packet arrives from the peer; falling Down stops
# sending again. AdminDown (§6.8.16) is entered only when the caller cannot send (keepalived: the
# output socket cannot be opened); packets are discarded then, and `enable` brings the session back.
#
# Events follow keepalived (bfd_event_send): Up is reported every time; a fall from Up is reported
# unless the peer said AdminDown (RFC 5880 §6.8.16: an administrative shutdown of the peer is not a
# path failure, so trackers must not react). Unlike keepalived we keep bfd.LocalDiscr for the
# session's whole life (§6.8.1: it is initialised once), and an Init session's detection timer is
# restarted by each valid packet as it is while Up (§6.8.4), where keepalived lets Init time out.
"""BFD session state machine (RFC 5880 §6.2, §6.5, §6.8)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from pykeepalived.bfd.packet import ControlPacket, Diag, State
from pykeepalived.bfd.params import BfdParams


class Rng(Protocol):
    """The random source (random.Random fits): jitter draws, discriminators."""

    def randint(self, a: int, b: int) -> int: ...


class LogLevel(enum.Enum):
    INFO = "info"
    DETAIL = "detail"  # keepalived: only with -D (LOG_DETAIL_BIT)
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Transmit:
    name: str
    packet: ControlPacket


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class Log:
    level: LogLevel
    text: str


Effect = Transmit | Event | Log


class Session:
    """bfd.* state variables of RFC 5880 §6.8.1 plus keepalived's derived timers (µs)."""

    def __init__(self, params: BfdParams, discriminator: int, rng: Rng) -> None:
        self.params = params
        self.rng = rng
        self.state = State.DOWN  # bfd.SessionState
        self.remote_state = State.DOWN  # bfd.RemoteSessionState
        self.local_discr = discriminator  # bfd.LocalDiscr
        self.remote_discr = 0  # bfd.RemoteDiscr
        self.local_diag = Diag.NO_DIAGNOSTIC  # bfd.LocalDiag
        self.remote_diag = Diag.NO_DIAGNOSTIC
        self.remote_min_rx_us = 1  # bfd.RemoteMinRxInterval (§6.8.1: initialised to 1)
        self.remote_min_tx_us = 0
        self.remote_demand = False  # bfd.RemoteDemandMode
        self.remote_mult = 0
        self.poll = False  # a Poll Sequence of ours is running
        self.final = False  # we owe the peer a Final
        self.local_tx_us = params.idle_tx_us  # the interval we transmit at
        self.remote_tx_us = 0  # the interval the peer transmits at (as agreed)
        self.detect_time_us = 0  # local Detection Time
        self.last_rx: int | None = None
        self.tx_at: int | None = None
        self.detect_at: int | None = None
        self.reset_at: int | None = None
        self.rx_count = 0
        self.tx_count = 0

    # ------------------------------------------------------------------ views
    @property
    def name(self) -> str:
        return self.params.name

    @property
    def is_up(self) -> bool:
        return self.state is State.UP

    @property
    def remote_detect_time_us(self) -> int:
        return self.params.multiplier * self.local_tx_us

    def next_deadline(self) -> int | None:
        times = [t for t in (self.tx_at, self.detect_at, self.reset_at) if t is not None]
        return min(times) if times else None

    def build(self) -> ControlPacket:
        """The Control packet we send now (§6.8.7); sending it consumes a pending Final."""
        if self.poll and self.final:
            # §6.5: the new parameters may ride on the Final; keepalived then ends its own poll
            self.poll = False
        p = self.params
        return ControlPacket(
            state=self.state, diag=self.local_diag, detect_mult=p.multiplier,
            my_discriminator=self.local_discr, your_discriminator=self.remote_discr,
            desired_min_tx_us=p.min_tx_us if self.state is State.UP else p.idle_tx_us,
            required_min_rx_us=p.min_rx_us, required_min_echo_rx_us=0, poll=self.poll, final=self.final,
        )

    def timers_dump(self) -> list[Effect]:
        """keepalived's bfd_dump_timers (logged with -D when the negotiated values change)."""
        pad = " " * (len(self.name) + 2)
        min_tx = self.params.min_tx_us if self.state is State.UP else self.params.idle_tx_us
        return [Log(LogLevel.DETAIL, t) for t in (
            f"({self.name}) ---------------< Session parameters >--------------",
            f"{pad}          min_tx  min_rx  tx_intv  mult  detect_time",
            f"{pad} local  {min_tx:8d} {self.params.min_rx_us:7d} {self.local_tx_us:8d} "
            f"{self.params.multiplier:5d} {self.detect_time_us:12d}",
            f"{pad} remote {self.remote_min_tx_us:8d} {self.remote_min_rx_us:7d} {self.remote_tx_us:8d} "
            f"{self.remote_mult:5d} {self.remote_detect_time_us:12d}",
        )]

    # ------------------------------------------------------------------ inputs
    def start(self, now: int, *, send_now: bool = True) -> list[Effect]:
        """Begin the session: an active session sends at once and then periodically (§6.1)."""
        if self.params.passive or self.state is State.ADMIN_DOWN:
            return []
        self._schedule_tx(now)
        return [self._transmit()] if send_now else []

    def receive(self, pkt: ControlPacket, now: int) -> list[Effect]:
        """A packet that passed decode() and was matched to this session (§6.8.6, from "If the A bit")."""
        if self.state is State.ADMIN_DOWN:
            return [Log(LogLevel.DETAIL, f"Discarding packet (session {self.name} is in AdminDown state)")]
        out: list[Effect] = []
        old_tx, old_detect = self.local_tx_us, self.detect_time_us
        old_remote = (self.remote_min_rx_us, self.remote_min_tx_us, self.remote_mult)
        self.remote_discr = pkt.my_discriminator
        self.remote_state = pkt.state
        self.remote_diag = pkt.diag
        self.remote_min_rx_us = pkt.required_min_rx_us
        self.remote_min_tx_us = pkt.desired_min_tx_us
        self.remote_demand = pkt.demand
        self.remote_mult = pkt.detect_mult
        self.rx_count += 1
        if pkt.final:
            self.poll = False  # §6.5: the Poll Sequence is over
        if self.state is not State.UP or pkt.poll or pkt.final:
            # §6.8.3: interval changes take effect at the end of a poll (or at once when not Up)
            self._update_tx_interval(self.remote_state is State.UP and self.state in (State.INIT, State.UP))
            self.remote_tx_us = max(self.params.min_rx_us, self.remote_min_tx_us)
        self.detect_time_us = self.remote_mult * self.remote_tx_us  # §6.8.4
        if self.local_tx_us < old_tx and self.tx_at is not None:
            self._schedule_tx(now)
        if old_remote != (self.remote_min_rx_us, self.remote_min_tx_us, self.remote_mult) \
                or old_tx != self.local_tx_us:
            out += self.timers_dump()
        if self.detect_time_us != old_detect:
            out.append(Log(LogLevel.INFO, f"{'':{len(self.name) + 2}} Detection time is "
                                          f"{self.detect_time_us} us (was {old_detect} us)"))
        # §6.8.6 state machine (§6.2 diagram)
        if self.remote_state is State.ADMIN_DOWN:
            if self.state is not State.DOWN:
                out += self._fall(Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, now)
        elif self.state is State.DOWN:
            if self.remote_state is State.DOWN:
                out += self._rise(State.INIT, now)
            elif self.remote_state is State.INIT:
                out += self._rise(State.UP, now)
        elif self.state is State.INIT:
            if self.remote_state in (State.INIT, State.UP):
                out += self._rise(State.UP, now)
        elif self.remote_state is State.DOWN:  # Up
            out += self._fall(Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, now)
        # §6.8.7: no periodic packets while both ends are Up and the peer is in Demand mode, nor
        # when the peer asks for none (RequiredMinRxInterval 0)
        quiet = (self.remote_demand and self.state is State.UP and self.remote_state is State.UP) \
            or self.remote_min_rx_us == 0
        if quiet:
            self.tx_at = None
        elif self.tx_at is None and (not self.params.passive or self.state is not State.DOWN):
            self._schedule_tx(now)
        if pkt.poll:
            self.final = True
            out.append(self._transmit())  # §6.8.6: answer a Poll with a Final at once
        self.last_rx = now
        if self.state in (State.INIT, State.UP):
            self.detect_at = now + self.detect_time_us
        return out

    def expire(self, now: int) -> list[Effect]:
        """Run every timer that is due at `now`."""
        out: list[Effect] = []
        if self.detect_at is not None and self.detect_at <= now:
            out += self._expired(now)
        if self.reset_at is not None and self.reset_at <= now:
            self.reset_at = None
            self._reset()
        if self.tx_at is not None and self.tx_at <= now:
            out.append(self._transmit())
            self._schedule_tx(now)
        return out

    def reconfigure(self, params: BfdParams, now: int) -> list[Effect]:
        """A reload kept this session (same neighbour/source): new timers, state kept."""
        old, self.params = self.params, params
        out: list[Effect] = []
        if (old.min_rx_us, old.min_tx_us) != (params.min_rx_us, params.min_tx_us):
            out += self._start_poll()
        if self.state is not State.UP:
            self._update_tx_interval(False)
        if params.passive and self.state is State.DOWN:
            self.tx_at = None
        elif self.tx_at is None and self.state is not State.ADMIN_DOWN:
            self._schedule_tx(now)
        return out

    def admin_down(self, now: int) -> list[Effect]:
        """AdminDown (§6.8.16): keepalived enters it when it cannot open the output socket."""
        self.state = State.ADMIN_DOWN
        self.local_diag = Diag.ADMINISTRATIVELY_DOWN
        self.tx_at = self.detect_at = self.reset_at = None
        self._update_tx_interval(False)
        return [Log(LogLevel.WARNING, f"({self.name}) Entering {State.ADMIN_DOWN.text} state")]

    def enable(self, now: int) -> list[Effect]:
        """Leave AdminDown (the socket could be opened): Down, and active again unless passive."""
        if self.state is not State.ADMIN_DOWN:
            return []
        self.state = State.DOWN
        return self.start(now)

    # ------------------------------------------------------------------ transitions
    def _rise(self, state: State, now: int) -> list[Effect]:
        self.state = state
        self.local_diag = Diag.NO_DIAGNOSTIC
        self.reset_at = None
        out: list[Effect] = []
        if state is State.UP:
            out.append(Log(LogLevel.INFO, f"({self.name}) Entering {State.UP.text} state"))
            if self.params.idle_tx_us != self.params.min_tx_us:
                out += self._start_poll()
            out.append(Event(self.name, True))
        elif self.params.passive and self.tx_at is None:
            self._schedule_tx(now)
        return out

    def _fall(self, diag: Diag, now: int) -> list[Effect]:
        was_up = self.state is State.UP
        out: list[Effect] = []
        if was_up:
            out.append(Log(LogLevel.WARNING,
                           f"({self.name}) Entering {State.DOWN.text} state (Local diagnostic - {diag.text}, "
                           f"Remote diagnostic - {self.remote_diag.text})"))
        self.state = State.DOWN
        self.local_diag = diag
        self.reset_at = now + self.detect_time_us
        if self.params.passive:
            self.tx_at = None
        self._update_tx_interval(False)  # §6.8.3: at least one second while not Up
        self.detect_at = None
        if was_up and self.remote_state is not State.ADMIN_DOWN:
            out.append(Event(self.name, False))
        return out

    def _expired(self, now: int) -> list[Effect]:
        self.detect_at = None
        out: list[Effect] = []
        if self.state is State.UP:
            dead = now - (self.last_rx if self.last_rx is not None else now)
            out.append(Log(LogLevel.WARNING, f"({self.name}) Expired after {dead // 1000} ms "
                                             f"({dead - self.detect_time_us} usec overdue)"))
        self.remote_discr = 0  # §6.8.1: zeroed when a Detection Time passes without a packet
        return out + self._fall(Diag.CONTROL_DETECTION_TIME_EXPIRED, now)

    def _reset(self) -> None:
        """Forget the peer (keepalived bfd_reset_state); our own diagnostic stays (§6.8.1)."""
        self.remote_state = State.DOWN
        self.remote_discr = 0
        self.remote_diag = Diag.NO_DIAGNOSTIC
        self.remote_demand = False
        self.poll = self.final = False
        self._update_tx_interval(False)

    def _start_poll(self) -> list[Effect]:
        out: list[Effect] = [Log(LogLevel.DETAIL, f"({self.name}) Starting poll sequence")]
        if not self.final:
            self.poll = True
        return out

    def _update_tx_interval(self, up: bool) -> None:
        """§6.8.7: transmit at max(DesiredMinTxInterval, RemoteMinRxInterval)."""
        desired = self.params.min_tx_us if up else self.params.idle_tx_us
        self.local_tx_us = max(desired, self.remote_min_rx_us)

    def _transmit(self) -> Transmit:
        pkt = self.build()
        self.final = False
        self.tx_count += 1
        return Transmit(self.name, pkt)

    def _schedule_tx(self, now: int) -> None:
        """Next periodic packet: the interval less 0-25% jitter (10-25% when DetectMult is 1), §6.8.7."""
        tx = self.local_tx_us
        low = tx // 10 if self.params.multiplier == 1 else 0
        self.tx_at = now + tx - self.rng.randint(low, tx // 4)
