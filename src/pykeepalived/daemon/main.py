"""`pykeepalived` without -t: the parent watchdog, or one of its children (`--child=ROLE`)."""

from __future__ import annotations

import logging
import os
import platform
import sys

from pykeepalived import BANNER
from pykeepalived.daemon.log import ident, setup_logging
from pykeepalived.daemon.parent.forkchild import import_common
from pykeepalived.daemon.parent.parent_files import parent_conf
from pykeepalived.daemon.procconf import ENV, ProcConf, parent_setup
from pykeepalived.options import Options

EXIT_NO_CONFIG = 6


def run(opts: Options) -> int:
    opts.conf_file = os.path.abspath(opts.conf_file)
    if opts.child == "vrrp":
        from pykeepalived.daemon.vrrp.vrrp_child import run_vrrp_child

        return run_vrrp_child(opts)
    if opts.child == "checker":
        from pykeepalived.daemon.checker.checker_child import run_checker_child

        return run_checker_child(opts)
    if opts.child == "bfd":
        from pykeepalived.daemon.bfd.bfd_child import run_bfd_child

        return run_bfd_child(opts)
    log = setup_logging(opts, "parent")
    if not os.path.exists(opts.conf_file):
        log.error("Configuration file '%s' does not exist", opts.conf_file)
        return EXIT_NO_CONFIG
    u = platform.uname()
    log.info("Starting %s", BANNER)
    log.info("Running on %s %s %s", u.system, u.release, u.version)
    log.info("Command line: %s", " ".join(["pykeepalived", *sys.argv[1:]]))
    import_common()  # what the configuration reads below import (daemon/parent/forkchild.py)
    roles, pc, files = parent_setup(opts, lambda model, diags: parent_conf(model, diags).encode())
    if pc.auto_priority_notice:  # keepalived main.c, after reading the configuration
        log.info("NOTICE: setting config option max_auto_priority should result in better "
                 "keepalived performance")
    if not prepare_parent(opts, pc):
        return 0  # keepalived: `Unable to set network namespace ... - exiting`, exit status 0
    log = setup_logging(opts, "parent")
    if not roles:
        log.info("Warning - keepalived has no configuration to run")
    if not opts.dont_fork:
        from pykeepalived.daemon.parent.watchdog import daemonize

        daemonize()
        log = setup_logging(opts, "parent")
    from pykeepalived.daemon.parent.forkchild import preload
    from pykeepalived.daemon.parent.watchdog import run_parent

    preload(roles)
    argv = [a for a in sys.argv[1:] if not a.startswith("--child")]
    return run_parent(opts, argv, roles, run, pc, files)


def prepare_parent(opts: Options, pc: ProcConf) -> bool:
    """keepalived main() after reading the configuration: umask, process name, syslog ident and pid
    directory for a namespace or instance, then the network namespace (before any other thread)."""
    from pykeepalived.daemon.pidfile import create_pid_dir
    from pykeepalived.linux import sched

    os.umask(pc.umask)
    if pc.process_name:
        sched.set_process_name(pc.process_name)
    pc.parent_comm = sched.process_name()
    os.environ[ENV] = pc.to_json()  # for our own logging and pid files, and inherited by the children
    log = logging.getLogger("pykeepalived")
    if pc.suffix():
        log.info("Changing syslog ident to %s", ident("parent"))
        setup_logging(opts, "parent")
    if pc.use_pid_dir:
        create_pid_dir()
    if pc.net_namespace and not sched.enter_net_namespace(pc.net_namespace):
        log.error("Unable to set network namespace %s - exiting", pc.net_namespace)
        return False
    return True
