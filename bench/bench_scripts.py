"""Script execution overhead per run: our vrrp_script runner vs a bare fork/exec baseline.

What is measured (N runs of /bin/true, sequentially, wall time per run in µs):
- `vrrp_script run (ours)`: ScriptTracker.run_once -- os.posix_spawn in its own process group,
  /dev/null stdio, sanitised env, wait through a pidfd on the event loop, exit-status
  classification and rise/fall accounting.
- `spawn+wait with pdeathsig (ours)`: spawn with keepalived's PR_SET_PDEATHSIG through a
  preexec_fn, which forces a full fork() of the Python process: shows why it is off by default.
- keepalived column: os.posix_spawn(/bin/true) + waitpid from this process, i.e. the bare
  clone/exec/wait cost on this machine with no Python-level event loop work. keepalived 2.2.7 does
  fork()+execve() from a small C process, so this is an estimate of its per-run cost, not a
  measurement of keepalived itself.
"""

from __future__ import annotations

import asyncio
import os
import time

from pykeepalived.track.command import ScriptCommand, spawn
from pykeepalived.track.script import ScriptSpec, ScriptTracker

N = 200


async def _ours() -> float:
    t = ScriptTracker(ScriptSpec("bench", ScriptCommand.from_argv(["/bin/true"])))
    await t.run_once()  # warm-up
    t0 = time.perf_counter()
    for _ in range(N):
        await t.run_once()
    return (time.perf_counter() - t0) / N * 1e6


async def _with_pdeathsig() -> float:
    cmd = ScriptCommand.from_argv(["/bin/true"])
    t0 = time.perf_counter()
    for _ in range(N):
        p = await spawn(cmd, pdeathsig=True)
        await p.wait()
    return (time.perf_counter() - t0) / N * 1e6


def _posix_spawn() -> float:
    env = dict(os.environ)
    t0 = time.perf_counter()
    for _ in range(N):
        pid = os.posix_spawn("/bin/true", ["/bin/true"], env)
        os.waitpid(pid, 0)
    return (time.perf_counter() - t0) / N * 1e6


def main() -> list[dict[str, object]]:
    baseline = _posix_spawn()
    ours = asyncio.run(_ours())
    pdeath = asyncio.run(_with_pdeathsig())
    goal = "<= keepalived fork/exec"
    return [
        {
            "name": f"vrrp_script run /bin/true (ours, {N} runs)",
            "value": round(ours, 1),
            "unit": "us/run",
            "keepalived": round(baseline, 1),
            "goal": goal,
        },
        {
            "name": "spawn+wait with pdeathsig preexec_fn (ours)",
            "value": round(pdeath, 1),
            "unit": "us/run",
            "keepalived": round(baseline, 1),
            "goal": None,
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
