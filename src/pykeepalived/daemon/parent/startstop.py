"""The parent's startup_script and shutdown_script (keepalived.md §1.2.1, §3.5).

# Theory of operation
keepalived's parent runs `startup_script` once before it starts any child and `shutdown_script`
once after the children have stopped (main.c run_startup_script, sigend), each in its own process
group, as its configured user, with a timeout (`*_script_timeout`, default 10 s). On the timeout it
logs `<type> timed out` and signals the group: SIGTERM, 2 s later SIGKILL, 2 s later SIGKILL again
with `<type> (PID n) failed to terminate after kill`, then gives up after 10 s more
(handle_child_timeout). A non-zero exit is logged `<type> script failed, status N` - keepalived
2.2.7's type already ends in "script", hence "startup script script failed"; kept for log filters.
The parent blocks the signals it waits for, so the script gets an unblocked mask and, as keepalived's
scripts, PDEATHSIG=SIGTERM. The command line was resolved in the configuration fork (user, shell or
not: daemon/procconf.py), so nothing here needs the config layer.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess

from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.daemon.procconf import ENV, StartStop

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
# (signal, seconds to wait for the group after it, message before sending)
ESCALATION: tuple[tuple[int, float, str | None], ...] = (
    (signal.SIGTERM, 2.0, None),
    (signal.SIGKILL, 2.0, None),
    (signal.SIGKILL, 10.0, "{type} (PID {pid}) failed to terminate after kill"),
)


def _preexec() -> None:  # pragma: no cover - runs in the forked child
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _killpg(pid: int, sig: int, what: str) -> bool:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        log.info("%s (PID %d) lost", what, pid)
        return False
    except OSError as exc:
        log.info("kill -%d of %s (%d) failed with errno %d", sig, what, pid, exc.errno or 0)
    return True


def run_start_stop(script: StartStop, which: str) -> int | None:
    """Run the startup or shutdown script to its end (or keepalived's give-up); its exit status."""
    what = f"{which} script"
    if log.isEnabledFor(DETAIL):
        log.info("Running %s script %s", which, script.name)
    kwargs: dict[str, object] = {}
    if script.gid is not None and script.gid != os.getegid():
        kwargs["group"] = script.gid
        if os.geteuid() == 0:
            kwargs["extra_groups"] = [script.gid]
    if script.uid is not None and script.uid != os.geteuid():
        kwargs["user"] = script.uid
    env = {k: v for k, v in os.environ.items() if k != ENV}
    try:
        proc = subprocess.Popen(script.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, process_group=0, preexec_fn=_preexec,
                                close_fds=True, env=env, **kwargs)  # type: ignore[call-overload]
    except OSError:
        log.info("Call of %s script %s failed", which, script.name)
        return None
    wait, steps, killed_by_us = float(script.timeout), list(ESCALATION), False
    while True:
        try:
            rc: int = proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            if not steps:
                return None  # keepalived gives up on it
            sig, wait, message = steps.pop(0)
            if not killed_by_us:
                log.info("%s timed out", what)
            if message:
                log.info(message.format(type=what, pid=proc.pid))
            killed_by_us = True
            if not _killpg(proc.pid, sig, what):
                proc.wait()
                return None
    if rc > 0:
        log.info("%s script failed, status %d", what, rc)
    elif rc == 0 and log.isEnabledFor(DETAIL):
        log.info("%s script succeeded", what)
    elif rc == -signal.SIGTERM and killed_by_us:
        try:  # the script died of our SIGTERM: make sure whatever it started dies too
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    return rc
