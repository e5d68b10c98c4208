"""The process-level settings of keepalived.conf, as the parent and its children use them.

# Theory of operation
The parent never loads the config layer (daemon/forkread.py), so these settings are computed from
the model in a short-lived fork (`parent_setup` at start, `read_proc_conf` at a reload) and travel
as one line of JSON: back to the parent on the fork's pipe, and on to each child in the environment
(`PYKEEPALIVED_PROC`), which the child reads before it does anything else (linux/sched.py
apply_child). keepalived.md §1.1, §1.2.1, §1.2.7, §3.3-3.5; keepalived 2.2.7 main.c,
global_parser.c, lib/process.c.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from pykeepalived.daemon.forkread import in_fork

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pykeepalived.config.diag import Diagnostic
    from pykeepalived.config.model import Model
    from pykeepalived.options import Options

ENV = "PYKEEPALIVED_PROC"
DEFAULT_UMASK = 0o177  # lib/utils.c umask_val: IXUSR|IRWXG|IRWXO
CHILD_WAIT_TIME = 5
SCRIPT_TIMEOUT = 10
# keepalived's RT_RLIMIT_DEFAULT is 10000 µs of CPU without blocking: a Python child needs far more
# (loading the configuration alone takes ~100 ms), and the hard limit is SIGKILL, so the default
# here is 1 s; an explicit *_rlimit_rttime is applied as given (docs/operations.md).
KEEPALIVED_RLIMIT_RTTIME = 10000
RLIMIT_RTTIME_DEFAULT = 1_000_000
PROCESS_NAMES = {"vrrp": "keepalived_vrrp", "checker": "keepalived_lvs", "bfd": "keepalived_bfd"}


@dataclass
class ChildSched:
    """keepalived's set_process_priorities / set_process_cpu_affinity arguments for one child."""

    priority: int = 0  # nice; only applied without a realtime priority
    no_swap: bool = False
    rt_priority: int = 0  # SCHED_RR priority, 0: none
    rlimit_rttime: int = RLIMIT_RTTIME_DEFAULT
    cpus: list[int] = field(default_factory=list)


@dataclass
class StartStop:
    """A resolved startup/shutdown script: the argv to exec (`/bin/sh -c ...` when keepalived would use
    the shell, track/command.py ScriptCommand), the script's name for the log, user and group."""

    argv: list[str]
    name: str
    uid: int | None
    gid: int | None
    timeout: int = SCRIPT_TIMEOUT


@dataclass
class ProcConf:
    process_name: str | None = None  # the parent's
    names: dict[str, str] = field(default_factory=dict)  # role -> comm
    sched: dict[str, ChildSched] = field(default_factory=dict)
    umask: int = DEFAULT_UMASK
    startup: StartStop | None = None
    shutdown: StartStop | None = None
    child_wait_time: int = CHILD_WAIT_TIME
    use_pid_dir: bool = False
    instance: str | None = None
    net_namespace: str | None = None
    net_namespace_ipvs: str | None = None  # "" = the initial namespace
    reload_check_config: str | None = None
    disable_local_igmp: bool = False  # refused change at a reload
    nftables: str | None = None  # global_defs `nftables` (the VRRP child's table): refused change at a reload
    auto_priority_notice: bool = True  # max_auto_priority unset or 0: the parent's NOTICE line
    parent_comm: str = ""  # filled by the parent: a child without its own name takes it, as after fork()

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ProcConf:
        d = json.loads(text)
        d["sched"] = {k: ChildSched(**v) for k, v in d.get("sched", {}).items()}
        for k in ("startup", "shutdown"):
            if d.get(k) is not None:
                d[k] = StartStop(**d[k])
        return cls(**d)

    @classmethod
    def from_env(cls) -> ProcConf | None:
        text = os.environ.get(ENV)
        if not text:
            return None
        try:
            return cls.from_json(text)
        except (ValueError, TypeError):
            return None

    def suffix(self) -> str:
        """`_NS` and/or `_INSTANCE`: appended to syslog idents and log file names (make_syslog_ident)."""
        return "".join(f"_{x}" for x in (self.net_namespace, self.instance) if x)

    def child_name(self, role: str) -> str | None:
        return self.names.get(role) or self.process_name or self.parent_comm or None


def from_model(model: Model, opts: Options | None = None) -> ProcConf:
    """The settings of a loaded configuration (config layer imported by the caller)."""
    g = model.global_defs.process  # typed by the configuration (config/bag_fields.py)
    root = model.root
    pc = ProcConf()
    if g.process_names:
        pc.names = dict(PROCESS_NAMES)
    for role, name in (("vrrp", g.vrrp_process_name), ("checker", g.checker_process_name),
                       ("bfd", g.bfd_process_name)):
        if name is not None:
            pc.names[role] = name
    if g.process_name is not None:
        pc.process_name = g.process_name
    for role, d in (("vrrp", g.vrrp_sched), ("checker", g.checker_sched), ("bfd", g.bfd_sched)):
        s = ChildSched()
        if d.priority is not None:
            s.priority = d.priority
        s.no_swap = d.no_swap
        if d.rt_priority is not None:
            s.rt_priority = d.rt_priority
        if d.rlimit_rttime is not None:
            s.rlimit_rttime = d.rlimit_rttime
        if d.cpu_affinity is not None:
            s.cpus = list(d.cpu_affinity)
        if s != ChildSched():
            pc.sched[role] = s
    if g.umask is not None and (opts is None or opts.umask is None):
        pc.umask = g.umask
    elif opts is not None and opts.umask is not None:
        pc.umask = opts.umask
    for which, script, t in (("startup", g.startup_script, g.startup_script_timeout),
                             ("shutdown", g.shutdown_script, g.shutdown_script_timeout)):
        if script:
            cmd = _resolve(model, script)
            if cmd is not None:
                cmd.timeout = t if t is not None else SCRIPT_TIMEOUT
                setattr(pc, which, cmd)
    if root.child_wait_time is not None:
        pc.child_wait_time = root.child_wait_time
    if root.instance is not None:
        pc.instance = root.instance
    if root.net_namespace is not None:
        pc.net_namespace = root.net_namespace
    if opts is not None and opts.namespace:
        if pc.net_namespace:
            import logging

            logging.getLogger("pykeepalived").info(
                "Overriding config net_namespace '%s' with command line namespace '%s'", pc.net_namespace,
                opts.namespace)
        pc.net_namespace = opts.namespace  # -s overrides the configuration
    if root.net_namespace_ipvs is not None:
        pc.net_namespace_ipvs = root.net_namespace_ipvs[0] if root.net_namespace_ipvs else ""
    pc.use_pid_dir = root.use_pid_dir or bool(pc.instance or pc.net_namespace)
    pc.auto_priority_notice = not model.global_defs.max_auto_priority
    pc.disable_local_igmp = model.global_defs.disable_local_igmp
    pc.nftables = model.global_defs.nftables or None
    rcc = g.reload_check_config
    if rcc is not None:
        pc.reload_check_config = rcc[0] if rcc else "/dev/null"
    return pc


