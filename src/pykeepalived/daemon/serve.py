"""The main loop both children share: wait for a stop, reload on request, then stop gracefully."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Protocol

from pykeepalived.control.sdnotify import child_reloaded
from pykeepalived.daemon.dumpfiles import save_config
from pykeepalived.options import CHILD_SIGNALS


class ServedChild(Protocol):
    stop_event: asyncio.Event  # set by SIGTERM/SIGINT with stop_requested, by SIGHUP with reload_requested
    reload_requested: bool
    stop_requested: bool

    async def reload(self) -> None: ...

    async def shutdown(self) -> None: ...


def _ignore() -> None:
    pass


def hold_signals(loop: asyncio.AbstractEventLoop) -> list[int]:
    """At the start of a child's run(): note the signals that arrive while it starts.

    The parent starts a child with CHILD_SIGNALS blocked (daemon/parent/watchdog.py), so one sent while Python
    imports stays pending instead of killing the child by its default action. Here they get
    handlers that only note them, and are unblocked (scripts and commands spawned during start-up
    must not inherit a blocked mask); install_signals delivers the noted ones once the child is
    started, as keepalived registers its handlers only then (a SIGUSR2 during start-up prints the
    stats of the started instances, a SIGTERM stops the started child)."""
    held: list[int] = []
    for sig in CHILD_SIGNALS:
        loop.add_signal_handler(sig, held.append, sig)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, CHILD_SIGNALS)
    return held


def install_signals(loop: asyncio.AbstractEventLoop, child: ServedChild, ignore_sigint: bool,
                    write_data: Callable[[], None],
                    extra: dict[int, Callable[[], None]] | None = None,
                    held: list[int] | None = None) -> None:
    """keepalived's signals in a child: SIGTERM (and SIGINT unless --ignore-sigint) stop, SIGHUP reloads
    through serve_until_stopped, SIGUSR1 writes the child's data file, `extra` the child's own.
    Signals noted by hold_signals are delivered now; the other children's signals are ignored."""

    def reload() -> None:
        child.reload_requested = True
        child.stop_event.set()

    def stop() -> None:
        child.stop_requested = True
        child.stop_event.set()

    handlers: dict[int, Callable[[], None]] = {
        signal.SIGTERM: stop,
        signal.SIGINT: _ignore if ignore_sigint else stop,
        signal.SIGHUP: reload,
        signal.SIGUSR1: write_data,
        **(extra or {}),
    }
    for sig in dict.fromkeys([*CHILD_SIGNALS, *handlers]):  # another child's signal (a SIGUSR2 sent
        loop.add_signal_handler(sig, handlers.get(sig, _ignore))  # to every process) is ignored
    signal.pthread_sigmask(signal.SIG_UNBLOCK, CHILD_SIGNALS)
    for sig in held or ():
        if sig in handlers:
            handlers[sig]()


async def serve_until_stopped(child: ServedChild) -> int:
    """Run reloads as SIGHUPs ask for them; on a stop signal shut down and return exit status 0.

    A stop wins over a reload: a SIGTERM that arrives with (or during) a SIGHUP's reload is never lost
    (the parent forwards both when a stop follows a reload request closely)."""
    while True:
        await child.stop_event.wait()
        child.stop_event.clear()
        if child.stop_requested or not child.reload_requested:
            break
        child.reload_requested = False
        save_config(child, post=False)  # config_save_dir (daemon/dumpfiles.py)
        await child.reload()
        child_reloaded()  # the parent's "Reload complete"
        save_config(child, post=True)
    await child.shutdown()
    return 0
