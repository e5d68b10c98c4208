"""A child's signal loop (daemon/serve.py) with real signals: a SIGTERM that follows a SIGHUP closely,
or arrives during the reload, always ends in a shutdown (CI once saw the VRRP child lose it and be
SIGKILLed by the parent, leaving its control socket behind)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from pykeepalived.daemon.serve import install_signals, serve_until_stopped


class Child:
    def __init__(self, reload_seconds: float = 0.0, term_during_reload: bool = False) -> None:
        self.stop_event = asyncio.Event()
        self.reload_requested = False
        self.stop_requested = False
        self.calls: list[str] = []
        self.reload_seconds = reload_seconds
        self.term_during_reload = term_during_reload

    async def reload(self) -> None:
        self.calls.append("reload")
        if self.term_during_reload:
            os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(self.reload_seconds)

    async def shutdown(self) -> None:
        self.calls.append("shutdown")


async def _serve(child: Child, *signals: signal.Signals) -> int:
    loop = asyncio.get_running_loop()
    install_signals(loop, child, ignore_sigint=False, write_data=lambda: None)
    try:
        for sig in signals:
            os.kill(os.getpid(), sig)
        return await asyncio.wait_for(serve_until_stopped(child), 5)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            loop.remove_signal_handler(sig)


def test_term_right_after_hup_is_not_lost() -> None:
    child = Child()
    assert asyncio.run(_serve(child, signal.SIGHUP, signal.SIGTERM)) == 0
    assert child.calls == ["shutdown"]  # the stop wins over the pending reload


def test_term_during_reload_stops_after_it() -> None:
    child = Child(reload_seconds=0.2, term_during_reload=True)
    assert asyncio.run(_serve(child, signal.SIGHUP)) == 0
    assert child.calls == ["reload", "shutdown"]


def test_hup_alone_reloads_and_keeps_serving() -> None:
    child = Child()

    async def run() -> list[str]:
        task = asyncio.ensure_future(_serve(child, signal.SIGHUP))
        await asyncio.sleep(0.3)
        assert not task.done()
        os.kill(os.getpid(), signal.SIGTERM)
        await task
        return child.calls

    assert asyncio.run(run()) == ["reload", "shutdown"]


PRELUDE = (
    "import asyncio, os, signal, subprocess\n"
    "from pykeepalived.daemon.parent import watchdog as parent\n"
    "from pykeepalived.daemon.serve import hold_signals, install_signals\n"
    "class C:\n"
    "    stop_event = None; reload_requested = False; stop_requested = False\n"
    "def proc_status(field):\n"
    "    out = subprocess.run(['grep', field, '/proc/self/status'], capture_output=True, text=True)\n"
    "    return out.stdout.split()[1]\n"
)


def run_child(code: str) -> list[str]:
    """Run `code` after PRELUDE in a fresh interpreter (a child's own signal state); its words."""
    out = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    return out.stdout.split()


def test_child_signals_wait_for_their_handlers() -> None:
    """The parent starts children with their signals blocked (daemon/parent/watchdog.py); hold_signals notes
    the ones sent during start-up (a SIGUSR2 while the child still imports is not fatal) and unblocks
    them for the commands the child spawns; install_signals delivers the noted ones when started."""
    words = run_child(
        "parent._child_preexec()\n"
        "os.kill(os.getpid(), signal.SIGUSR2)  # while 'importing': must stay pending\n"
        "async def main():\n"
        "    loop = asyncio.get_running_loop()\n"
        "    held = hold_signals(loop)\n"
        "    os.kill(os.getpid(), signal.SIGUSR1)  # during start-up: noted\n"
        "    await asyncio.sleep(0.2)\n"
        "    mask = proc_status('SigBlk')\n"
        "    got = []\n"
        "    C.stop_event = asyncio.Event()\n"
        "    stats = {signal.SIGUSR2: lambda: got.append('stats')}\n"
        "    install_signals(loop, C, False, lambda: got.append('data'), stats, held)\n"
        "    print(*sorted(got), mask)\n"
        "asyncio.run(main())\n"
    )
    assert words == ["data", "stats", "0000000000000000"]


def test_another_childs_signal_is_ignored_and_scripts_get_default_dispositions() -> None:
    """A SIGUSR2 meant for the VRRP child (`kill -USR2` on every process) does not kill a child that
    has no stats; the commands a child runs start with default dispositions (caught, not ignored)."""
    alive, ignored = run_child(
        "async def main():\n"
        "    C.stop_event = asyncio.Event()\n"
        "    install_signals(asyncio.get_running_loop(), C, False, lambda: None)\n"
        "    os.kill(os.getpid(), signal.SIGUSR2)\n"
        "    await asyncio.sleep(0.2)\n"
        "    print('alive', proc_status('SigIgn'))\n"
        "asyncio.run(main())\n"
    )
    assert alive == "alive"
    assert int(ignored, 16) & (1 << (signal.SIGUSR2 - 1)) == 0, ignored
