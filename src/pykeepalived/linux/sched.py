# Theory of operation
# -------------------
# The process-level system calls keepalived makes around its processes, with its log texts:
#   * the process name (prctl PR_SET_NAME: /proc/PID/comm, `ps -o comm`; lib/utils.c set_process_name);
#   * a child's scheduling (lib/process.c set_process_priorities, set_process_cpu_affinity): SCHED_RR
#     with SCHED_RESET_ON_FORK and RLIMIT_RTTIME (soft = half the hard limit; SIGXCPU logged) when a
#     realtime priority is set, else the nice value; mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT) for
#     *_no_swap; sched_setaffinity. They are per thread on Linux, so they are applied at the very
#     start of the child, before asyncio or anything else makes a thread: later threads inherit them;
#   * entering a named network namespace (core/namespaces.c set_namespaces): setns(CLONE_NEWNET) on
#     /run/netns/NAME, then a private mount namespace in which /run/keepalived/NAME is bind-mounted on
#     /run/keepalived, so the pid files of several namespaced keepalived do not collide;
#   * `net_namespace_ipvs`: one thread (the IPVS worker) joins another namespace for its socket.
# Python 3.11 has no os.setns/os.unshare: libc through ctypes.
"""Process names, scheduling, memory locking and network namespaces of the daemon's processes."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import resource
import signal

PR_SET_NAME = 15
PR_GET_NAME = 16
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC, MS_SLAVE, MS_BIND = 0x4000, 0x80000, 0x1000
NETNS_DIR = "/run/netns/"
PID_DIR = "/run/keepalived"
PROG = {"vrrp": "VRRP", "checker": "Checker", "bfd": "BFD"}

log = logging.getLogger("pykeepalived")
_libc = ctypes.CDLL(None, use_errno=True)


def _err() -> str:
    return os.strerror(ctypes.get_errno())


def set_process_name(name: str | None) -> None:
    """prctl(PR_SET_NAME): the kernel keeps 15 characters."""
    name = name or "keepalived"
    if _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0) != 0:
        log.info("Failed to set process name '%s'", name)


def process_name() -> str:
    buf = ctypes.create_string_buffer(16)
    _libc.prctl(PR_GET_NAME, buf, 0, 0, 0)
    return buf.value.decode(errors="replace")


def set_priorities(role: str, rt_priority: int, rlimit_rttime: int, priority: int, no_swap: bool) -> None:
    """keepalived set_process_priorities() for one child."""
    if rt_priority:
        try:
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(rt_priority))
        except OSError:
            log.warning("child process: cannot raise priority")
        else:
            if rlimit_rttime:
                name = PROG.get(role, "Unknown")
                signal.signal(signal.SIGXCPU, lambda *_: log.info(
                    "%s process has used too much CPU time, %s_rlimit_rttime may need to be increased",
                    name, role))
                try:
                    resource.setrlimit(resource.RLIMIT_RTTIME, (rlimit_rttime // 2, rlimit_rttime))
                except (OSError, ValueError):
                    log.warning("child process cannot set realtime rlimit")
    elif priority:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, priority)
        except OSError as exc:
            log.info("Unable to set process priority to %d - %s", priority, exc.strerror)
        else:
            if priority < 0:
                # keepalived resets its scripts to the original nice value after fork(); with
                # SCHED_RESET_ON_FORK the kernel does it for a negative nice value
                try:
                    os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
                except OSError:
                    pass
    if no_swap and _libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
        log.info("Unable to lock process in memory - %s", _err())


def set_cpu_affinity(role: str, cpus: list[int]) -> None:
    """keepalived set_process_cpu_affinity(): nothing for an empty set."""
    if not cpus:
        return
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:
        log.warning("unable to set cpu affinity to %s process (%s)", role, exc.strerror)


def enter_net_namespace(name: str, mount_run: bool = True) -> bool:
    """keepalived set_namespaces(): join /run/netns/NAME (this thread; call it before any other
    thread exists), then give /run/keepalived its per-namespace directory (set_run_mount)."""
    path = NETNS_DIR + name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        log.info("Failed to open %s", path)
        return False
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            log.info("setns() failed with error %d", ctypes.get_errno())
            return False
    finally:
        os.close(fd)
    if mount_run:
        _set_run_mount(name)
    return True


def _set_run_mount(name: str) -> None:
    mount_dir = os.path.join(PID_DIR, name)
    old = os.umask(0o022)
    try:
        os.makedirs(PID_DIR, mode=0o755, exist_ok=True)
        os.mkdir(mount_dir, 0o755)
    except FileExistsError:
        pass
    except OSError:
        log.info("Unable to create directory %s", mount_dir)
        return
    finally:
        os.umask(old)
    if _libc.unshare(CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        log.info("mount unshare failed (%d) '%s'", e, os.strerror(e))
        return
    if _libc.mount(b"", b"/", None, MS_REC | MS_SLAVE, None) != 0:
        e = ctypes.get_errno()
        log.info("Mount slave failed, error (%d) '%s'", e, os.strerror(e))
    if _libc.mount(mount_dir.encode(), PID_DIR.encode(), None, MS_BIND, None) != 0:
        e = ctypes.get_errno()
        log.info("Mount failed, error (%d) '%s'", e, os.strerror(e))


def join_thread_net_namespace(name: str) -> None:
    """Move the calling thread (only) into namespace NAME; "" is the initial namespace (pid 1's).
    For `net_namespace_ipvs`: the IPVS worker thread joins it before it opens its socket."""
    target = NETNS_DIR + name if name else "/proc/1/ns/net"
    fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e or errno.EINVAL, f"setns({target}): {os.strerror(e)}")
    finally:
        os.close(fd)
