"""The main loop both children share: wait for a stop, reload on request, then stop gracefully."""

from __future__ import annotations

import asyncio
from typing import Protocol

from pykeepalived.daemon.dumpfiles import save_config


class ServedChild(Protocol):
    stop_event: asyncio.Event  # set by SIGTERM/SIGINT, and by SIGHUP with reload_requested
    reload_requested: bool

    async def reload(self) -> None: ...

    async def shutdown(self) -> None: ...


async def serve_until_stopped(child: ServedChild) -> int:
    """Run reloads as SIGHUPs ask for them; on a stop signal shut down and return exit status 0."""
    while True:
        await child.stop_event.wait()
        child.stop_event.clear()
        if not child.reload_requested:
            break
        child.reload_requested = False
        save_config(child, post=False)  # config_save_dir (daemon/dumpfiles.py)
        await child.reload()
        save_config(child, post=True)
    await child.shutdown()
    return 0
