"""The main loop both children share: wait for a stop, reload on request, then stop gracefully."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Protocol

from pykeepalived.daemon.dumpfiles import save_config


class ServedChild(Protocol):
    stop_event: asyncio.Event  # set by SIGTERM/SIGINT with stop_requested, by SIGHUP with reload_requested
    reload_requested: bool
    stop_requested: bool

    async def reload(self) -> None: ...

    async def shutdown(self) -> None: ...


def install_signals(loop: asyncio.AbstractEventLoop, child: ServedChild, ignore_sigint: bool,
                    write_data: Callable[[], None],
                    extra: dict[int, Callable[[], None]] | None = None) -> None:
    """keepalived's signals in a child: SIGTERM (and SIGINT unless -n's ignore) stop, SIGHUP reloads
    through serve_until_stopped, SIGUSR1 writes the child's data file, `extra` the child's own.

    The parent starts a child with these signals blocked (daemon/parent.py); they are unblocked here,
    once every handler is in place, so one sent during start-up is handled, not fatal."""

    def reload() -> None:
        child.reload_requested = True
        child.stop_event.set()

    def stop() -> None:
        child.stop_requested = True
        child.stop_event.set()

    loop.add_signal_handler(signal.SIGTERM, stop)
    if not ignore_sigint:
        loop.add_signal_handler(signal.SIGINT, stop)
    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGUSR1, write_data)
    for sig, handler in (extra or {}).items():
        loop.add_signal_handler(sig, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


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
        save_config(child, post=True)
    await child.shutdown()
    return 0
