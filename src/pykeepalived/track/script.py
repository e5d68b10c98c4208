# Theory of operation
# -------------------
# One `ScriptTracker` per vrrp_script (keepalived.md §1.7; keepalived vrrp_scheduler.c:
# vrrp_script_thread / vrrp_script_child_thread). The first run starts immediately, later runs
# every `interval` measured from the previous start. A run is an asyncio task: spawn the child
# (own process group), await its exit without blocking anything else, and at `timeout`
# (default = interval) send SIGTERM to the group, then SIGKILL after 2 s (then again every 2 s,
# then 10 s, logging "failed to terminate after kill"). A killed run counts as `timed_out`.
# While a run is still in progress the next tick is skipped with keepalived's log line
# ("Track script NAME is already running, expect idle - skipping run"; "being timed out" once
# the kill has started).
#
# Rise/fall follows keepalived's single counter `result` in 0..rise+fall-1: values >= rise are
# "good". Initially result = rise-1 (one success is enough and the first failure is reported),
# or 0 with init_fail (rise successes needed). A success below rise-1 only counts; at rise-1 it
# is reported ("VRRP_Script(NAME) succeeded") and result jumps to the top; a failure above rise
# only counts; at rise (or during init) it is reported ("VRRP_Script(NAME) failed (exited with
# status N)" / "(due to signal N)" / "timed_out") and result drops to 0. Only reported changes
# reach the callback, which is how the VRRP core learns a script's state.
#
# A reload (keepalived vrrp.c clear_diff_script) carries each script's counter over by name: a
# script that has not run yet starts again from rise-1; one that has reports "VRRP_Script(NAME)
# considered successful|unsuccessful on reload" and keeps its position relative to rise in the new
# rise/fall range, so its good/bad state does not change. A script new at a reload (keepalived
# SCRIPT_INIT_STATE_INIT_RELOAD) holds nothing while it has not run: its instances neither wait for
# it nor count it until its first result (daemon/trackers.py gives them a neutral value).
"""vrrp_script runner: periodic health-check scripts with rise/fall/timeout."""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from .command import ScriptCommand, kill_group, spawn

log = logging.getLogger("pykeepalived.track")

SEC_US = 1_000_000
TERM_GRACE_S = 2.0  # keepalived: SIGTERM, then SIGKILL 2 s later


class ScriptStatus(enum.Enum):
    INIT = "INIT"  # no result reported yet (keepalived SCRIPT_INIT_STATE_INIT)
    GOOD = "GOOD"
    BAD = "BAD"


class RunState(enum.Enum):
    """keepalived SCRIPT_STATE_*."""

    IDLE = "idle"
    RUNNING = "running"
    REQUESTING_TERMINATION = "requesting_termination"
    FORCING_TERMINATION = "forcing_termination"


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    """What the daemon passes for one vrrp_script (plain values, no config model)."""

    name: str
    command: ScriptCommand
    interval_us: int = SEC_US
    timeout_us: int = 0  # 0 = same as interval (keepalived VRRP_SCRIPT_DT)
    rise: int = 1
    fall: int = 1
    init_fail: bool = False

    @property
    def effective_timeout_s(self) -> float:
        return (self.timeout_us or self.interval_us) / SEC_US


@dataclass(frozen=True, slots=True)
class ScriptOutcome:
    """One finished run, before rise/fall: `exit_type` is succeeded | failed | timed_out."""

    exit_type: str
    status: int | None = None  # exit status when exited
    signal: int | None = None  # terminating signal when killed by a signal (not our timeout)

    @property
    def success(self) -> bool:
        return self.exit_type == "succeeded"

    def log_text(self, name: str) -> str:
        if self.exit_type == "failed" and self.status is not None:
            return f"VRRP_Script({name}) failed (exited with status {self.status})"
        if self.exit_type == "failed" and self.signal is not None:
            return f"VRRP_Script({name}) failed (due to signal {self.signal})"
        return f"VRRP_Script({name}) {self.exit_type}"


ChangeCallback = Callable[["ScriptTracker", bool], None]


