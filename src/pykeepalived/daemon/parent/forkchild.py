"""Children forked from the parent, as keepalived's are: no new interpreter, the code shared.

# Theory of operation
Most of a pykeepalived process is the interpreter's heap: the modules it imported (asyncio,
pyroute2's rtnetlink, the configuration code, the VRRP core: about 25 MB in the VRRP child). A child
started by re-executing Python builds its own copy (private memory, and 0.3 s or more of imports at
every start and respawn). So the parent imports what its children run (`preload`, once, before the
first fork), moves every object it has to the collector's permanent generation (`gc.freeze()`: a
collection in a child never writes into the shared pages) and forks each child (`fork_child`): the
child shares those pages copy-on-write with the parent and with its siblings, and a respawn is a
fork, not a cold start. Python 3.11 has no immortal objects, so a child still dirties the pages of
the objects whose reference counts it changes; what it never touches stays shared.

The collector is off from the start of the daemon's parent until `preload` has frozen the heap
(cli.py turns it off before importing the daemon), as the gc module's documentation advises for a
process that forks without exec: the imports create ~65,000 tracked objects and hardly any garbage
(~600 objects, mostly the classes `@dataclass(slots=True)` replaces), so the collections the
imports would trigger, and one before freezing, cost ~40 ms of the start for nothing (issue 15);
that garbage stays frozen with the rest, shared by the children.

What must not cross the fork, and how the child drops it before running the role (`_child`):
- threads: only the forking thread exists in the child (the parent's ready-pipe reader does not);
  the parent forks from its main thread between two sigtimedwait() calls, holding no lock of ours,
  and CPython re-creates its own locks (import, logging handlers) in the child;
- the event loop: the parent runs none (the child creates its own with asyncio.run);
- signals: the child sets its mask to the child signals (held until it installs its handlers,
  daemon/serve.py) where the parent blocks its own, and the parent-death signal; the parent
  installs no Python handler, so the dispositions are a fresh interpreter's;
- descriptors: the logging handlers are closed as objects (their files, the syslog socket), then
  every other descriptor but 0-2 and those the role is given (ready pipe, BFD event pipe) is
  closed, as `Popen(close_fds=True, pass_fds=...)` did; the parent's own objects that wrap one stay
  referenced by the parent's frames below the child's, which never return (the child leaves with
  os._exit), so none is finalised and closes a reused descriptor number;
- random state: the `random` module reseeds itself in a forked child (os.register_at_fork);
- buffered output: stdout and stderr are flushed before the fork, so nothing is written twice.
The child then runs the role as `pykeepalived --child=ROLE <the parent's arguments>` did (the same
Options, parsed from the same arguments), flushes its logging, and exits with os._exit.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.options import Options

# what a forked child runs on its options: daemon/main.py's run, handed down by the entry point so
# that nothing here imports the module above it
ChildEntry = Callable[["Options"], int]

ROLE_MODULES = {
    "vrrp": "pykeepalived.daemon.vrrp.vrrp_child",
    "checker": "pykeepalived.daemon.checker.checker_child",
    "bfd": "pykeepalived.daemon.bfd.bfd_child",
}


# what the parent's configuration reads (daemon/forkread.py) import: in the parent first, so each
# read does not import them again in its fork (they are the children's anyway)
COMMON = ("pykeepalived.config", "pykeepalived.daemon.trackers")


def import_common() -> None:
    for name in COMMON:
        importlib.import_module(name)


def preload(roles: Sequence[str]) -> None:
    """Import what the children of `roles` run, then freeze the heap (before the first fork)."""
    import_common()
    for role in roles:
        importlib.import_module(ROLE_MODULES[role])
    gc.freeze()
    gc.enable()  # off since the start (cli.py); the parent's and the children's own objects from here


class ForkedChild:
    """The few things of subprocess.Popen the parent uses, for a forked child."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 255 << 8  # reaped elsewhere: status unknown
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code, waiting at most `timeout` seconds (TimeoutError after)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"child {self.pid} still running after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_child(role: str, argv: Sequence[str], env: dict[str, str], keep_fds: Sequence[int],
               prepare: Callable[[], None], entry: ChildEntry) -> ForkedChild:
    """Fork the child of `role`: it runs `entry` (the entry point's run) on the options of
    `pykeepalived --child=ROLE argv`, with `env` added to its environment and `keep_fds` open;
    `prepare` runs first in it (signal mask, parent-death signal). OSError when the fork fails."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid:
        return ForkedChild(pid)
    code = 1
    try:  # pragma: no cover - runs in the forked child (covered by the daemon tests)
        code = _child(role, argv, env, keep_fds, prepare, entry)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _child(role: str, argv: Sequence[str], env: dict[str, str], keep_fds: Sequence[int],
           prepare: Callable[[], None], entry: ChildEntry) -> int:
    prepare()
    gc.freeze()  # what the parent made since its preload stays out of this child's collections too
    from pykeepalived.daemon.log import log

    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    keep = sorted({0, 1, 2, *keep_fds})
    for lo, hi in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
        if hi > lo + 1:
            os.closerange(lo + 1, hi)
    os.environ.update(env)
    from pykeepalived.options import parse_args

    return entry(parse_args([f"--child={role}", *argv]))