def _resolve(model: Model, script: tuple[object, ...]) -> StartStop | None:
    from pykeepalived.config.command_words import cmd_str
    from pykeepalived.daemon.trackers import ScriptResolver

    cmd = ScriptResolver(model).notify_command(script)  # type: ignore[arg-type]
    if cmd is None:
        return None
    argv = ["/bin/sh", "-c", cmd_str(cmd.argv)] if cmd.use_shell else list(cmd.argv)
    return StartStop(argv, cmd.argv[0], cmd.uid, cmd.gid)


def start_stop_violation(model: Model, which: tuple[str, ...]) -> None:
    """keepalived main()/reload_config: the parent's "SECURITY VIOLATION - start/shutdown scripts ..."
    line after checking `which` scripts (their own lines were logged by from_model)."""
    import logging

    from pykeepalived.daemon.trackers import ScriptResolver

    g = model.global_defs.process
    given = {"startup": g.startup_script, "shutdown": g.shutdown_script}
    scripts = [s for s in (given[w] for w in which) if s]
    line = ScriptResolver(model, report=lambda _msg: None).violation("start/shutdown ", *scripts)
    if line is not None:
        logging.getLogger("pykeepalived").error("%s", line)


def log_config_read(opts: Options) -> None:
    """keepalived's parent lines as it reads the file, at start and at each reload (the children read
    its copy and log none): `Configuration file PATH`, and with -D `Opening file '...'.` for the
    main file before it and for each included file after it."""
    import logging

    from pykeepalived.config.load import config_files
    from pykeepalived.logs import DETAIL

    log = logging.getLogger("pykeepalived")
    files = config_files(opts.conf_file, opts.config_id, opts.all_config) if log.isEnabledFor(DETAIL) else []
    for f in files[:1]:
        log.log(DETAIL, "Opening file '%s'.", f)
    log.info("Configuration file %s", opts.conf_file)
    for f in files[1:]:
        log.log(DETAIL, "Opening file '%s'.", f)


def read_proc_conf(opts: Options) -> ProcConf:  # a reload
    """The settings, computed in a fork (the parent holds no parsed model: daemon/forkread.py)."""

    def compute() -> str:
        from pykeepalived.config import load_config

        log_config_read(opts)

        model, _ = load_config(opts.conf_file, opts.config_id, opts.all_config)
        pc = from_model(model, opts)
        start_stop_violation(model, ("shutdown",))  # keepalived reload_config: the startup one won't run
        return pc.to_json()

    return ProcConf.from_json(in_fork(compute))


def parent_setup(opts: Options, files: Callable[[Model, Sequence[Diagnostic]], str],
                 ) -> tuple[list[str], ProcConf, str]:
    """The children to start, the process settings and `files(model, diagnostics)` (the parent's own
    settings, encoded by daemon/parent/parent_files.py), from the parent's one read of the
    configuration at start (in a fork), as keepalived's parent reads its file once."""

    def compute() -> str:
        from pykeepalived.config import load_config
        from pykeepalived.daemon.roles import roles_for

        log_config_read(opts)
        model, diags = load_config(opts.conf_file, opts.config_id, opts.all_config)
        pc = from_model(model, opts)
        start_stop_violation(model, ("startup", "shutdown"))
        return json.dumps([roles_for(model, opts, diags), pc.to_json(), files(model, diags)])

    roles, pc, read = json.loads(in_fork(compute))
    return list(roles), ProcConf.from_json(pc), read


def apply_child(role: str) -> None:
    """First thing in a child: keepalived's umask, process name, scheduling and CPU affinity, from
    the parent's settings in the environment (the one call each child makes)."""
    from pykeepalived.linux import sched

    pc = ProcConf.from_env()
    if pc is None:
        return
    os.umask(pc.umask)
    sched.set_process_name(pc.child_name(role))
    s = pc.sched.get(role)
    if s is not None:
        sched.set_priorities(role, s.rt_priority, s.rlimit_rttime, s.priority, s.no_swap)
        sched.set_cpu_affinity(role, s.cpus)


def ipvs_namespace() -> str | None:
    """`net_namespace_ipvs` of the running daemon: None for none, "" for the initial namespace."""
    pc = ProcConf.from_env()
    return pc.net_namespace_ipvs if pc is not None else None
