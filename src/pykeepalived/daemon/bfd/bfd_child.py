"""The BFD child process (keepalived's Keepalived_bfd): the bfd_instance sessions.

# Theory of operation
The parent forks it (daemon/parent/forkchild.py; `python -m pykeepalived --child=bfd <arguments>` starts it
alone); this module is that process. It logs as `Keepalived_bfd` (log file suffix `_bfd`), holds
its pid file (-b, default /run/bfd.pid), reads the configuration itself and maps every bfd_instance
to BfdParams (bfd/params.py). The sans-I/O engine (bfd/engine.py) owns the sessions; this module only
moves bytes and time in and out of it:
- sockets (linux/bfd_socket.py): one listener on 3784 (and 4784 when a multihop session exists), one
  sender per session; a sender that cannot be opened (e.g. source_ip not configured) puts its session
  in AdminDown and is retried every 60 s, as keepalived does (bfd_open_fd_out_thread);
- time: one asyncio timer armed at the engine's next deadline (integer µs on the monotonic clock);
- events (bfd/events.py contract): `NAME UP|DOWN` lines on the fds named by PYKEEPALIVED_BFD_VRRP_FD
  and PYKEEPALIVED_BFD_CHECKER_FD, honouring each instance's `vrrp` / `checker` flags; the fds are
  non-blocking and a line that does not fit is kept (latest state per session) and written when the
  pipe drains, so a slow reader never delays a BFD packet;
- SIGTERM/SIGINT: stop (keepalived sends nothing on the way out: peers time out, diag 1); SIGHUP:
  re-read the configuration, sessions whose name and path did not change keep their state, every
  session's state is re-sent on the event pipes; SIGUSR1: write keepalived_bfd.data in $TMPDIR or /tmp.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import time

from pykeepalived.bfd.engine import BfdEngine, Received
from pykeepalived.bfd.events import ENV_CHECKER_FD, ENV_VRRP_FD, BfdEvent
from pykeepalived.bfd.packet import encode
from pykeepalived.bfd.params import BfdParams, params_from_model
from pykeepalived.bfd.session import Effect, Event, Log, LogLevel, Session, Transmit
from pykeepalived.config import load_config
from pykeepalived.config.diag import is_broken
from pykeepalived.config.model import Model
from pykeepalived.control.sdnotify import child_ready
from pykeepalived.daemon.dumpfiles import paths_of
from pykeepalived.daemon.log import DETAIL, log, log_stopping, run_logged, setup_logging
from pykeepalived.daemon.pidfile import default_path, run_with_pid_file
from pykeepalived.daemon.procconf import apply_child
from pykeepalived.daemon.serve import hold_signals, install_signals, serve_until_stopped
from pykeepalived.linux.bfd_socket import BfdListener, BfdSender
from pykeepalived.options import Options
from pykeepalived.safefile import replace

DATA_FILE = "keepalived_bfd.data"
REOPEN_S = 60.0  # keepalived: retry opening an output socket every 60 s
_LEVELS = {LogLevel.INFO: logging.INFO, LogLevel.DETAIL: DETAIL, LogLevel.WARNING: logging.WARNING,
           LogLevel.ERROR: logging.ERROR}


def now_us() -> int:
    return time.monotonic_ns() // 1000


class EventPipe:
    """One event pipe's write end: non-blocking, coalescing what the reader has not taken yet."""

    def __init__(self, fd: int, what: str) -> None:
        self.fd = fd
        self.what = what  # "vrrp" | "checker", as keepalived names the pipe in its errors
        os.set_blocking(fd, False)
        self.pending: dict[str, bool] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.model: Model | None = None
        self.broken = False

    def send(self, name: str, up: bool) -> None:
        if self.broken:
            return
        if self.pending:
            self.pending.pop(name, None)
            self.pending[name] = up
            return
        if not self._write(name, up):
            self.pending[name] = up
            self._watch()

    def _write(self, name: str, up: bool) -> bool:
        """True if written (or given up on); False if the pipe is full."""
        try:
            os.write(self.fd, BfdEvent(name, up).encode())
        except BlockingIOError:
            return False
        except OSError as exc:
            log.log(DETAIL, "(%s) %s pipe write() error %s", name, self.what, os.strerror(exc.errno or 0))
            if exc.errno in (errno.EPIPE, errno.EBADF):
                self.broken = True
                self.pending.clear()
        return True

    def _watch(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()
            self.loop.add_writer(self.fd, self._drain)

    def _drain(self) -> None:
        while self.pending:
            name, up = next(iter(self.pending.items()))
            if not self._write(name, up):
                return
            self.pending.pop(name, None)
        if self.loop is not None:
            self.loop.remove_writer(self.fd)

    def close(self) -> None:
        if self.loop is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_writer(self.fd)


def event_pipes() -> dict[str, EventPipe]:
    pipes: dict[str, EventPipe] = {}
    for what, env in (("vrrp", ENV_VRRP_FD), ("checker", ENV_CHECKER_FD)):
        text = os.environ.get(env, "")
        if text.isdigit():
            try:
                pipes[what] = EventPipe(int(text), what)
            except OSError as exc:
                log.error("Unable to use the BFD %s event pipe (fd %s): %s", what, text, exc.strerror)
    return pipes


class BfdChild:
    def __init__(self, opts: Options, rng: random.Random | None = None) -> None:
        self.opts = opts
        self._dumped = False  # a data dump has looked the default script user up
        self.rng = rng or random.SystemRandom()
        self.engine = BfdEngine(self.rng)
        self.stop_event = asyncio.Event()
        self.reload_requested = False
        self.stop_requested = False
        self.listeners: dict[bool, BfdListener] = {}
        self.senders: dict[str, BfdSender] = {}
        self.send_error: set[str] = set()
        self.reopen: dict[str, asyncio.TimerHandle] = {}
        self.pipes = event_pipes()
        self.timer: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ configuration
    def load(self) -> list[BfdParams] | None:
        model, diags = load_config(self.opts.conf_file, self.opts.config_id, self.opts.all_config, "bfd")
        self.model = model  # for the dump file's place (daemon/dumpfiles.py)
        fatal = False
        for d in diags:
            log.error("%s", d.format())
            fatal = fatal or is_broken(d)
        if fatal:
            return None
        params, warnings = params_from_model(model)
        for w in warnings:
            log.info("%s", w)
        return params

    def install(self, params: list[BfdParams]) -> None:
        """Configure the engine, then make the sockets match its sessions."""
        now = now_us()
        effects = self.engine.configure(params, now)
        for name in list(self.senders):
            s = self.engine.sessions.get(name)
            if s is None or not self.senders[name].same_socket(s.params):
                self.senders.pop(name).close()
        for name in list(self.reopen):
            if name not in self.engine.sessions:
                self.reopen.pop(name).cancel()
        for name, s in self.engine.sessions.items():
            if name not in self.senders and name not in self.reopen:
                effects += self._open_sender(s, now)
        self._listeners()
        self.apply(effects)

    def _listeners(self) -> None:
        wanted = {s.params.multihop for s in self.engine.sessions.values()}
        for multihop in list(self.listeners):
            if multihop not in wanted:
                self.listeners.pop(multihop).close()
        for multihop in wanted - set(self.listeners):
            lst = BfdListener(multihop)  # an error here is fatal (keepalived: no point without it)
            lst.start(self.on_packet)
            self.listeners[multihop] = lst

    def _open_sender(self, s: Session, now: int) -> list[Effect]:
        try:
            self.senders[s.name] = BfdSender(s.params, random.Random(self.rng.random()))
        except OSError as exc:
            log.error("(%s) bind() error (%s)", s.name, exc.strerror or exc)
            log.error("(%s) Unable to open output socket, disabling instance", s.name)
            self._schedule_reopen(s.name)
            return self.engine.admin_down(s.name, now)
        return []

    def _schedule_reopen(self, name: str) -> None:
        assert self.loop is not None
        self.reopen[name] = self.loop.call_later(REOPEN_S, self._reopen, name)

    def _reopen(self, name: str) -> None:
        self.reopen.pop(name, None)
        s = self.engine.sessions.get(name)
        if s is None:
            return
        try:
            self.senders[name] = BfdSender(s.params, random.Random(self.rng.random()))
        except OSError:
            self._schedule_reopen(name)
            return
        self.apply(self.engine.enable(name, now_us()))

    # ------------------------------------------------------------------ engine I/O
    def on_packet(self, rx: Received) -> None:
        self.apply(self.engine.receive(rx, now_us()))

    def on_timer(self) -> None:
        self.timer = None
        self.apply(self.engine.run_timers(now_us()))

    def apply(self, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Transmit):
                self._transmit(e)
            elif isinstance(e, Event):
                self._event(e)
            elif isinstance(e, Log):
                log.log(_LEVELS[e.level], "%s", e.text)
        self._arm()

    def _transmit(self, e: Transmit) -> None:
        sender = self.senders.get(e.name)
        if sender is None:
            return
        err = sender.send(encode(e.packet))
        if err is None:
            self.send_error.discard(e.name)
        elif e.name not in self.send_error:  # keepalived logs the first failure of a run only
            self.send_error.add(e.name)
            log.error("sendto() error (%s)", err.strerror or err)
            log.error("(%s) Error sending packet", e.name)

    def _event(self, e: Event) -> None:
        s = self.engine.sessions.get(e.name)
        if s is None:
            return
        for what, pipe in self.pipes.items():
            if getattr(s.params, what):
                pipe.send(e.name, e.up)

    def _arm(self) -> None:
        when = self.engine.next_deadline()
        if self.timer is not None:
            if when is not None and self.timer.when() == when / 1e6:
                return
            self.timer.cancel()
            self.timer = None
        if when is not None and self.loop is not None:
            # the loop's clock is time.monotonic(); deadlines are µs of time.monotonic_ns()
            self.timer = self.loop.call_at(when / 1e6, self.on_timer)

    # ------------------------------------------------------------------ signals
    def _install_signals(self, loop: asyncio.AbstractEventLoop, held: list[int]) -> None:
        install_signals(loop, self, self.opts.ignore_sigint, self.write_data, held=held)

    def write_data(self) -> None:
        log.info("Printing BFD data for process(%d) on signal", os.getpid())
        try:
            replace(paths_of(self.model, self.opts.namespace).state("_bfd"), self.data_text())
        except Exception as exc:  # a full disk must not stop BFD
            log.error("Unable to write %s: %r", DATA_FILE, exc)

    def data_text(self) -> str:
        """keepalived's dump_global_data (daemon/dump_data.py), then a state dump in the spirit of
        keepalived's dump_bfd (the format is not stable there either)."""
        out: list[str] = []
        if self.model is not None:  # the default script user is looked up (logged) at the first dump
            from pykeepalived.daemon.dump_data import dump_proc, global_definitions, global_input

            proc = dump_proc(self.model, self.opts.namespace, self.opts.umask)
            out = global_definitions(global_input(self.model, proc, "bfd", log_user=not self._dumped))
            self._dumped = True
        out.append("------< BFD Data >------")
        out += [f" listening on port {lst.port}" for lst in self.listeners.values()]
        out.append("------< BFD Topology >------")
        now = now_us()
        for s in self.engine.sessions.values():
            p = s.params
            out += [f" BFD Instance = {p.name}", f"   Neighbor IP = {p.neighbor}"]
            if p.source is not None:
                out.append(f"   Source IP = {p.source}")
            sender = self.senders.get(p.name)
            out += [
                f"   Required min RX interval = {p.min_rx_us} us",
                f"   Desired min TX interval = {p.min_tx_us} us",
                f"   Desired idle TX interval = {p.idle_tx_us} us",
                f"   Detection multiplier = {p.multiplier}",
                f"   {'TTL' if p.family == 4 else 'hoplimit'} = {p.ttl}",
                f"   max_hops = {p.max_hops}",
                f"   passive = {'true' if p.passive else 'false'}",
                f"   multihop = {'true' if p.multihop else 'false'}",
                f"   send event to VRRP process = {'Yes' if p.vrrp else 'No'}",
                f"   send event to checker process = {'Yes' if p.checker else 'No'}",
                f"   source port = {sender.local_port if sender else 'none'}",
                f"   send error = {'true' if p.name in self.send_error else 'false'}",
                f"   local state = {s.state.text}",
                f"   remote state = {s.remote_state.text}",
                f"   local discriminator = 0x{s.local_discr:x}",
                f"   remote discriminator = 0x{s.remote_discr:x}",
                f"   local diag = {s.local_diag.text}",
                f"   remote diag = {s.remote_diag.text}",
                f"   remote min tx intv = {s.remote_min_tx_us} us",
                f"   remote min rx intv = {s.remote_min_rx_us} us",
                f"   remote demand = {int(s.remote_demand)}",
                f"   remote detect multiplier = {s.remote_mult}",
                f"   {'' if s.poll else '!'}poll, {'' if s.final else '!'}final",
                f"   local tx intv = {s.local_tx_us} us",
                f"   remote tx intv = {s.remote_tx_us} us",
                f"   local detection time = {s.detect_time_us} us",
                f"   remote detection time = {s.remote_detect_time_us} us",
                f"   packets received = {s.rx_count}, sent = {s.tx_count}",
                "   last seen = [never]" if s.last_rx is None
                else f"   last seen = {(now - s.last_rx) / 1e6:.6f} s ago",
            ]
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        self.loop = asyncio.get_running_loop()
        held = hold_signals(self.loop)  # until started (daemon/serve.py)
        params = self.load()
        if params is None:
            log.error("Configuration has fatal errors - BFD process exiting")
            return 2
        child_ready("bfd")  # keepalived's notify_config_read: before its dispatcher opens the sockets
        try:
            self.install(params)
        except OSError as exc:
            log.error("bind() error %d (%s)", exc.errno or 0, exc.strerror or exc)
            log.error("Unable to open listening socket")
            self.close()
            return 1
        self._install_signals(self.loop, held)
        return await serve_until_stopped(self)

    async def reload(self) -> None:
        log.info("Reloading")
        started = time.monotonic()
        params = self.load()
        if params is None:
            log.error("Configuration has errors - keeping the running configuration")
            return
        try:
            self.install(params)
        except OSError as exc:
            log.error("Unable to open listening socket: %s", exc.strerror or exc)
        log.info("Reload finished in %d usec", int((time.monotonic() - started) * 1e6))

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        for h in self.reopen.values():
            h.cancel()
        for lst in self.listeners.values():
            lst.close()
        for sender in self.senders.values():
            sender.close()
        for pipe in self.pipes.values():
            pipe.close()
        self.listeners, self.senders, self.reopen = {}, {}, {}

    async def shutdown(self) -> None:
        self.close()
        log_stopping()


def run_bfd_child(opts: Options) -> int:
    setup_logging(opts, "bfd")
    apply_child("bfd")  # umask, process name, scheduling (daemon/procconf.py)
    return run_with_pid_file(opts.bfd_pid_file or default_path("bfd"),
                             lambda: run_logged(lambda: BfdChild(opts).run(), "BFD child failed"),
                             "BFD child process: cannot write pidfile")
