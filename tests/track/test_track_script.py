"""vrrp_script runner against real scripts: results, rise/fall, timeouts, skipping."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

import pytest

from pykeepalived.daemon.trackers import neutral_value
from pykeepalived.track.command import ScriptCommand
from pykeepalived.track.script import (
    RiseFall,
    ScriptSpec,
    ScriptStatus,
    ScriptTracker,
    ScriptTrackers,
    script_reload_lines,
)
from pykeepalived.vrrp.params import TrackWeight
from pykeepalived.vrrp.tracking import contribution

MS = 1000


def spec(path: str, **kw: int | bool) -> ScriptSpec:
    return ScriptSpec(name="chk", command=ScriptCommand.from_argv([path]), **kw)  # type: ignore[arg-type]


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize(
    ("rise", "fall", "init_fail", "seq", "expected"),
    [
        # first result decides, whatever rise/fall
        (1, 1, False, [True], [True]),
        (3, 2, False, [False], [False]),
        (3, 2, False, [True], [True]),
        # fall 2: one failure is not enough, two are
        (1, 2, False, [True, False, True, False, False], [True, None, None, None, False]),
        # rise 3 after a failure
        (3, 1, False, [False, True, True, True, True], [False, None, None, True, None]),
        # init_fail: rise successes needed, failures are not re-reported
        (2, 1, True, [False, True, True, False], [None, None, True, False]),
    ],
)
def test_rise_fall(
    rise: int, fall: int, init_fail: bool, seq: list[bool], expected: list[bool | None]
) -> None:
    rf = RiseFall(rise, fall, init_fail)
    assert [rf.feed(s) for s in seq] == expected


def test_succeeded_failed_logs(mkscript, track_log) -> None:  # type: ignore[no-untyped-def]
    flag = Path(mkscript("true")).with_suffix(".flag")
    path = mkscript(f"[ -e {flag} ] && exit 0; exit 1")
    changes: list[bool] = []
    t = ScriptTracker(spec(path), lambda tr, ok: changes.append(ok))

    async def go() -> None:
        await t.run_once()
        flag.touch()
        await t.run_once()
        await t.run_once()

    asyncio.run(go())
    assert changes == [False, True]
    msgs = messages(track_log)
    assert "VRRP_Script(chk) failed (exited with status 1)" in msgs
    assert "Script `chk` now returning 1" in msgs
    assert "Script `chk` now returning 0" in msgs
    assert msgs.count("VRRP_Script(chk) succeeded") == 1
    assert t.status is ScriptStatus.GOOD


def test_signal_failure(mkscript, track_log) -> None:  # type: ignore[no-untyped-def]
    path = mkscript("kill -USR1 $$")
    t = ScriptTracker(spec(path))
    out = asyncio.run(t.run_once())
    assert out is not None and out.signal == 10
    assert "VRRP_Script(chk) failed (due to signal 10)" in messages(track_log)
    assert t.ok is False


def test_timeout_kills_group(mkscript, tmp_path: Path, track_log) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "child.pid"
    # the script starts a grandchild and hangs; both must be gone after the timeout
    path = mkscript(f"sleep 30 & echo $! > {pidfile}; sleep 30")
    t = ScriptTracker(spec(path, interval_us=5000 * MS, timeout_us=300 * MS))
    t0 = time.monotonic()
    out = asyncio.run(t.run_once())
    elapsed = time.monotonic() - t0
    assert out is not None and out.exit_type == "timed_out"
    assert elapsed < 2.0  # SIGTERM was enough, no SIGKILL round needed
    assert "VRRP_Script(chk) timed_out" in messages(track_log)
    grandchild = int(pidfile.read_text())
    time.sleep(0.1)
    assert (
        not Path(f"/proc/{grandchild}").exists()
        or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]
    )


def test_sigterm_ignored_then_sigkill(mkscript, track_log) -> None:  # type: ignore[no-untyped-def]
    path = mkscript("trap '' TERM; while :; do sleep 0.05; done")
    t = ScriptTracker(spec(path, timeout_us=200 * MS))
    t0 = time.monotonic()
    out = asyncio.run(t.run_once())
    elapsed = time.monotonic() - t0
    assert out is not None and out.exit_type == "timed_out"
    assert 2.1 < elapsed < 4.0  # timeout + 2 s grace before SIGKILL


def test_hanging_script_does_not_block_loop_and_skips(mkscript, track_log) -> None:  # type: ignore[no-untyped-def]
    path = mkscript("sleep 5")
    t = ScriptTracker(spec(path, interval_us=200 * MS, timeout_us=700 * MS))
    ticks: list[float] = []

    async def go() -> None:
        t.start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < 1.3:
            await asyncio.sleep(0.05)
            ticks.append(loop.time())
        await t.stop()

    asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5  # the loop kept running while the script hung
    msgs = messages(track_log)
    assert "Track script chk is already running, expect idle - skipping run" in msgs
    assert "VRRP_Script(chk) timed_out" in msgs
    assert t.skipped >= 2


def test_periodic_runs_and_init_fail(mkscript, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    counter = tmp_path / "count"
    path = mkscript(f"echo x >> {counter}; exit 0")
    changes: list[bool] = []
    t = ScriptTracker(
        spec(path, interval_us=100 * MS, rise=3, init_fail=True), lambda tr, ok: changes.append(ok)
    )

    async def go() -> None:
        assert t.ok is False
        t.start()
        await asyncio.sleep(0.15)
        assert changes == []  # 2 runs so far, rise is 3
        await asyncio.sleep(0.5)
        await t.stop()

    asyncio.run(go())
    assert changes == [True]
    assert len(counter.read_text().splitlines()) >= 5


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_runs_as_user(tmp_path: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        os.chmod(d, 0o755)
        script = Path(d) / "chk.sh"
        script.write_text('#!/bin/sh\n[ "$(id -u)" = 65534 ]\n')
        script.chmod(0o755)
        t = ScriptTracker(ScriptSpec("chk", ScriptCommand.from_argv([str(script)], uid=65534, gid=65534)))
        assert asyncio.run(t.run_once()).exit_type == "succeeded"  # type: ignore[union-attr]
        t2 = ScriptTracker(ScriptSpec("chk", ScriptCommand.from_argv([str(script)])))
        assert asyncio.run(t2.run_once()).exit_type == "failed"  # type: ignore[union-attr]


# keepalived vrrp.c clear_diff_script: (old rise, fall, result) -> (new rise, fall) -> new result
@pytest.mark.parametrize(
    ("old", "new", "result", "good"),
    [
        ((2, 3, 4), (3, 2), 4, True),  # at the top: the new top
        ((2, 3, 3), (3, 3), 4, True),  # falling, one failure seen: still one failure seen
        ((2, 3, 3), (1, 1), 1, True),  # ... capped at the new top
        ((2, 1, 1), (4, 1), 3, False),  # rising, one success short: still one short
        ((4, 1, 1), (2, 1), 0, False),  # three short of 4: more than the new rise, from 0
        ((2, 1, 0), (5, 1), 0, False),  # failed: failed
    ],
)
def test_reload_carries_the_counter_over_as_keepalived(
    old: tuple[int, int, int], new: tuple[int, int], result: int, good: bool
) -> None:
    o = RiseFall(old[0], old[1], False)
    o.result, o.init, o.status = old[2], False, ScriptStatus.GOOD if old[2] >= old[0] else ScriptStatus.BAD
    n = RiseFall(new[0], new[1], False)
    assert n.carry_over(o) is good
    assert (n.result, n.status, n.init) == (result, ScriptStatus.GOOD if good else ScriptStatus.BAD, False)


def test_reload_lines_and_states_of_the_new_trackers() -> None:
    def trackers(*names: str) -> ScriptTrackers:
        return ScriptTrackers([ScriptSpec(n, ScriptCommand.from_argv(["/bin/true"]), rise=2, fall=2)
                               for n in names])

    old = trackers("good", "bad", "unrun", "gone")
    old["good"].counter.feed(True)
    old["bad"].counter.feed(False)
    old["bad"].last_status = 3
    new = trackers("good", "bad", "unrun", "fresh")
    assert script_reload_lines(old, {"good", "bad", "unrun", "fresh"}) == [
        "VRRP_Script(good) considered successful on reload",
        "VRRP_Script(bad) considered unsuccessful on reload",
    ]
    new.carry_over(old)
    assert [new[n].ok for n in ("good", "bad", "unrun", "fresh")] == [True, False, None, None]
    assert new["bad"].last_status == 3
    # not run yet: starts again (INIT), but one new at this reload waits for nothing (INIT_RELOAD)
    assert [new[n].init_reload for n in ("good", "bad", "unrun", "fresh")] == [False, False, False, True]
    again = trackers("fresh")
    again.carry_over(new)  # still not run at the next reload: still INIT_RELOAD, and no line
    assert again["fresh"].init_reload and script_reload_lines(new, {"fresh"}) == []


@pytest.mark.parametrize("weight", [0, 5, -5])
@pytest.mark.parametrize("reverse", [False, True])
def test_a_script_new_at_a_reload_neither_faults_nor_weighs(weight: int, reverse: bool) -> None:
    track = TrackWeight("script", "chk", weight, reverse)
    assert contribution(track, neutral_value(track)) == 0


def test_a_run_killed_by_stop_reports_nothing(mkscript, tmp_path: Path, track_log) -> None:  # type: ignore[no-untyped-def]
    """A reload or shutdown kills a running script (keepalived script_killall) and reads no result
    from it: no "failed (due to signal 15)" line and no state change for the instances."""
    started = tmp_path / "started"
    path = mkscript(f"touch {started}; sleep 5")
    changes: list[bool] = []
    t = ScriptTracker(spec(path, interval_us=10_000 * MS), lambda tr, ok: changes.append(ok))

    async def go() -> None:
        t.start()
        while not started.exists():
            await asyncio.sleep(0.01)
        await t.stop()

    asyncio.run(go())
    assert changes == []
    assert [m for m in messages(track_log) if "chk" in m] == []
    assert t.status is ScriptStatus.INIT
