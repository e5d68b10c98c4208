"""vrrp_track_process against real processes started by the test."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.track.process import ParamMatch, ProcessSpec, ProcessTracker


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[str]:
    """A copy of sleep with a unique comm (<= 15 chars)."""
    name = "ks" + uuid.uuid4().hex[:10]
    path = tmp_path / name
    shutil.copy("/bin/sleep", path)
    yield str(path)


def start(path: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([path, *args])


def connector_available() -> bool:
    async def probe() -> str:
        t = ProcessTracker([])
        t.start()
        mode = t.mode
        t.stop()
        return mode

    return asyncio.run(probe()) == "connector"


async def settle(cond, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond() and loop.time() < end:
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("use_connector", [True, False])
def test_quorum_gained_and_lost(sleeper: str, use_connector: bool, caplog: pytest.LogCaptureFixture) -> None:
    if use_connector and not connector_available():
        pytest.skip("proc connector not available here")
    caplog.set_level("INFO", logger="pykeepalived")
    comm = os.path.basename(sleeper)
    events: list[bool] = []
    procs: list[subprocess.Popen[bytes]] = []

    async def go() -> None:
        tr = ProcessTracker(
            [ProcessSpec("p", comm, quorum=2, quorum_max=3)],
            lambda tp, ok: events.append(ok),
            poll_interval=0.05,
            use_connector=use_connector,
        )
        tr.start()
        assert tr.mode == ("connector" if use_connector else "poll")
        assert tr["p"].have_quorum is False
        procs.append(start(sleeper, "30"))
        await asyncio.sleep(0.2)
        assert events == []
        procs.append(start(sleeper, "30"))
        await settle(lambda: len(events) == 1)
        assert events == [True]
        procs.append(start(sleeper, "31"))
        procs.append(start(sleeper, "32"))  # 4 > quorum_max
        await settle(lambda: len(events) == 2)
        assert events == [True, False]
        for p in procs[2:]:
            p.kill()
            p.wait()
        await settle(lambda: len(events) == 3)
        procs[0].kill()
        procs[0].wait()
        await settle(lambda: len(events) == 4)
        tr.stop()

    try:
        asyncio.run(go())
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert events == [True, False, True, False]
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs.count("Quorum gained for tracked process p") == 2
    assert msgs.count("Quorum lost for tracked process p") == 2


def test_params_and_full_command(sleeper: str) -> None:
    procs = [start(sleeper, "40", "41"), start(sleeper, "40", "4123")]
    specs = [
        ProcessSpec("exact", sleeper, params=("40", "41")),
        ProcessSpec("partial", sleeper, params=("40",), param_match=ParamMatch.PARTIAL),
        ProcessSpec("initial", sleeper, params=("40", "41"), param_match=ParamMatch.INITIAL),
        ProcessSpec("full", sleeper, full_command=True),
        ProcessSpec("comm_path_no_match", sleeper),  # comm is the basename, not the path
    ]

    async def go() -> dict[str, int]:
        await asyncio.sleep(0.1)
        tr = ProcessTracker(specs, use_connector=False)
        tr.start()
        counts = {n: tp.count for n, tp in tr.tracked.items()}
        tr.stop()
        return counts

    try:
        counts = asyncio.run(go())
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert counts == {"exact": 1, "partial": 2, "initial": 2, "full": 2, "comm_path_no_match": 0}


def test_delays_debounce(sleeper: str) -> None:
    comm = os.path.basename(sleeper)
    events: list[tuple[bool, float]] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tr = ProcessTracker(
            [ProcessSpec("p", comm, fork_delay_us=400_000, terminate_delay_us=400_000)],
            lambda tp, ok: events.append((ok, loop.time() - t0)),
            poll_interval=0.05,
            use_connector=False,
        )
        tr.start()
        # a process that lives shorter than the fork delay is never reported
        short = start(sleeper, "0.1")
        await asyncio.sleep(0.7)
        short.wait()
        assert events == []
        long = start(sleeper, "30")
        await settle(lambda: len(events) == 1)
        long.kill()
        long.wait()
        await settle(lambda: len(events) == 2)
        tr.stop()

    asyncio.run(go())
    assert [e[0] for e in events] == [True, False]
    assert events[1][1] - events[0][1] >= 0.4


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")
def test_falls_back_to_proc_in_netns(sleeper: str) -> None:
    ns = "pkt-track-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    p = start(sleeper, "30")
    try:
        code = (
            "import asyncio\n"
            "from pykeepalived.track.process import ProcessSpec, ProcessTracker\n"
            "async def main():\n"
            f"    t = ProcessTracker([ProcessSpec('p', {os.path.basename(sleeper)!r})])\n"
            "    t.start(); print(t.mode, t['p'].have_quorum); t.stop()\n"
            "asyncio.run(main())\n"
        )
        out = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    finally:
        p.kill()
        p.wait()
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert out == ["poll", "True"]
