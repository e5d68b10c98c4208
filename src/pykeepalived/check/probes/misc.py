"""MISC_CHECK probe: run `misc_path`; exit 0 = up, 1 = down, 2..255 with misc_dynamic = up with weight.

The checker child resolves the command through keepalived's script security checks
(daemon/checker/check_scripts.py: path search, realpath, run-as `user` else `script_user`, permissions with
enable_script_security) and the probe runs that resolved command in its own process group, as its
uid/gid. Without it (tests, tools) the line is split shell-like and run as `user`/`group`.
On `misc_timeout` the child gets SIGTERM, then SIGKILL if it lingers; that counts as a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal

from pykeepalived.check.model import MiscCheckSpec
from pykeepalived.check.probes import ProbeResult
from pykeepalived.track.command import ScriptProcess, kill_group, spawn


async def probe_misc(spec: MiscCheckSpec, timeout: float, who: str) -> ProbeResult:
    """`who` is `[RS VS VS]`, used in keepalived's log texts."""
    argv = shlex.split(spec.misc_path)
    name = argv[0] if argv else spec.misc_path
    proc: ScriptProcess | asyncio.subprocess.Process
    try:
        if spec.command is not None:
            proc = await spawn(spec.command)
        else:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, user=spec.user, group=spec.group, start_new_session=True)
    except (OSError, ValueError, KeyError) as e:
        return ProbeResult(False, f"Misc check for [{who}] by [{name}] failed (cannot execute: {e}).")
    try:
        async with asyncio.timeout(timeout):
            rc = await proc.wait()
    except TimeoutError:
        _signal(proc.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(2):
                await proc.wait()
        except TimeoutError:
            _signal(proc.pid, signal.SIGKILL)
            await proc.wait()
        return ProbeResult(False, f"Misc check for [{who}] by [{name}] timed out.")
    if rc == 0:
        return ProbeResult(True, weight=None)
    if spec.misc_dynamic and 2 <= rc <= 255:
        return ProbeResult(True, weight=rc - 2)
    if rc < 0:
        return ProbeResult(False, f"Misc check for [{who}] by [{name}] failed (due to signal {-rc}).")
    return ProbeResult(False, f"Misc check for [{who}] by [{name}] failed (exited with status {rc}).")


def _signal(pid: int, sig: int) -> None:
    """The script's process group, else the process alone (it may have left the group)."""
    if not kill_group(pid, sig):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
