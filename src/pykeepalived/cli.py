"""The `pykeepalived` command: keepalived's command line in front of the daemon."""

from __future__ import annotations

import gc
import os
import platform
import sys

from pykeepalived import KEEPALIVED_COMPAT, __version__
from pykeepalived.options import SIGFUNCS, Options, UsageError, parse_args, program_name

USAGE = """\
Usage: {prog} [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=[0-7]     Set syslog facility to LOG_LOCAL[0-7]
  -g, --log-file=FILE          Also log to FILE (default /tmp/keepalived.log)
      --flush-log-file         Flush log file on write
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -e, --all-config             Error if any configuration file missing (same as includes)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
      --dump-conf-syntax       (pykeepalived) print the effective configuration in keepalived syntax
  -v, --version                Display the version number
  -h, --help                   Display this help message
"""


def version_text() -> str:
    u = platform.uname()
    return (
        f"pykeepalived v{__version__} (keepalived {KEEPALIVED_COMPAT} compatible)\n\n"
        f"Running on {u.system} {u.release} {u.version}\n"
        f"Python {platform.python_version()}\n"
    )


def _genhash(args: list[str], prog: str) -> int | None:
    """keepalived runs its genhash when called as `genhash` (Debian's /usr/bin/genhash is a link to
    keepalived) or given -T/--genhash; None when neither."""
    if os.path.basename(prog) == "genhash":
        from pykeepalived.check import genhash

        return genhash.main(args, prog=prog)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "-T" or (len(arg) > 3 and "--genhash".startswith(arg)):
            from pykeepalived.check import genhash

            if i:
                name = "-T" if arg == "-T" else "genhash"
                print(f"Warning -- `{name}` not used as first option, previous options ignored",
                      file=sys.stderr)
            return genhash.main(args[i + 1:], prog=prog, am_genhash=False)
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prog = program_name()
    rc = _genhash(args, prog)
    if rc is not None:
        return rc
    try:
        opts = parse_args(args)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 1
    if opts.unexpected:
        print(f"Unexpected argument(s): {' '.join(opts.unexpected)}", file=sys.stderr)
    if opts.help:
        sys.stderr.write(USAGE.format(prog=prog))
        return 0
    if opts.version:
        sys.stderr.write(version_text())
        return 0
    if opts.signum is not None:
        num = SIGFUNCS.get(opts.signum)
        if num is None:
            print(f"Unknown sigfunc {opts.signum}", file=sys.stderr)
            return 1
        print(num)
        return 0
    if opts.umask is not None:
        os.umask(opts.umask)
    return _run(opts)


def _run(opts: Options) -> int:
    if opts.config_test:
        from pykeepalived.configtest import config_test

        return config_test(opts)
    if opts.dump_conf_syntax:
        from pykeepalived.configtest import dump_conf_syntax

        return dump_conf_syntax(opts)
    # the collector stays off through the daemon's imports until the parent freezes its heap for
    # the children it forks (daemon/parent/forkchild.py preload)
    gc.disable()
    from pykeepalived.daemon.main import run

    return run(opts)
