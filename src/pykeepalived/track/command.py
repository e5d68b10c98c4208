# Theory of operation
# -------------------
# Everything keepalived runs (vrrp_script, notify_*, *_notify_fifo_script) is a "notify script":
# a command line given with the quoted-keyword syntax (keepalived.md §2.5), optionally followed by
# `user [[:]group]`. keepalived re-parses the raw keyword line with `alloc_strvec_quoted_escaped`
# (lib/parser.c), which honours "..." and '...' quotes AND backslash escapes, takes word 1 as the
# command string, splits that string again with the same function into argv, and resolves words
# 2/3 as the run-as user/group (lib/notify.c: notify_script_init, set_script_params_array).
#
# Execution follows lib/notify.c: system_call_script: the child gets its own process group
# (so a timed-out script is killed with its children), stdin/stdout/stderr on /dev/null, the
# run-as uid/gid (supplementary groups reduced to the gid, or with `set_supplementary_groups` the
# run-as user's groups, getgrouplist(3)), and is execve()d directly -- no
# shell -- unless the command needs one: it starts with `</` (a bash-style "file is openable"
# test) or the file is not an executable image (no ELF header, no `#!` line; keepalived asks
# libmagic and logs "Please add a #! shebang to script ..."). Then keepalived runs system() on
# its own rendering of argv (each word single-quoted, cmd_str_r) and we do the same with /bin/sh.
#
# Spawning is the cost of a vrrp_script run, so it takes the short road: os.posix_spawn (glibc:
# clone(CLONE_VM | CLONE_VFORK) + execve, no copy of the Python process) with the process group,
# /dev/null stdio and the SIGPIPE/SIGXFSZ defaults done by posix_spawn's own attributes, and the
# child watched through a pidfd on the event loop (readable when it exits; then one waitpid). No
# thread, pipe or transport per child, as asyncio's subprocess machinery would make. A script run
# as another user or group, or with PR_SET_PDEATHSIG, needs work in the child before execve that
# posix_spawn cannot do: it is started by subprocess.Popen (user/group/extra_groups, preexec_fn)
# and watched the same way. posix_spawn does not close descriptors: every descriptor Python opens
# is close-on-exec, and the first spawn marks close-on-exec those the process inherited (e.g.
# pass_fds from the parent), so scripts get only stdin/stdout/stderr as with close_fds=True.
"""Parsing and spawning keepalived-style script command lines."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pykeepalived.config.command_words import CommandSyntaxError, split_quoted_escaped
from pykeepalived.config.command_words import cmd_str as cmd_str  # re-exported: its users import it here

log = logging.getLogger("pykeepalived.track")


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """A parsed `KEYWORD CMD [user [[:]group]]` line: argv plus the optional user/group words."""

    argv: tuple[str, ...]
    user: str | None = None
    group: str | None = None


def parse_script_line(line: str) -> ScriptLine:
    """Parse the text after the keyword (`"/bin/chk 'a b'" nobody nogroup`) as keepalived does.

    The whole remainder is split once (quotes/escapes), the first word is split again into argv.
    """
    words = split_quoted_escaped(line)
    if not words:
        raise CommandSyntaxError("no command given")
    argv = split_quoted_escaped(words[0])
    if not argv:
        raise CommandSyntaxError(f"Unable to parse script '{words[0]}'")
    user = words[1] if len(words) > 1 else None
    group = words[2] if len(words) > 2 else None
    return ScriptLine(tuple(argv), user, group)


def is_redirection_test(argv: Sequence[str]) -> bool:
    """`</path` (spaces allowed after `<`): a file-openable test, only meaningful to a shell."""
    if not argv or not argv[0].startswith("<"):
        return False
    return argv[0][1:].lstrip(" \t").startswith("/")


def is_exec_image(path: str) -> bool:
    """True if execve() can run the file itself: an ELF image or a `#!` script.

    This stands in for keepalived's libmagic test (" executable" / " shared object").
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True  # let execve report the problem
    return head[:2] == b"#!" or head == b"\x7fELF"