class RiseFall:
    """keepalived's rise/fall counter (pure; vrrp_script_child_thread)."""

    def __init__(self, rise: int, fall: int, init_fail: bool) -> None:
        self.rise = rise
        self.fall = fall
        self.init = not init_fail  # SCRIPT_INIT_STATE_INIT vs _FAILED
        self.result = rise - 1 if not init_fail else 0
        self.status = ScriptStatus.BAD if init_fail else ScriptStatus.INIT

    @property
    def top(self) -> int:
        return self.rise + self.fall - 1

    def feed(self, success: bool) -> bool | None:
        """Account one run; return the newly reported state (True/False) or None if unchanged."""
        reported: bool | None = None
        if success:
            if self.result < self.rise - 1:
                self.result += 1
            elif self.result != self.top:
                if self.result < self.rise:
                    reported = True
                self.result = self.top
        else:
            if self.result > self.rise:
                self.result -= 1
            else:
                if self.result == self.rise or self.init:
                    reported = False
                self.result = 0
        self.init = False
        if reported is not None:
            self.status = ScriptStatus.GOOD if reported else ScriptStatus.BAD
        return reported

    def carry_over(self, old: RiseFall) -> bool:
        """keepalived clear_diff_script for a script that has run: take `old`'s result into this
        rise/fall range; return whether it is considered successful."""
        if old.result < old.rise:
            self.result = 0 if not old.result else max(0, self.rise - (old.rise - old.result))
        elif old.result == old.top:
            self.result = self.top
        else:
            self.result = min(self.rise + (old.result - old.rise), self.top)
        self.init = False
        good = old.result >= old.rise
        self.status = ScriptStatus.GOOD if good else ScriptStatus.BAD
        return good


class ScriptTracker:
    """Runs one vrrp_script forever (until `stop`), reporting result changes to `on_change`."""

    def __init__(self, spec: ScriptSpec, on_change: ChangeCallback | None = None) -> None:
        self.spec = spec
        self.on_change = on_change
        self.counter = RiseFall(spec.rise, spec.fall, spec.init_fail)
        self.state = RunState.IDLE
        self.last_status = 0  # keepalived: zero-initialised, so a first 0 is not logged
        self.runs = 0
        self.skipped = 0
        self.last_outcome: ScriptOutcome | None = None
        self.init_reload = False  # new at a reload and not run yet (keepalived SCRIPT_INIT_STATE_INIT_RELOAD)
        self._ticker: asyncio.Task[None] | None = None
        self._run: asyncio.Task[None] | None = None
        self._pid: int | None = None
        self._stopping = False  # a run that ends now was killed by stop(): no result

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def status(self) -> ScriptStatus:
        return self.counter.status

    @property
    def ok(self) -> bool | None:
        """True/False once a result has been reported, None while still INIT."""
        s = self.counter.status
        return None if s is ScriptStatus.INIT else s is ScriptStatus.GOOD

    def start(self) -> None:
        self._stopping = False
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    async def stop(self) -> None:
        """Stop scheduling and kill a running child (SIGTERM to its group, keepalived shutdown and
        reload); its result is not read, as keepalived's (no "failed (due to signal 15)")."""
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._pid is not None and self.state is not RunState.IDLE:
            kill_group(self._pid, signal.SIGTERM)
        if self._run is not None:
            run = self._run
            try:
                await asyncio.wait_for(asyncio.shield(run), TERM_GRACE_S)
            except TimeoutError:
                if self._pid is not None:
                    kill_group(self._pid, signal.SIGKILL)
                run.cancel()
                try:
                    await run
                except asyncio.CancelledError:
                    pass
            self._run = None

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.spec.interval_us / SEC_US
        next_at = loop.time()
        while True:
            self.tick()
            next_at += interval
            now = loop.time()
            if next_at < now:  # we were suspended: do not burst
                next_at = now + interval
            await asyncio.sleep(next_at - now)

    def tick(self) -> None:
        """One scheduled run: skip it if the previous run is still going."""
        if self.state is not RunState.IDLE:
            self.skipped += 1
            what = "already running" if self.state is RunState.RUNNING else "being timed out"
            log.info("Track script %s is %s, expect idle - skipping run", self.name, what)
            return
        self.state = RunState.RUNNING
        self._run = asyncio.get_running_loop().create_task(self._run_once())

    async def run_once(self) -> ScriptOutcome | None:
        """Run the script once now and account the result (for tests and manual checks)."""
        self.state = RunState.RUNNING
        await self._run_once()
        return self.last_outcome

    async def _run_once(self) -> None:
        try:
            proc = await spawn(self.spec.command)
        except OSError as e:
            # keepalived's child logs the exec failure and exits 0 ("script errors aren't server
            # errors"), so the run counts as a success.
            log.info(
                "Error exec-ing command '%s', error %d: %s",
                self.spec.command.argv[0],
                e.errno or 0,
                e.strerror,
            )
            self.state = RunState.IDLE
            self._account(ScriptOutcome("succeeded", 0))
            return
        self._pid = proc.pid
        self.runs += 1
        try:
            timeout: float | None = self.spec.effective_timeout_s
            while not await proc.exited_within(timeout):
                timeout = self._escalate(proc.pid)
                if timeout is None:
                    await proc.exited_within(None)
                    break
        except asyncio.CancelledError:
            self.state = RunState.IDLE
            raise
        rc = proc.returncode
        assert rc is not None
        if self._stopping:
            self.state = RunState.IDLE
            self._pid = None
            return
        outcome = self._classify(rc, proc.pid)
        self.state = RunState.IDLE
        self._pid = None
        self._account(outcome)

    def _escalate(self, pid: int) -> float | None:
        """The child overran: next signal and how long to wait for it (keepalived timeout path)."""
        if self.state is RunState.RUNNING:
            self.state, sig, wait = RunState.REQUESTING_TERMINATION, signal.SIGTERM, TERM_GRACE_S
        elif self.state is RunState.REQUESTING_TERMINATION:
            self.state, sig, wait = RunState.FORCING_TERMINATION, signal.SIGKILL, TERM_GRACE_S
        else:
            log.info("Script %s child (PID %d) failed to terminate after kill", self.name, pid)
            sig, wait = signal.SIGKILL, 10.0
        if not kill_group(pid, sig):
            log.info("Script %s child (PID %d) lost", self.name, pid)
            return None
        return wait

    def _classify(self, rc: int, pid: int) -> ScriptOutcome:
        if rc >= 0:
            if rc != self.last_status:
                log.info("Script `%s` now returning %d", self.name, rc)
            self.last_status = rc
            return ScriptOutcome("succeeded", 0) if rc == 0 else ScriptOutcome("failed", status=rc)
        sig = -rc
        if self.state is RunState.REQUESTING_TERMINATION and sig == signal.SIGTERM:
            kill_group(pid, signal.SIGKILL)  # make sure the script's own children are gone
        if (self.state is RunState.REQUESTING_TERMINATION and sig == signal.SIGTERM) or (
            self.state is RunState.FORCING_TERMINATION and sig in (signal.SIGKILL, signal.SIGTERM)
        ):
            return ScriptOutcome("timed_out")
        return ScriptOutcome("failed", signal=sig)

    def _account(self, outcome: ScriptOutcome) -> None:
        self.last_outcome = outcome
        self.init_reload = False
        reported = self.counter.feed(outcome.success)
        if reported is None:
            return
        log.info("%s", outcome.log_text(self.name) if not reported else f"VRRP_Script({self.name}) succeeded")
        if self.on_change is not None:
            self.on_change(self, reported)


