# Theory of operation
# -------------------
# Two processes that log to one file interleave their lines by scheduling: keepalived's parent logs
# "Startup complete" when the last child has told it (eventfd) that it read its configuration, and the
# VRRP child goes on logging meanwhile, so in a plain run the parent's line lands anywhere after the
# child's notification point. To see that point, a test must hold the child still at a known line.
#
# `python -m pykeepalived.lab.gate --stop-at REGEX --report FILE -- COMMAND...` runs COMMAND (keepalived
# or pykeepalived, unchanged) under ptrace(2), the way a debugger would: the command itself runs free
# (PTRACE_CONT, stopping only to report forks), each process it forks directly (its children) is
# followed syscall by syscall (PTRACE_SYSCALL, PTRACE_GET_SYSCALL_INFO), and the first write(2) whose
# bytes match REGEX is held at its entry: the line is not written and that process does not run on
# (other processes do, and threads the child started itself, which are not traced). The gate then
# writes "held PID LINE" to FILE. On SIGUSR1 the held write goes ahead and every traced process runs
# free from then on. SIGTERM/SIGINT/SIGHUP are passed on to COMMAND; the gate exits with COMMAND's
# status; if the gate dies, PTRACE_O_EXITKILL kills every process it traced.
#
# No library wraps ptrace's fork following and syscall-info requests (python-ptrace does not know
# PTRACE_GET_SYSCALL_INFO), hence the few ctypes calls here. Linux >= 5.3, any architecture.
"""Hold a daemon's child process at the write of a given log line (a test instrument, see header)."""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import signal
import sys

PTRACE_TRACEME, PTRACE_CONT, PTRACE_SYSCALL = 0, 7, 24
PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG, PTRACE_GET_SYSCALL_INFO = 0x4200, 0x4201, 0x420E
O_TRACESYSGOOD, O_TRACEFORK, O_TRACEEXEC, O_EXITKILL = 0x1, 0x2, 0x10, 0x100000
EVENT_FORK = 1
SYSCALL_INFO_ENTRY = 1
WALL = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


class _SyscallInfo(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 3), ("arch", ctypes.c_uint32),
                ("ip", ctypes.c_uint64), ("sp", ctypes.c_uint64),
                ("nr", ctypes.c_uint64), ("args", ctypes.c_uint64 * 6), ("rest", ctypes.c_uint64)]


def _ptrace(req: int, pid: int, addr: int = 0, data: int | ctypes.c_void_p | None = 0) -> int:
    res = _libc.ptrace(req, pid, ctypes.c_void_p(addr), data)
    if res == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(res)


def _write_nr() -> int:
    """write(2)'s number on this machine's architecture."""
    return {"x86_64": 1, "aarch64": 64, "riscv64": 64, "ppc64le": 4, "s390x": 4}[os.uname().machine]


class Gate:
    def __init__(self, pattern: re.Pattern[bytes], report: str) -> None:
        self.pattern = pattern
        self.report = report
        self.top = 0
        self.followed: set[int] = set()  # the command's direct children: traced syscall by syscall
        self.held: int | None = None
        self.open = False  # released: everything runs free
        self.write_nr = _write_nr()
        self.known: set[int] = set()  # the command and every process forked under it
        self.fresh: set[int] = set()  # forked, its first SIGSTOP still to come
        self.waiting: set[int] = set()  # stopped at its first SIGSTOP before its parent's fork event

    def resume(self, pid: int, sig: int = 0) -> None:
        req = PTRACE_SYSCALL if pid in self.followed and not self.open else PTRACE_CONT
        try:
            _ptrace(req, pid, 0, sig)
        except ProcessLookupError:
            pass

    def release(self, *_: object) -> None:
        self.open = True
        if self.held is not None:
            pid, self.held = self.held, None
            self.resume(pid)

    def on_syscall(self, pid: int) -> None:
        info = _SyscallInfo()
        _ptrace(PTRACE_GET_SYSCALL_INFO, pid, ctypes.sizeof(info),
                ctypes.cast(ctypes.byref(info), ctypes.c_void_p))
        if (self.held is None and not self.open and info.op == SYSCALL_INFO_ENTRY
                and info.nr == self.write_nr):
            try:
                with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
                    data = os.pread(mem.fileno(), min(int(info.args[2]), 4096), int(info.args[1]))
            except OSError:
                data = b""
            if self.pattern.search(data):
                self.held = pid
                with open(self.report, "a") as out:
                    out.write(f"held {pid} {data.decode(errors='replace').strip()}\n")
                return
        self.resume(pid)

    def run(self, argv: list[str]) -> int:
        pid = os.fork()
        if pid == 0:
            _ptrace(PTRACE_TRACEME, 0)
            os.kill(os.getpid(), signal.SIGSTOP)
            os.execvp(argv[0], argv)
        self.top = pid
        for passed in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(passed, lambda s, _f: os.kill(self.top, s))
        signal.signal(signal.SIGUSR1, self.release)
        os.waitpid(pid, WALL)  # its own SIGSTOP
        _ptrace(PTRACE_SETOPTIONS, pid, 0, O_TRACESYSGOOD | O_TRACEFORK | O_TRACEEXEC | O_EXITKILL)
        self.resume(pid)
        self.known = {pid}
        while True:
            wpid, status = os.waitpid(-1, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self.followed.discard(wpid)
                if wpid == self.held:
                    self.held = None
                if wpid == self.top:
                    code = os.waitstatus_to_exitcode(status)
                    return code if code >= 0 else 128 - code
                continue
            try:
                self._stopped(wpid, status)
            except ProcessLookupError:  # killed meanwhile (SIGKILL): its exit comes next
                continue

    def _stopped(self, pid: int, status: int) -> None:
        """One ptrace-stop: a syscall entry or exit, a fork, a new tracee's first stop or a signal."""
        sig, event = os.WSTOPSIG(status), status >> 16
        if sig == signal.SIGTRAP | 0x80:
            self.on_syscall(pid)
        elif event == EVENT_FORK:
            msg = ctypes.c_ulong()
            _ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.cast(ctypes.byref(msg), ctypes.c_void_p))
            child = msg.value
            self.known.add(child)
            if pid == self.top:
                self.followed.add(child)
            if child in self.waiting:
                self.waiting.discard(child)
                self.resume(child)
            else:
                self.fresh.add(child)
            self.resume(pid)
        elif event:
            self.resume(pid)
        elif pid not in self.known:
            self.waiting.add(pid)  # resumed at its parent's fork event
        elif pid in self.fresh and sig == signal.SIGSTOP:
            self.fresh.discard(pid)
            self.resume(pid)
        else:
            self.resume(pid, sig)


def main(args: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pykeepalived.lab.gate", description=__doc__)
    p.add_argument("--stop-at", required=True, help="regular expression of the log line to hold")
    p.add_argument("--report", required=True, help="file the gate appends 'held PID LINE' to")
    p.add_argument("command", nargs=argparse.REMAINDER)
    ns = p.parse_args(args)
    argv = ns.command[1:] if ns.command[:1] == ["--"] else ns.command
    return Gate(re.compile(ns.stop_at.encode()), ns.report).run(argv)


if __name__ == "__main__":
    sys.exit(main())