@dataclass(frozen=True, slots=True)
class ScriptCommand:
    """A resolved command, ready to run.

    `uid`/`gid` None means "as the daemon". `use_shell` runs `/bin/sh -c cmd_str(argv)` as
    keepalived does for `</...` tests and for files that are not executable images.
    """

    argv: tuple[str, ...]
    uid: int | None = None
    gid: int | None = None
    use_shell: bool = False
    groups: tuple[int, ...] | None = None  # supplementary groups (set_supplementary_groups); None: [gid]

    @classmethod
    def from_argv(cls, argv: Sequence[str], uid: int | None = None, gid: int | None = None) -> ScriptCommand:
        """Build a command, deciding shell vs direct execve as keepalived does."""
        argv_t = tuple(argv)
        use_shell = is_redirection_test(argv_t) or (
            "/" in argv_t[0] and os.path.isfile(argv_t[0]) and not is_exec_image(argv_t[0])
        )
        return cls(argv_t, uid, gid, use_shell)




# Environment variables keepalived strips before running anything.
_UNSAFE_ENV = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")

_libc: ctypes.CDLL | None = None
PDEATHSIG_DEFAULT = False
PR_SET_PDEATHSIG = 1


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)  # the process's libc (find_library runs ldconfig)
    return _libc


def _child_setup() -> None:  # pragma: no cover - runs in the forked child
    # keepalived: prctl(PR_SET_PDEATHSIG, SIGTERM) -- if the daemon dies, the script dies
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


_env: tuple[int, dict[str, str]] | None = None


def script_env() -> dict[str, str]:
    """The daemon's environment less _UNSAFE_ENV (do not modify the result). Built once: copying
    os.environ was a third of a spawn's Python time, and a daemon does not change its environment
    once running, except for removing a variable at start-up (sdnotify), which the size notices."""
    global _env
    if _env is None or _env[0] != len(os.environ):
        env = dict(os.environ)
        for k in _UNSAFE_ENV:
            env.pop(k, None)
        _env = (len(os.environ), env)
    return _env[1]


POLL_S = 0.01  # reaping without a pidfd: waitpid(WNOHANG) every 10 ms