class ScriptTrackers:
    """All vrrp_scripts of a daemon: start them together, stop them together."""

    def __init__(self, specs: list[ScriptSpec], on_change: ChangeCallback | None = None) -> None:
        self.trackers = {s.name: ScriptTracker(s, on_change) for s in specs}

    def __getitem__(self, name: str) -> ScriptTracker:
        return self.trackers[name]

    def start(self) -> None:
        for t in self.trackers.values():
            t.start()

    async def stop(self) -> None:
        await asyncio.gather(*(t.stop() for t in self.trackers.values()))

    def carry_over(self, old: ScriptTrackers | None) -> None:
        """A reload's new trackers take the old ones' state by name (keepalived clear_diff_script,
        whose log lines `script_reload_lines` gives)."""
        olds = old.trackers if old is not None else {}
        for name, t in self.trackers.items():
            o = olds.get(name)
            if o is None or o.init_reload:
                t.init_reload = True
            elif o.status is ScriptStatus.INIT:  # not run yet: it starts again (init_fail or not)
                t.counter = RiseFall(t.spec.rise, t.spec.fall, False)
            else:
                t.counter.carry_over(o.counter)
                t.last_status = o.last_status


def script_reload_lines(old: ScriptTrackers | None, new_names: set[str]) -> list[str]:
    """keepalived clear_diff_script's lines for the scripts of the old configuration still
    configured (whether or not they are used or secure in the new one)."""
    if old is None:
        return []
    return [f"VRRP_Script({name}) considered {'' if t.status is ScriptStatus.GOOD else 'un'}successful"
            " on reload" for name, t in old.trackers.items()
            if name in new_names and not t.init_reload and t.status is not ScriptStatus.INIT]
