"""The parent process: keepalived's small watchdog (keepalived.md §3.5).

It daemonises (unless -n), writes its pid file, starts the checker child (when the configuration has
virtual servers), the VRRP child and the BFD child (when it has bfd_instance blocks and -B is not given),
in keepalived's order, forwards signals, respawns a child that dies (with keepalived's rate
limit: immediately after 60 s of life, otherwise 0, 1, 2, 4 ... 60 s) and stops everything on SIGTERM.

Children are forked without exec, as keepalived's are (daemon/parent/forkchild.py): the parent imported what
they run before the first one and froze its heap, so they share its pages copy-on-write and a respawn
is a fork, not a Python start; each runs what `python -m pykeepalived --child=ROLE <the parent's
arguments>` runs, with the parent-death signal set, and re-reads the configuration itself, as
keepalived's children do. The parent holds no parsed configuration (daemon/forkread.py).

The BFD event pipes (BFD -> VRRP, BFD -> checker, daemon/bfd_events.py) are made before any child starts
and stay open in the parent for its whole life, so a respawned child finds its pipe. When the VRRP or
checker child is respawned while the BFD child runs, the BFD child is asked (SIGHUP) to send the state of
every session again, so the new reader does not wait for the next change to learn it.

The process-level settings (daemon/procconf.py ProcConf: startup/shutdown scripts, child_wait_time,
reload_check_config, namespace and instance) and the parent's own files' settings were read in one
fork by daemon/main.py; the parent runs
`startup_script` before the first child and `shutdown_script` after the last one stopped
(daemon/parent/startstop.py). At a SIGHUP it first has the new file checked by `pykeepalived
--config-test=FILE` when `reload_check_config` is set, then refuses a reload that changes the network
namespace, the IPVS namespace, the instance name or the nftables table (keepalived validate_config).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from pykeepalived import BANNER, __version__
from pykeepalived.control import sdnotify
from pykeepalived.daemon.bfd_events import BfdPipes
from pykeepalived.daemon.log import DETAIL, log, log_cpu_usage
from pykeepalived.daemon.parent.forkchild import ChildEntry, ForkedChild, fork_child
from pykeepalived.daemon.parent.parent_files import ParentConf, ParentFiles
from pykeepalived.daemon.parent.startstop import run_start_stop
from pykeepalived.daemon.pidfile import default_path, remove_pid_dir, run_with_pid_file
from pykeepalived.daemon.procconf import ENV, ProcConf, read_proc_conf
from pykeepalived.options import CHILD_SIGNALS, SIGFUNCS, Options

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CONFIG_CHECK_TIMEOUT = 5.0  # keepalived start_validate_reload_conf_child
PROG_NAMES = {"vrrp": "VRRP", "checker": "Healthcheck", "bfd": "BFD"}
START_ORDER = ("checker", "vrrp", "bfd")  # keepalived start_keepalived()
PERMANENT = {1: "FATAL", 2: "CONFIG", 4: "missing permission"}
SIG_JSON = SIGFUNCS["JSON"]
SIG_STATS_CLEAR = SIGFUNCS["STATS_CLEAR"]
HANDLED: set[int] = {
    signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2,
    SIG_JSON, SIG_STATS_CLEAR,
}

_libc = ctypes.CDLL(None, use_errno=True)


def _child_preexec(blocked: tuple[int, ...] = CHILD_SIGNALS) -> None:
    # a child starts with the signals it handles blocked: one that arrives while Python starts (a
    # SIGUSR2 for the stats, a SIGTERM) stays pending until the child takes it (serve.hold_signals),
    # instead of killing the child by its default action; the config test blocks none
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Child:
    role: str
    proc: ForkedChild | None = None
    started: float = 0.0
    restarts: int = 0
    respawn_at: float | None = None
    pidfile: str = ""


@dataclass
class Parent:
    opts: Options
    argv: list[str]
    roles: list[str]
    entry: ChildEntry  # what a forked child runs (daemon/main.py run): given, not imported from above
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False
    ready: sdnotify.ReadyPipe | None = None  # under systemd (Type=notify): children report readiness
    ready_sent: bool = False
    ready_roles: set[str] = field(default_factory=set)
    reloading: set[str] = field(default_factory=set)  # children still reloading (Reload complete)
    bfd_pipes: BfdPipes | None = None  # made before the first child when there is a BFD child
    pc: ProcConf = field(default_factory=ProcConf)
    files: ParentFiles | None = None
    read: str | None = None  # the parent's settings from its read at start (ParentConf, encoded)

    def reload_allowed(self) -> bool:
        """keepalived reload_config: some settings cannot change at a reload (the rest is the
        children's business); then the children are not signalled."""
        if self.pc.reload_check_config and not self.config_check_passes(self.pc.reload_check_config):
            return False
        try:
            new = read_proc_conf(self.opts)
        except Exception:  # the children report a broken file themselves
            new = self.pc
        ok = True
        for attr, what in (("net_namespace", "network namespace"),
                           ("net_namespace_ipvs", "IPVS network namespace"), ("instance", "instance name"),
                           ("disable_local_igmp", "disable_local_igmp")):
            if getattr(new, attr) != getattr(self.pc, attr):
                log.info("Cannot change %s at a reload - please restart keepalived", what)
                ok = False
        if "vrrp" in self.roles and new.nftables != self.pc.nftables:  # read with the rest, one fork
            log.info("Cannot change nftables table name at a reload - please restart keepalived")
            ok = False
        if ok:
            self.adopt(new)
        return ok

    def adopt(self, new: ProcConf) -> None:
        """The reloaded settings: the parent's name, scripts, waits, and what the next children inherit."""
        from pykeepalived.linux.sched import set_process_name

        if new.process_name != self.pc.process_name:
            set_process_name(new.process_name)
        new.parent_comm = self.pc.parent_comm if new.process_name is None else new.process_name
        self.pc = new
        os.environ[ENV] = new.to_json()

    def config_check_passes(self, logfile: str) -> bool:
        """keepalived start_validate_reload_conf_child: `--config-test=LOGFILE` with our arguments."""
        if log.isEnabledFor(DETAIL):
            log.info("validate conf before Reload")
        try:
            os.truncate(logfile, 0)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.info("truncate of config check log %s failed (%d) - %s", logfile, exc.errno, exc.strerror)
        cmd = [sys.executable, "-m", "pykeepalived", *self.argv, f"--config-test={logfile}"]
        try:
            proc = subprocess.Popen(cmd, preexec_fn=functools.partial(_child_preexec, ()), close_fds=True,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except OSError:
            log.info("Could not run config-test")
            return False
        try:
            rc = proc.wait(CONFIG_CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.info("config check timed out")
            proc.kill()
            proc.wait()
            return False
        if rc != 0:
            if rc > 0:
                log.info("New config failed validation, see %s for details", logfile)
            return False
        return True

    def start_child(self, ch: Child) -> None:
        extra: dict[str, str] = {}
        fds: tuple[int, ...] = ()
        if self.ready is not None:
            extra, fds = self.ready.child_env(), (self.ready.wfd,)
        if self.bfd_pipes is not None:
            bfd_env, bfd_fds = self.bfd_pipes.child_env(ch.role)
            extra, fds = {**extra, **bfd_env}, fds + bfd_fds
        respawn = ch.proc is None and ch.started > 0
        ch.proc = fork_child(ch.role, self.argv, extra, fds, _child_preexec, self.entry)
        ch.started = time.monotonic()
        ch.respawn_at = None
        log.info("Starting %s child process, pid=%d", PROG_NAMES[ch.role], ch.proc.pid)
        if respawn and ch.role in ("vrrp", "checker"):
            self.forward(signal.SIGHUP, ("bfd",))  # the BFD child resends every session's state

    def forward(self, sig: int, roles: tuple[str, ...] = ("vrrp", "checker", "bfd")) -> None:
        for ch in self.children.values():
            if ch.role in roles and ch.proc is not None and ch.proc.poll() is None:
                ch.proc.send_signal(sig)

    def reap(self) -> int | None:
        """Collect dead children; return an exit code if the parent must stop."""
        for ch in self.children.values():
            if ch.proc is None:
                continue
            rc = ch.proc.poll()
            if rc is None:
                continue
            pid, name = ch.proc.pid, PROG_NAMES[ch.role]
            ch.proc = None
            if self.stopping:
                continue
            # keepalived's report_child_status (lib/scheduler.c): the parent names the child by pid
            if rc < 0:
                sig = -rc
                log.info("pid %d exited due to signal %d (%s)%s", pid, sig, signal.strsignal(sig) or sig,
                         " - has rlimit_rttime been exceeded?" if sig == signal.SIGKILL else "")
            elif rc in PERMANENT:
                log.info("pid %d exited with permanent error %s. Terminating", pid, PERMANENT[rc])
                return rc
            elif rc:
                log.info("pid %d exited with status %d", pid, rc)
            if self.opts.dont_respawn:
                log.critical("%s child process(%d) died: Exiting", name, pid)
                return 0
            log.critical("%s child process(%d) died: Respawning", name, pid)
            for line in ("Please log an issue at https://github.com/acassen/keepalived/issues/",
                         "and include a full copy of your keepalived configuration files, and",
                         "copies of the keepalived system log entries around the time this happened"):
                log.info("  %s", line)
            # calc_restart_delay: at once after a minute's run, else 0, 1, 2, 4 ... 32, 60 seconds
            if time.monotonic() - ch.started >= 60:
                ch.restarts = 0
                delay = 0
            else:
                delay = 0 if ch.restarts == 0 else min(60, 1 << (ch.restarts - 1))
                ch.restarts += 1
                log.info("Restart of %s process delayed %d seconds to limit respawn rate", name, delay)
            ch.respawn_at = time.monotonic() + delay
        return None

    def child_ready(self, line: str) -> None:
        """"Startup complete" once every child has read its configuration, "Reload complete" once
        every child has reloaded (keepalived's parent, config_notify.c); sd_notify READY=1 once the
        VRRP child serves ("vrrp serving"), or at once when there is no VRRP child."""
        role, _, stage = line.partition(" ")
        if stage == sdnotify.SERVING or "vrrp" not in self.roles:
            if not self.ready_sent:
                self.ready_sent = True
                self._notify_ready()
            if stage:
                return
        if role in self.ready_roles:  # a reload done (or a respawned child serving)
            if role in self.reloading:
                self.reloading.discard(role)
                if not self.reloading:
                    log.info("Reload complete")
                    self._notify_ready()  # keepalived systemd_notify_running
            return
        if role:
            self.ready_roles.add(role)
            if self.ready_roles >= set(self.roles):
                log.info("Startup complete")

    def _notify_ready(self) -> None:
        sdnotify.notify(f"READY=1\nSTATUS=pykeepalived {__version__}: {', '.join(self.roles)} running")

    def reap_orphans(self) -> None:
        """Reap adopted processes. As keepalived's parent, we are a child subreaper: a daemon started by a
        script (e.g. check_nginx.sh restarting nginx) is reparented to us when it forks away, and must not
        stay a zombie when it dies (`killall -0 nginx` would still find it). Our own children are left to
        reap() (peeked with WNOWAIT, never collected here)."""
        known = {ch.proc.pid for ch in self.children.values() if ch.proc is not None}
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in known:
                return  # nothing more, or one of ours that died since reap(): the next SIGCHLD
            try:
                os.waitpid(info.si_pid, os.WNOHANG)
            except ChildProcessError:
                return

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        # children report readiness on a pipe: "Startup complete", and READY=1 under systemd
        self.ready = sdnotify.ReadyPipe(self.child_ready)
        self.ready.start()
        if "vrrp" not in self.roles:
            self.child_ready("")
        self.files = files = ParentFiles(self.opts.conf_file, self.opts.config_id, self.opts.all_config,
                                         self.opts.namespace)
        # reload_time_file, reload_file, keepalived_parent.data (daemon/parent/parent_files.py)
        files.start(ParentConf.decode(self.read) if self.read is not None else None)
        if files.conf.config_file_error:  # a failed include_check: keepalived's KEEPALIVED_EXIT_NO_CONFIG
            log.info("Stopped %s", BANNER)
            return 6
        if "bfd" in self.roles:
            self.bfd_pipes = BfdPipes()
        if self.pc.startup is not None:
            run_start_stop(self.pc.startup, "startup")
        for role in sorted(self.roles, key=lambda r: START_ORDER.index(r) if r in START_ORDER else 99):
            self.children[role] = Child(role)
            self.start_child(self.children[role])
        rc = 0
        while True:
            due = [c.respawn_at for c in self.children.values() if c.respawn_at is not None]
            timeout = max(0.0, min(due) - time.monotonic()) if due else 1.0
            info = signal.sigtimedwait(HANDLED, files.timeout(timeout))
            files.tick()
            for ch in self.children.values():
                if ch.respawn_at is not None and ch.respawn_at <= time.monotonic() and not self.stopping:
                    self.start_child(ch)
            if info is None:
                continue
            sig = info.si_signo
            if sig == signal.SIGCHLD:
                stop = self.reap()
                self.reap_orphans()
                if stop is not None:
                    rc = stop
                    break
            elif sig in (signal.SIGTERM, signal.SIGINT):
                if sig == signal.SIGINT and self.opts.ignore_sigint:
                    continue
                break
            elif sig == signal.SIGHUP:
                log.info("Reloading ...")
                if files.reload_begin() and self.reload_allowed():
                    self.reloading = {c.role for c in self.children.values()
                                      if c.proc is not None and c.proc.poll() is None}
                    if self.reloading:
                        sdnotify.notify("RELOADING=1")  # READY=1 again at "Reload complete"
                    self.forward(sig)
                files.reload_end()
            elif sig == signal.SIGUSR1:
                files.dump()
                self.forward(sig)
            else:  # STATS, STATS_CLEAR, JSON: the VRRP child's business
                self.forward(sig, ("vrrp",))
        self.stop()
        return rc

    def stop(self) -> None:
        self.stopping = True
        log.info("Stopping")
        sdnotify.notify("STOPPING=1")
        self.forward(signal.SIGTERM)
        deadline = time.monotonic() + self.pc.child_wait_time
        for ch in self.children.values():
            if ch.proc is None:
                continue
            try:
                ch.proc.wait(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                log.error("%s process failed to die - forcing termination", ch.role)
                ch.proc.kill()
                ch.proc.wait()
        if self.bfd_pipes is not None:
            self.bfd_pipes.close()
        if self.pc.shutdown is not None:
            run_start_stop(self.pc.shutdown, "shutdown")
        log_cpu_usage()
        log.info("Stopped %s", BANNER)


def daemonize() -> None:
    """keepalived's xdaemon(): one fork, setsid, chdir /, std fds to /dev/null; the caller exits 0."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def run_parent(opts: Options, argv: list[str], roles: list[str], entry: ChildEntry,
               pc: ProcConf | None = None, read: str | None = None) -> int:

    def body() -> int:
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        return Parent(opts, argv, roles, entry, pc=pc or ProcConf(), read=read).run()

    try:
        return run_with_pid_file(opts.pid_file or default_path("parent"), body, f"Stopped {BANNER}")
    finally:
        if pc is not None and pc.use_pid_dir:
            remove_pid_dir()