class ScriptProcess:
    """A started script: `pid`, `returncode` once it has exited (negative: killed by that signal, as
    asyncio's and subprocess's), and `await wait()`. Reaped through a pidfd on the event loop."""

    __slots__ = ("_done", "_loop", "_pidfd", "_popen", "_waiters", "pid", "returncode")

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._popen = popen  # kept so that subprocess never reaps it behind our back
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[int] = self._loop.create_future()
        self._waiters: list[asyncio.Future[bool]] = []  # exited_within() calls in progress
        try:
            self._pidfd = os.pidfd_open(pid)
        except OSError:  # no pidfd (kernel < 5.3) or no descriptor left: poll instead
            self._pidfd = -1
            self._loop.call_later(POLL_S, self._on_exit)
        else:
            self._loop.add_reader(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: nothing more can be known
            pid, status = self.pid, 255 << 8
        if pid == 0:  # not yet (spurious wake-up, or polling)
            if self._pidfd < 0:
                self._loop.call_later(POLL_S, self._on_exit)
            return
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
        self.returncode = rc = os.waitstatus_to_exitcode(status)
        if self._popen is not None:
            self._popen.returncode = rc
        if not self._done.done():
            self._done.set_result(rc)
        for w in self._waiters:
            if not w.done():
                w.set_result(True)

    def wait(self) -> asyncio.Future[int]:
        """The exit code, when there is one (cancelling this future does not affect other waiters)."""
        return asyncio.shield(self._done)

    async def exited_within(self, timeout_s: float | None) -> bool:
        """Wait until the process exits (True) or `timeout_s` passes (False); the exit wakes the
        caller directly, with no intermediate future or task (a script run is mostly such hops)."""
        if self.returncode is not None:
            return True
        fut: asyncio.Future[bool] = self._loop.create_future()
        self._waiters.append(fut)
        timer = None if timeout_s is None else self._loop.call_later(timeout_s, _expire, fut)
        try:
            return await fut
        finally:
            self._waiters.remove(fut)
            if timer is not None:
                timer.cancel()


def _expire(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


_DEVNULL_STDIO = (
    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    (os.POSIX_SPAWN_DUP2, 1, 2),
)
_inherited_closed = False


def _no_inherited_fds() -> None:
    """Mark close-on-exec the descriptors this process inherited as inheritable (once)."""
    global _inherited_closed
    if _inherited_closed:
        return
    _inherited_closed = True
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    os.set_inheritable(fd, False)
            except OSError:
                pass  # the descriptor of the directory listing itself, closed by now


async def spawn(cmd: ScriptCommand, extra_args: Iterable[str] = (), *, pdeathsig: bool = PDEATHSIG_DEFAULT
                ) -> ScriptProcess:
    """Start `cmd` (+ extra_args) in its own process group and return without waiting.

    `pdeathsig` sets PR_SET_PDEATHSIG=SIGTERM in the child as keepalived does; it needs a
    preexec_fn, which stops CPython from using vfork and roughly triples the cost of a spawn
    (bench/bench_scripts.py), so it is off by default: the daemon kills its scripts' process
    groups itself when it stops (ScriptTracker.stop, ChildSet.kill_all).

    Raises OSError if the process cannot be created (e.g. the file vanished).
    """
    argv = list(cmd.argv) + list(extra_args)
    if cmd.use_shell:
        argv = ["/bin/sh", "-c", cmd_str(argv)]
    kwargs: dict[str, Any] = {}
    if cmd.gid is not None and cmd.gid != os.getegid():
        kwargs["group"] = cmd.gid
    if cmd.gid is not None and os.geteuid() == 0:
        kwargs["extra_groups"] = list(cmd.groups) if cmd.groups is not None else [cmd.gid]
    if cmd.uid is not None and cmd.uid != os.geteuid():
        kwargs["user"] = cmd.uid
    if pdeathsig and _load_libc() is not None:
        kwargs["preexec_fn"] = _child_setup
    if kwargs:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            process_group=0, env=script_env(), close_fds=True, **kwargs,
        )
        return ScriptProcess(popen.pid, popen)
    _no_inherited_fds()
    run = os.posix_spawn if "/" in argv[0] else os.posix_spawnp  # PATH search as execvp does
    pid = run(argv[0], argv, script_env(), file_actions=_DEVNULL_STDIO, setpgroup=0,
              setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))  # subprocess's restore_signals
    return ScriptProcess(pid)


def kill_group(pid: int, sig: int) -> bool:
    """Signal the process group led by `pid` (scripts lead their own group). False if gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
    return True


class ChildSet:
    """Fire-and-forget children: started, reaped in the background, killable at shutdown."""

    def __init__(self) -> None:
        self._procs: dict[int, ScriptProcess] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._procs)

    async def start(
        self,
        cmd: ScriptCommand,
        extra_args: Iterable[str] = (),
        *,
        timeout_s: float | None = None,
        what: str = "script",
    ) -> ScriptProcess | None:
        """Start and forget (reaped in the background); with `timeout_s`, SIGKILL the group then.

        Returns the process, or None (logged) if it could not be started.
        """
        try:
            proc = await spawn(cmd, extra_args)
        except OSError as e:
            log.info("Error exec-ing command '%s', error %d: %s", cmd.argv[0], e.errno or 0, e.strerror)
            return None
        self._procs[proc.pid] = proc
        task = asyncio.get_running_loop().create_task(self._reap(proc, timeout_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return proc

    async def _reap(self, proc: ScriptProcess, timeout_s: float | None) -> None:
        try:
            if timeout_s is None:
                await proc.wait()
            else:
                try:
                    await asyncio.wait_for(asyncio.shield(proc.wait()), timeout_s)
                except TimeoutError:
                    # keepalived: child_killed_thread -- a STOP notify that overruns is killed
                    kill_group(proc.pid, signal.SIGKILL)
                    await proc.wait()
        finally:
            self._procs.pop(proc.pid, None)

    def kill_all(self, sig: int = signal.SIGTERM) -> None:
        for pid in list(self._procs):
            kill_group(pid, sig)

    async def wait_all(self, timeout_s: float | None = None) -> None:
        """Wait for the children still running (e.g. STOP notifies at shutdown)."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
